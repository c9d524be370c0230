import { describe, expect, it } from 'vitest';
import { defaultHash } from '../shared/hash.js';
import { createDispatchHandler, createSegmentWorkerHandler } from '../shared/handlers.js';
import { SegmentRouter } from '../shared/layout.js';
import { silentLogger } from '../shared/logger.js';
import type { SegmentWorkerRequest } from '../shared/fan-out.js';
import { NonRetriableError } from '../shared/errors.js';
import { freshStores, lettersByKey } from './support/dead-letters.js';
import { freshDynamoStore } from './support/dynamodb.js';
import { eventOf, ScriptedHandler, testProcessor, topicLog } from './support/harness.js';
import { lambdaContext, LocalLambda } from './support/lambda.js';

describe('fan-out mode', () => {
  it('invokes the segment worker once per segment with only that segment’s records, all handled once in key order', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: 4 });
    const worker = createSegmentWorkerHandler(processor, { store, logger: silentLogger });
    const lambda = new LocalLambda({ worker: (event, context) => worker(event as SegmentWorkerRequest, context) });
    const dispatch = createDispatchHandler(processor, {
      store,
      mode: 'fan-out',
      workerFunctionName: 'worker',
      lambdaClient: lambda.asClient(),
      logger: silentLogger,
    });
    const log = topicLog({ partitions: 2, count: 40, keys: 12 });

    const response = await dispatch(eventOf(log), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(handler.successes().sort()).toEqual(log.map((r) => `orders-${r.partition}@${r.offset}`).sort());
    const layout = await store.readLayout('orders-view');
    const router = new SegmentRouter(layout.segments);
    const requests = lambda.invocations.map((i) => i.payload as SegmentWorkerRequest);
    expect(requests).toHaveLength(4);
    for (const request of requests) {
      expect(request.claims.map((c) => `${c.topic}-${c.partition}`).sort()).toEqual(['orders-0', 'orders-1']);
      for (const entry of request.records) {
        const segment = router.segmentFor(defaultHash(entry.sequencingKey));
        expect({ id: segment.id, mask: segment.mask }).toEqual(request.segment);
      }
    }
    const perKey = new Map<string, number[]>();
    for (const call of handler.calls)
      perKey.set(`${call.topicPartition}/${call.key}`, [
        ...(perKey.get(`${call.topicPartition}/${call.key}`) ?? []),
        call.offset,
      ]);
    for (const offsets of perKey.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it('hands back the records of a worker that fails, and handles the rest', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: 2 });
    const worker = createSegmentWorkerHandler(processor, { store, logger: silentLogger });
    const lambda = new LocalLambda({
      worker: async (event, context) => {
        if ((event as SegmentWorkerRequest).segment.id === 0) throw new Error('worker crashed');
        return worker(event as SegmentWorkerRequest, context);
      },
    });
    const dispatch = createDispatchHandler(processor, {
      store,
      mode: 'fan-out',
      workerFunctionName: 'worker',
      lambdaClient: lambda.asClient(),
      logger: silentLogger,
    });
    const log = topicLog({ partitions: 1, count: 30, keys: 30 });
    const lost = log.filter((r) => (defaultHash(r.key!) & 1) === 0).map((r) => r.offset);

    const response = await dispatch(eventOf(log), lambdaContext());

    expect(lost.length).toBeGreaterThan(0);
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: Math.min(...lost) } }],
    });
    expect(handler.successes().sort()).toEqual(
      log
        .filter((r) => !lost.includes(r.offset))
        .map((r) => `orders-0@${r.offset}`)
        .sort(),
    );
  });
});

describe('fan-out mode with dead letters', () => {
  it('parks a record a worker failed with a non-retriable error at once, with its key, keeping the error', async () => {
    const { store, deadLetters } = await freshStores();
    const processor = testProcessor({
      initialSegments: 2,
      handler: (record) => {
        if (record.offset === 1) throw new NonRetriableError('rejected by the worker');
      },
    });
    const worker = createSegmentWorkerHandler(processor, { store, logger: silentLogger });
    const lambda = new LocalLambda({ worker: (event, context) => worker(event as SegmentWorkerRequest, context) });
    const dispatch = createDispatchHandler(processor, {
      store,
      mode: 'fan-out',
      workerFunctionName: 'worker',
      lambdaClient: lambda.asClient(),
      logger: silentLogger,
      metrics: false,
    });

    const response = await dispatch(
      eventOf(
        [0, 1, 2, 3].map((offset) => ({ topic: 'orders', partition: 0, offset, key: offset % 2 ? 'k' : `o${offset}` })),
      ),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/k', [1, 3]]]));
    const [entry] = await deadLetters.listParkedKeys('orders-view');
    const [letter] = await deadLetters.readLetters({ processor: 'orders-view', ...entry! });
    expect(letter).toMatchObject({ reason: 'non-retriable', attempts: 1 });
    expect(letter!.error).toMatchObject({ name: 'NonRetriableError', message: 'rejected by the worker' });
  });
});
