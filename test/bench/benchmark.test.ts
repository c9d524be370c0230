import { describe, expect, it } from 'vitest';
import { QUICK_OPTIONS, runBenchmark, type BenchOptions } from '../../bench/benchmark.js';
import { LatencyRecorder, OrderTracker, simulatedIoHandler } from '../../bench/instruments.js';
import { KeyOrderedConsumer, runTidemark, runUnordered } from '../../bench/runs.js';
import { makePartitionLog } from '../../bench/workload.js';
import { MemoryTokenStore } from '../../shared/tokens/memory-token-store.js';

const TINY: BenchOptions = {
  ...QUICK_OPTIONS,
  records: 300,
  keys: 30,
  concurrency: 20,
  batchSize: 100,
  scalingBatchSize: 100,
  latencyMs: 1,
  sequentialRecords: 60,
  partitions: [1, 2],
  overheadRecords: 2_000,
  overheadKeys: 100,
  repeats: 1,
  batchSizeSweep: [50],
  pauseMs: 0,
};

const num = 'number';
const str = 'string';
const bool = 'boolean';
const order = { started: num, startInversions: num, overlaps: num, violations: num };
const latency = { samples: num, meanMs: num, p50Ms: num, p99Ms: num, maxMs: num };
const cpu = { nodeProcessPercentOfOneCore: num };
const run = { records: num, elapsedMs: num, recordsPerSecond: num, batches: num, meanBatchMs: num, maxBatchMs: num };
const mode = { ...run, samplesRecordsPerSecond: [num], order, orderViolations: num, handlerLatency: latency };
const target = { target: str, threshold: num, measured: num, met: bool };
const per = { reads: num, writes: num, readUnits: num, writeUnits: num };
const cost = {
  recordsPerBatch: num,
  batchDurationMs: num,
  lambdaRequests: num,
  lambdaGbSeconds: num,
  dynamoDbWriteRequestUnits: num,
  dynamoDbReadRequestUnits: num,
  stepFunctionsTransitions: num,
  usd: {
    lambdaDuration: num,
    lambdaRequests: num,
    dynamoDbWrites: num,
    dynamoDbReads: num,
    stepFunctions: num,
    total: num,
  },
};

/** Every field the JSON report must have, with its type (arrays: the type of every element). */
const REPORT_SHAPE = {
  benchmark: str,
  schemaVersion: num,
  startedAt: str,
  durationSeconds: num,
  machine: {
    nproc: num,
    cpuModel: str,
    node: str,
    platform: str,
    arch: str,
    memoryGb: num,
    loadAverageAtStart: num,
    loadAverageAtEnd: num,
  },
  config: {
    records: num,
    keys: num,
    concurrency: num,
    batchSize: num,
    latencyMs: num,
    partitions: [num],
    store: str,
    distinctKeys: num,
    lambdaMemoryMb: num,
  },
  onePartition: {
    handlerLatency: { ...latency, source: str },
    physicalLimit: { recordsPerSecond: num, parallelism: num, formula: str },
    batchedLimit: { recordsPerSecond: num, rounds: num, longestKeyChainInABatch: num, formula: str },
    schedulingModel: {
      fifoRounds: num,
      longestRemainingFirstRounds: num,
      lowerBoundRounds: num,
      fifoRecordsPerSecond: num,
      longestRemainingFirstRecordsPerSecond: num,
      handlersMsPerBatch: { lowerBound: num, fifo: num, longestRemainingFirst: num },
    },
    sequential: mode,
    unordered: { ...mode, cpu },
    keyOrdered: {
      ...mode,
      handled: num,
      skipped: num,
      redeliveries: num,
      cpu,
      batchPhases: {
        batches: num,
        totalMs: num,
        toFirstHandlerMs: num,
        handlersMs: num,
        afterLastHandlerMs: num,
        storeMs: { claim: num, checkpoint: num },
      },
    },
    batchSizeSweep: [
      {
        batchSize: num,
        recordsPerSecond: num,
        meanBatchMs: num,
        toPhysicalLimit: num,
        toUnordered: num,
        orderViolations: num,
        unorderedRecordsPerSecond: num,
      },
    ],
    ratios: {
      keyOrderedToPhysicalLimit: num,
      keyOrderedToBatchedLimit: num,
      keyOrderedToSequential: num,
      keyOrderedToUnordered: num,
    },
  },
  partitionScaling: {
    recordsPerPartition: num,
    keysPerPartition: num,
    batchSize: num,
    points: [
      {
        partitions: num,
        recordsPerSecond: num,
        perPartitionRecordsPerSecond: num,
        speedup: num,
        elapsedMs: num,
        orderViolations: num,
        cpu,
      },
    ],
  },
  overhead: {
    records: num,
    handlerOnlyUsPerRecord: num,
    tidemarkUsPerRecord: num,
    overheadUsPerRecord: num,
    parseUsPerRecord: num,
    samplesTidemarkUsPerRecord: [num],
  },
  dynamoDb: {
    source: str,
    batches: num,
    records: num,
    readRequests: num,
    writeRequests: num,
    readUnits: num,
    writeUnits: num,
    byOperation: { UpdateItem: num },
    tokenStoreCalls: { claim: num, checkpoint: num },
    perBatch: per,
    per1000Records: per,
    coldRun: { batches: num, readRequests: num, writeRequests: num, byOperation: { UpdateItem: num }, byItem: {} },
  },
  cost: {
    prices: {
      region: str,
      asOf: str,
      lambdaUsdPerGbSecond: num,
      lambdaUsdPerMillionRequests: num,
      dynamoDbUsdPerMillionWriteRequestUnits: num,
      dynamoDbUsdPerMillionReadRequestUnits: num,
      stepFunctionsUsdPer1000StateTransitions: num,
    },
    assumptions: { lambdaMemoryMb: num, duration: str, requests: str, dynamoDb: str, stepFunctions: str },
    sequential: cost,
    keyOrdered: cost,
    keyOrderedToSequential: num,
  },
  targets: {
    keyOrderedVsPhysicalLimit: target,
    keyOrderedVsUnordered: target,
    keyOrderedOrderViolations: target,
    partitionScaling: target,
    overheadUsPerRecord: target,
    costKeyOrderedVsSequential: target,
  },
};

