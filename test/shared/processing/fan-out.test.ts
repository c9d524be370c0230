import { describe, expect, it } from 'vitest';
import { defaultHash } from '../../../shared/routing/hash.js';
import { SegmentRouter } from '../../../shared/routing/layout.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import {
  runSegmentWorker,
  WORKER_RESPONSE_LIMIT_BYTES,
  withinResponseLimit,
  type SegmentWorkerRequest,
  type WorkerOutcome,
} from '../../../shared/processing/fan-out.js';
import { NonRetriableError } from '../../../shared/errors.js';
import { ManualClock } from '../../support/clock.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import { freshDynamoStore } from '../../support/dynamodb.js';
import { eventOf, ScriptedHandler, testProcessor, topicLog, type LogRecord } from '../../support/harness.js';
import { fanOutStack } from '../../support/fan-out.js';
import { lambdaContext, type LocalLambda } from '../../support/lambda.js';

describe('fan-out mode', () => {
  it('invokes the segment worker once per segment with only that segment’s records, all handled once in key order', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: 4 });
    const { lambda, dispatch } = fanOutStack({ processor, store });
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

  it('tells each handler the request id of the worker invocation that ran it, on a topic whose name has dashes', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), topics: ['orders-eu-1'], initialSegments: 4 });
    const { lambda, dispatch } = fanOutStack({ processor, store });
    const log = topicLog({ partitions: 2, count: 20, keys: 8, topic: 'orders-eu-1' });

    const response = await dispatch(eventOf(log), lambdaContext(60_000, 'dispatch-request'));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(handler.calls).toHaveLength(log.length);
    // LocalLambda gives its n-th invocation the request id worker-n.
    const workerOf = new Map<string, string>();
    lambda.invocations.forEach((invocation, i) => {
      for (const entry of (invocation.payload as SegmentWorkerRequest).records)
        workerOf.set(
          `${entry.record.topic}-${String(entry.record.partition)}@${String(entry.record.offset)}`,
          `worker-${i + 1}`,
        );
    });
    expect(lambda.invocations).toHaveLength(4);
    for (const call of handler.calls) {
      expect(call.topicPartition).toMatch(/^orders-eu-1-[01]$/);
      expect(call.context.requestId).toBe(workerOf.get(`${call.topicPartition}@${call.offset}`));
    }
    expect(new Set(handler.calls.map((c) => c.context.requestId)).size).toBe(4);
  });

  it('hands back the records of a worker that fails, and handles the rest', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: 2 });
    const { dispatch } = fanOutStack({
      processor,
      store,
      worker: async (request, real) => {
        if (request.segment.id === 0) throw new Error('worker crashed');
        return real(request);
      },
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
    const { dispatch } = fanOutStack({ processor, store });

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

describe('fan-out mode at Lambda limits', () => {
  const fanOut = async (options: { faults?: ConstructorParameters<typeof LocalLambda>[1]; segments?: number } = {}) => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: options.segments ?? 1 });
    const { lambda, dispatch } = fanOutStack({ processor, store, faults: options.faults });
    return { handler, lambda, dispatch };
  };

  it('cuts a segment whose records pass 6 MB into invocations of whole keys, and runs a key too large inline', async () => {
    const { handler, lambda, dispatch } = await fanOut();
    // 60 keys of 100 KB records (as base64 in JSON, about 8 MB in all), and one key of 6 MB on its own.
    const records: LogRecord[] = Array.from({ length: 60 }, (_, offset) => ({
      topic: 'orders',
      partition: 0,
      offset,
      key: `k${offset}`,
      value: 'x'.repeat(100_000),
    }));
    for (let offset = 60; offset < 70; offset++) {
      records.push({ topic: 'orders', partition: 0, offset, key: 'hot', value: 'y'.repeat(450_000) });
    }

    const response = await dispatch(eventOf(records), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(lambda.refused).toEqual([]);
    expect(lambda.invocations.length).toBeGreaterThanOrEqual(2);
    const keysPerInvocation = lambda.invocations.map(
      (i) => new Set((i.payload as SegmentWorkerRequest).records.map((r) => r.sequencingKey)),
    );
    const seen = new Set<string>();
    for (const keys of keysPerInvocation) {
      for (const key of keys) {
        expect(seen.has(key), `key ${key} sent to two workers`).toBe(false);
        seen.add(key);
      }
    }
    expect(seen.has('hot')).toBe(false);
    expect(new Set(handler.successes()).size).toBe(70);
  });

  it('sends a throttled invocation again, but never one that may have reached its worker', async () => {
    const throttled = await fanOut({ faults: { throttle: 2 } });
    const reset = await fanOut({ faults: { resetAfterRun: 1 } });
    const log = topicLog({ partitions: 1, count: 5, keys: 5 });

    const afterThrottle = await throttled.dispatch(eventOf(log), lambdaContext());
    const afterReset = await reset.dispatch(eventOf(log), lambdaContext());

    expect(afterThrottle).toEqual({ batchItemFailures: [] });
    expect(throttled.lambda.refused.map((r) => r.name)).toEqual([
      'TooManyRequestsException',
      'TooManyRequestsException',
    ]);
    expect(throttled.handler.successes()).toHaveLength(5);
    // The worker handled the records, the answer was lost: they are reported back, and handled once so far.
    expect(afterReset).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: 0 } }] });
    expect(reset.lambda.invocations).toHaveLength(1);
    expect(reset.handler.successes()).toHaveLength(5);
  });

  it('keeps a worker answer of many failures with long errors under the response limit', () => {
    const long = 'e'.repeat(2_000);
    const outcomes: WorkerOutcome[] = Array.from({ length: 10_000 }, (_, offset) => ({
      topicPartition: 'orders-0',
      offset,
      status: 'failed',
      attempts: 3,
      error: { name: 'Error', message: `${offset}: ${long}`, stack: `Error: ${long}\n    at handler`, retriable: true },
    }));

    const bounded = withinResponseLimit(outcomes);

    expect(Buffer.byteLength(JSON.stringify({ outcomes: bounded }))).toBeLessThanOrEqual(WORKER_RESPONSE_LIMIT_BYTES);
    expect(bounded).toHaveLength(10_000);
    expect(bounded[7]).toMatchObject({ offset: 7, status: 'failed', error: { name: 'Error', retriable: true } });
    expect(bounded[7]!.error!.message.startsWith('7: eee')).toBe(true);
  });
});

