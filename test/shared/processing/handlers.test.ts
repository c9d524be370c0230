import { afterEach, describe, expect, it, vi } from 'vitest';
import { NonRetriableError } from '../../../shared/errors.js';
import { createDispatchHandler, createRedriveHandler } from '../../../shared/processing/handlers.js';
import type { HandlerContext } from '../../../shared/processing/processor.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import type { RedriveReport } from '../../../shared/dead-letters/redriver.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import { dispatch, eventOf, testDispatcher, testProcessor } from '../../support/harness.js';
import { lambdaContext } from '../../support/lambda.js';
import { captureStdout } from '../../support/stdout.js';
import { kafkaEvent } from '../../../local/testing.js';
import { toRawRecord } from '../../../shared/processing/fan-out.js';
import { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { createSegmentWorkerHandler } from '../../../shared/processing/handlers.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

async function parked() {
  const stores = await freshStores();
  let healed = false;
  const contexts: HandlerContext[] = [];
  const processor = testProcessor({
    handler: (record, context) => {
      contexts.push(context);
      if (!healed && record.offset === 0) throw new NonRetriableError('not yet');
    },
    deadLetter: { redriveBaseDelayMs: 0, redriveMaxDelayMs: 0 },
  });
  await dispatch(
    testDispatcher(processor, stores.store),
    eventOf([0, 1].map((offset) => ({ topic: 'orders', partition: 0, offset, key: 'k' }))),
  );
  return { ...stores, processor, contexts, heal: () => (healed = true) };
}

describe('the dispatch Lambda handler', () => {
  it("tells inline handlers the dispatch invocation's request id", async () => {
    const seen: string[] = [];
    const processor = testProcessor({
      handler: (_record, context: HandlerContext) => void seen.push(context.requestId),
    });
    const handler = createDispatchHandler(processor, {
      store: new MemoryTokenStore(),
      logger: silentLogger,
      metrics: false,
    });

    await handler(
      eventOf([0, 1, 2].map((offset) => ({ topic: 'orders', partition: 0, offset, key: `k${offset}` }))),
      lambdaContext(60_000, 'first'),
    );
    await handler(eventOf([{ topic: 'orders', partition: 1, offset: 0, key: 'k' }]), lambdaContext(60_000, 'second'));

    expect(seen).toEqual(['first', 'first', 'first', 'second']);
  });
});

describe('the dispatch Lambda handler with Powertools', () => {
  const now = 1_767_225_600_000;

  it("prints each batch's counts, every partition's time lag and oldest record age, and every handler call's duration", async () => {
    const output = captureStdout();
    const processor = testProcessor({ handler: () => {} });
    const handler = createDispatchHandler(processor, {
      store: new MemoryTokenStore(),
      logger: silentLogger,
      clock: () => now,
    });

    await handler(
      kafkaEvent([
        { partition: 0, offset: 0, key: 'a', timestamp: now - 60_000 },
        { partition: 0, offset: 1, key: 'b', timestamp: now - 30_000 },
        { partition: 1, offset: 0, key: 'c', timestamp: now - 5_000 },
      ]),
      lambdaContext(),
    );

    const [line, ...more] = output.emf();
    expect(more).toEqual([]);
    expect(line!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Processor']]);
    expect(line).toMatchObject({
      Processor: 'orders-view',
      RecordsHandled: 3,
      RecordsHandedBack: 0,
      TimeLagSeconds: [30, 5],
      OldestRecordAgeSeconds: [60, 5],
    });
    expect(line!.HandlerDuration).toHaveLength(3);
  });

  it('adds a line per partition with the Partition dimension when TIDEMARK_METRICS_PARTITION_DIMENSION is true', async () => {
    vi.stubEnv('TIDEMARK_METRICS_PARTITION_DIMENSION', 'true');
    const output = captureStdout();
    const handler = createDispatchHandler(testProcessor({ handler: () => {} }), {
      store: new MemoryTokenStore(),
      logger: silentLogger,
      clock: () => now,
    });

    await handler(kafkaEvent([{ partition: 3, offset: 0, key: 'a', timestamp: now - 2_000 }]), lambdaContext());

    expect(output.emf().map((line) => [line._aws.CloudWatchMetrics[0]!.Dimensions, line.Partition])).toEqual([
      [[['Processor']], undefined],
      [[['Processor', 'Partition']], 'orders-3'],
    ]);
    expect(output.emf()[1]).toMatchObject({ RecordsHandled: 1, TimeLagSeconds: 2 });
  });

  it('refuses a partition dimension setting that is not true or false, naming the variable', () => {
    vi.stubEnv('TIDEMARK_METRICS_PARTITION_DIMENSION', 'yes');

    expect(() =>
      createDispatchHandler(testProcessor({ handler: () => {} }), { store: new MemoryTokenStore() }),
    ).toThrow('TIDEMARK_METRICS_PARTITION_DIMENSION must be "true" or "false", got "yes"');
  });

  it('logs through a Powertools Logger by default, with the processor and the invocation on every line', async () => {
    const output = captureStdout();
    const handler = createDispatchHandler(testProcessor({ handler: () => {} }), {
      store: new MemoryTokenStore(),
      metrics: false,
    });

    await handler(kafkaEvent([{ offset: 0, key: 'a' }]), lambdaContext(60_000, 'request-9', 'orders-dispatch'));

    expect(output.json()).toContainEqual(
      expect.objectContaining({
        level: 'INFO',
        message: 'batch processed',
        service: 'orders-view',
        processor: 'orders-view',
        function_name: 'orders-dispatch',
        function_request_id: 'request-9',
        cold_start: expect.any(Boolean) as boolean,
      }),
    );
  });
});

describe('the segment worker Lambda handler', () => {
  it('tells the handler whether the record is a replay and prints the duration of every handler call', async () => {
    const output = captureStdout();
    const store = new MemoryTokenStore();
    await store.initialise('orders-view', 1);
    const claim = await store.claim({
      processor: 'orders-view',
      topic: 'orders',
      partition: 0,
      owner: 'dispatcher',
      layoutVersion: 1,
      leaseMs: 30_000,
    });
    const seen: Array<[number, boolean]> = [];
    const processor = testProcessor({ handler: (record, context) => void seen.push([record.offset, context.replay]) });
    const handler = createSegmentWorkerHandler(processor, { store, logger: silentLogger });
    const record = (offset: number) =>
      toRawRecord(
        new KafkaRecord({
          topic: 'orders',
          partition: 0,
          offset,
          timestamp: 1,
          timestampType: 'CREATE_TIME',
          key: Buffer.from('k'),
          value: null,
          headers: [],
        }),
      );

    await handler(
      {
        processor: 'orders-view',
        layoutVersion: 1,
        segment: { id: 0, mask: 0 },
        deadline: Date.now() + 60_000,
        claims: [claim],
        records: [
          { record: record(4), sequencingKey: 'k', hash: 1, replay: true },
          { record: record(5), sequencingKey: 'k', hash: 1 },
        ],
      },
      lambdaContext(),
    );

    expect(seen).toEqual([
      [4, true],
      [5, false],
    ]);
    expect(output.emf()).toEqual([expect.objectContaining({ Processor: 'orders-view' })]);
    expect(output.emf()[0]!.HandlerDuration).toHaveLength(2);
  });
});

describe('the redrive Lambda handler', () => {
  it("tells the handler it redrives with the redrive invocation's request id", async () => {
    const { store, deadLetters, processor, heal, contexts } = await parked();
    heal();
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger, metrics: false });
    contexts.length = 0;

    await handler(
      { action: 'redrive-keys', keys: [{ topicPartition: 'orders-0', key: 'k' }] },
      lambdaContext(60_000, 'redrive-1'),
    );

    expect(contexts.map((c) => [c.offset, c.redrive, c.requestId])).toEqual([
      [0, true, 'redrive-1'],
      [1, true, 'redrive-1'],
    ]);
  });

  it('redrives the keys it is named, by partition and key', async () => {
    const { store, deadLetters, processor, heal } = await parked();
    heal();
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger, metrics: false });

    const report = (await handler(
      { action: 'redrive-keys', keys: [{ topicPartition: 'orders-0', key: 'k' }] },
      lambdaContext(),
    )) as RedriveReport;

    expect(report).toMatchObject({ redriven: 2, keys: [{ topicPartition: 'orders-0', key: 'k', outcome: 'drained' }] });
    expect(report.parkedKeys).toBeUndefined();
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map());
  });

  it('on the schedule, redrives what is due and prints the dead-letter gauges as EMF', async () => {
    const { store, deadLetters, processor } = await parked();
    const output = captureStdout();
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger });

    const report = (await handler({ action: 'redrive-due' }, lambdaContext())) as RedriveReport;

    expect(report).toMatchObject({ redriven: 0, parkedKeys: 1, keys: [{ outcome: 'failed' }] });
    const [metrics] = output.emf();
    expect(metrics!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Processor']]);
    expect(metrics).toMatchObject({ Processor: 'orders-view', ParkedKeys: 1, RecordsRedriven: 0 });
    expect(typeof metrics!.OldestParkedAgeSeconds).toBe('number');
  });

  it('refuses a key named by a partition that is not one', async () => {
    const { store, deadLetters, processor } = await parked();
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger, metrics: false });

    await expect(
      handler({ action: 'redrive-keys', keys: [{ topicPartition: 'orders', key: 'k' }] }, lambdaContext()),
    ).rejects.toThrow('"orders" is not a partition: use <topic>-<partition>, e.g. orders-3');
  });
});