/** The paths where `value` does not match `shape`: a missing field, a wrong type, a number that is not finite. */
function shapeProblems(value: unknown, shape: unknown, path = '$'): string[] {
  if (Array.isArray(shape)) {
    if (!Array.isArray(value) || value.length === 0) return [`${path}: expected a non-empty array`];
    return value.flatMap((element, i) => shapeProblems(element, shape[0], `${path}[${i}]`));
  }
  if (typeof shape === 'object' && shape !== null) {
    if (typeof value !== 'object' || value === null)
      return [`${path}: expected an object, got ${JSON.stringify(value)}`];
    return Object.entries(shape).flatMap(([key, inner]) =>
      shapeProblems((value as Record<string, unknown>)[key], inner, `${path}.${key}`),
    );
  }
  if (typeof value !== shape) return [`${path}: expected ${String(shape)}, got ${JSON.stringify(value)}`];
  if (typeof value === 'number' && (!Number.isFinite(value) || value < 0))
    return [`${path}: expected a finite number >= 0, got ${value}`];
  return [];
}

describe('benchmark', () => {
  it('reports every figure and target in quick mode on the in-memory store', async () => {
    const store = new MemoryTokenStore();

    const report = await runBenchmark(TINY, { storeKind: 'memory', store, memoryStore: () => new MemoryTokenStore() });
    const json = JSON.parse(JSON.stringify(report)) as typeof report;

    expect(shapeProblems(json, REPORT_SHAPE)).toEqual([]);
    expect(json.onePartition.keyOrdered).toMatchObject({ handled: TINY.records, redeliveries: 0, orderViolations: 0 });
    expect(json.onePartition.sequential.orderViolations).toBe(0);
    expect(json.partitionScaling.points.map((p) => [p.partitions, p.orderViolations])).toEqual([
      [1, 0],
      [2, 0],
    ]);
    expect(json.onePartition.keyOrdered.recordsPerSecond).toBeGreaterThan(
      json.onePartition.sequential.recordsPerSecond,
    );
    expect(json.dynamoDb.perBatch.writes).toBeGreaterThanOrEqual(2);
    expect(json.targets.keyOrderedOrderViolations.met).toBe(true);
  });

  it('counts order violations in unordered and reversed runs and none in a key-ordered run of the same records', async () => {
    const log = makePartitionLog({ partition: 0, count: 400, keys: 10, seed: 7 });
    const unorderedTracker = new OrderTracker([log]);
    const keyOrderedTracker = new OrderTracker([log]);

    await runUnordered([log], 100, 50, simulatedIoHandler(1, unorderedTracker, new LatencyRecorder()));
    await runTidemark({
      logs: [log],
      batchSize: 100,
      concurrency: 50,
      store: new MemoryTokenStore(),
      processorName: 'bench-order-check',
      segments: 4,
      handler: simulatedIoHandler(1, keyOrderedTracker, new LatencyRecorder()),
    });

    const reversedTracker = new OrderTracker([log]);
    for (let offset = log.records.length - 1; offset >= 0; offset--) {
      reversedTracker.start(0, offset);
      reversedTracker.finish(0, offset);
    }

    expect(reversedTracker.report()).toEqual({
      started: 400,
      startInversions: 400 - log.distinctKeys,
      overlaps: 0,
      violations: 400 - log.distinctKeys,
    });
    expect(unorderedTracker.report().started).toBe(400);
    expect(unorderedTracker.report().violations).toBeGreaterThan(0);
    expect(keyOrderedTracker.report()).toEqual({ started: 400, startInversions: 0, overlaps: 0, violations: 0 });
  });

  it('keeps a consumer warm across runs: each run is handled in full, under the workload offsets, on one claim item', async () => {
    const log = makePartitionLog({ partition: 0, count: 300, keys: 20, seed: 3 });
    const store = new MemoryTokenStore();
    const consumer = new KeyOrderedConsumer({ concurrency: 10, store, processorName: 'bench-warm', segments: 2 });
    const seen: number[][] = [];

    for (let run = 0; run < 3; run++) {
      const offsets: number[] = [];
      const result = await consumer.run({
        logs: [log],
        batchSize: 100,
        handler: async (_partition: number, offset: number) => void offsets.push(offset),
      });
      expect(result).toMatchObject({ records: 300, handled: 300, skipped: 0, redeliveries: 0, batches: 3 });
      seen.push(offsets.sort((a, b) => a - b));
    }

    const expected = Array.from({ length: 300 }, (_, i) => i);
    expect(seen).toEqual([expected, expected, expected]);
    // One processor and one claim item for all three runs: only the shifted offsets kept them from being skipped.
    const state = await store.readState('bench-warm');
    expect(state.partitions).toHaveLength(1);
  });
});