describe('segment workers and their dispatcher', () => {
  it("stop starting records once a dead dispatcher's lease ends, without renewing it themselves", async () => {
    const clock = new ManualClock(Date.now());
    const store = await freshDynamoStore(clock.now);
    await store.initialise('orders-view', 1);
    const claim = await store.claim({
      processor: 'orders-view',
      topic: 'orders',
      partition: 0,
      owner: 'dispatcher-that-died',
      layoutVersion: 1,
      leaseMs: 10_000,
    });
    const handled: number[] = [];
    const processor = testProcessor({
      concurrency: 1,
      handler: (record) => {
        handled.push(record.offset);
        clock.advance(3_000);
      },
    });
    const request: SegmentWorkerRequest = {
      processor: 'orders-view',
      layoutVersion: 1,
      segment: { id: 0, mask: 0 },
      deadline: clock.now() + 60_000,
      claims: [claim],
      records: eventOf(topicLog({ partitions: 1, count: 6, keys: 1 })).records['orders-0']!.map((record) => ({
        record,
        sequencingKey: 'key-0',
        hash: 0,
      })),
    };

    const response = await runSegmentWorker(request, {
      processor,
      store,
      clock: clock.now,
      logger: silentLogger,
      leaseMs: 10_000,
      leaseSafetyMs: 1_000,
      checkpointReserveMs: 1_000,
      remainingMs: () => 60_000,
    });

    expect(handled).toEqual([0, 1, 2]);
    expect(response.outcomes.map((o) => o.status)).toEqual([
      'done',
      'done',
      'done',
      'notStarted',
      'notStarted',
      'notStarted',
    ]);
    expect((await store.readState('orders-view')).partitions[0]!.leaseUntil).toBe(claim.leaseUntil);
  });
});
