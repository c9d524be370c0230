import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../bench/benchmark.js';
import { QUICK_OPTIONS, type BenchOptions } from '../../bench/options.js';
import { summary } from '../../bench/summary.js';
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
    // The DynamoDB scenarios run on the real token store only; in memory the requests are mapped from store calls.
    expect(json).not.toHaveProperty('parking');
    expect(json).not.toHaveProperty('limits');
    expect(json.dynamoDb.source).toMatch(/^token store calls mapped/);
    // The readable summary prints the same figures.
    const text = summary(json);
    expect(text).toContain(
      `(c) Tidemark key-ordered           ${json.onePartition.keyOrdered.recordsPerSecond} records/s, 0 order violations`,
    );
    expect(text).toContain(`overhead                           ${json.overhead.overheadUsPerRecord} µs/record`);
    expect(text).not.toContain('Parking (');
  });
});