describe('parking cost on DynamoDB Local', () => {
  it('counts two writes for a batch that parks nothing, and one transaction more for a batch that parks 1%', async () => {
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { inject } = await import('vitest');
    const { localClientConfig } = await import('../../local/dynamodb-local.js');
    const { countDynamoDbRequests } = await import('../../bench/instruments.js');
    const { measureParkingCost } = await import('../../bench/parking-cost.js');
    const { DynamoDbTokenStore } = await import('../../shared/tokens/dynamodb-token-store.js');
    const { freshTokenTable } = await import('../support/dynamodb.js');
    const client = new DynamoDBClient(localClientConfig(inject('dynamoDbEndpoint')));
    const dynamoDb = countDynamoDbRequests(client);
    const store = new DynamoDbTokenStore({ tableName: await freshTokenTable(), client });

    const cost = await measureParkingCost({ store, dynamoDb, batches: 3, recordsPerBatch: 200 });

    expect(cost.parkedPerBatch).toBe(2);
    expect(cost.nothingParked).toMatchObject({ writesPerBatch: 2, byOperation: { UpdateItem: 2 } });
    expect(cost.onePercentParked.byOperation).toMatchObject({ UpdateItem: 1, TransactWriteItems: 1 });
    expect(cost.onePercentParked.writesPerBatch).toBe(2);
    expect(cost.onePercentParked.writeUnitsPerBatch).toBeGreaterThan(cost.nothingParked.writeUnitsPerBatch);
    client.destroy();
  });
});

describe('limits on DynamoDB Local', () => {
  it('measures the largest partition and layout items and the layout reads of a container, steady and draining', async () => {
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { inject } = await import('vitest');
    const { localClientConfig } = await import('../../local/dynamodb-local.js');
    const { measureLimits, watchItemSizes } = await import('../../bench/limits.js');
    const { DynamoDbTokenStore } = await import('../../shared/tokens/dynamodb-token-store.js');
    const { freshTokenTable } = await import('../support/dynamodb.js');
    const client = new DynamoDBClient(localClientConfig(inject('dynamoDbEndpoint')));
    const watch = watchItemSizes(client);
    const store = new DynamoDbTokenStore({ tableName: await freshTokenTable(), client });

    const limits = await measureLimits({
      store,
      watch,
      segments: 16,
      batches: 2,
      recordsPerKey: 3,
      layoutTtlMs: 200,
      steadyMs: 1_000,
      drainWaitMs: 1_000,
    });

    expect(limits).toMatchObject({ segments: 16, recordsPerBatch: 96, batches: 2 });
    // A token with ranges in 16 cells and attempt counts: more than a steady-state item, far below the limit.
    expect(limits.largestPartitionItemBytes).toBeGreaterThan(300);
    expect(limits.largestPartitionItemBytes).toBeLessThan(64 * 1024);
    expect(limits.largestLayoutItemBytes).toBeGreaterThan(16);
    expect(limits.largestLayoutItemBytes).toBeLessThan(1_024);
    // About one read per layout lifetime in steady state; more while waiting on the drain.
    expect(limits.layoutReadsPerSecondPerContainer.steady).toBeGreaterThan(1);
    expect(limits.layoutReadsPerSecondPerContainer.steady).toBeLessThan(15);
    expect(limits.layoutReadsPerSecondPerContainer.drain).toBeGreaterThan(0);
    client.destroy();
  });
});
