/**
 * The benchmark itself, independent of how it is started: runs every scenario against the token store it is
 * given and returns one JSON-ready report. `scripts/bench.ts` runs it on DynamoDB Local; the test runs it in
 * quick mode on the in-memory store.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import type { KafkaRecord } from '../shared/kafka/kafka-record.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import { costPerMillionRecords, PRICES, type CostEstimate } from './cost.js';
import { PartitionPool, type WorkerStore } from './partition-pool.js';
import {
  countingStore,
  LatencyRecorder,
  median,
  OrderTracker,
  round,
  addOrderReports,
  BatchPhases,
  simulatedIoHandler,
  startCpuMeter,
  type BatchPhaseReport,
  type CpuReport,
  type DynamoDbTally,
  type LatencyReport,
  type OrderReport,
  type StoreCalls,
} from './instruments.js';
import {
  parsedRecords,
  parseOnly,
  runHandlerOnly,
  runSequential,
  KeyOrderedConsumer,
  runTidemark,
  runUnordered,
  type CoreHandler,
  type RunResult,
  type TidemarkRunResult,
} from './runs.js';
import { criticalPathRounds, makePartitionLog, modelRounds, type PartitionLog } from './workload.js';

/** Untimed runs of every scaling worker before the first point: each has a JIT of its own to warm up. */
const SCALING_WARM_RUNS = 4;

/** What to measure. */
export interface BenchOptions {
  /** Records of the one-partition scenario, and per partition in the scaling scenario. */
  readonly records: number;
  /** Keys of the one-partition scenario, and per partition in the scaling scenario. */
  readonly keys: number;
  readonly concurrency: number;
  /** Records per Lambda event (one partition's batch). */
  readonly batchSize: number;
  /** The simulated I/O each handler call awaits. */
  readonly latencyMs: number;
  /** Records the sequential baseline handles (its rate does not depend on the count; it is the slow one). */
  readonly sequentialRecords: number;
  /** Partition counts of the scaling scenario. */
  readonly partitions: readonly number[];
  /**
   * Records per event in the scaling scenario: the same as `batchSize` by default, so each partition gets the one-
   * partition scenario's workload. Smaller batches mean more claims and checkpoints side by side.
   */
  readonly scalingBatchSize: number;
  readonly overheadRecords: number;
  readonly overheadKeys: number;
  /** Runs of each fast scenario; the median is reported. */
  readonly repeats: number;
  /** Runs of each scaling point (the noisiest figure: several event loops share the machine's cores). */
  readonly scalingRepeats: number;
  /** Segments of the processor's layout (inline mode runs every segment in the dispatcher). */
  readonly segments: number;
  /** Batch sizes (c) is also measured at, to show the per-batch costs and key chains; empty to skip. */
  readonly batchSizeSweep: readonly number[];
  /** Lambda memory size assumed for the cost estimate. */
  readonly lambdaMemoryMb: number;
  /** Pause between timed runs, so one run's garbage is not collected during the next. */
  readonly pauseMs: number;
  readonly seed: number;
  readonly quick: boolean;
}

/** The default run: about two minutes on a 2-core machine, most of it the sequential baseline. */
export const DEFAULT_OPTIONS: BenchOptions = Object.freeze({
  records: 10_000,
  keys: 1_000,
  concurrency: 100,
  batchSize: 5_000,
  latencyMs: 5,
  sequentialRecords: 10_000,
  partitions: [1, 2, 4, 8],
  scalingBatchSize: 5_000,
  overheadRecords: 200_000,
  overheadKeys: 1_000,
  repeats: 5,
  scalingRepeats: 7,
  segments: 4,
  batchSizeSweep: [500, 1_000, 2_000, 5_000, 10_000],
  lambdaMemoryMb: 1_024,
  pauseMs: 200,
  seed: 20_251_122,
  quick: false,
});

/** `--quick`: the same scenarios at smoke-test sizes (a few seconds). */
export const QUICK_OPTIONS: BenchOptions = Object.freeze({
  ...DEFAULT_OPTIONS,
  records: 2_000,
  keys: 200,
  batchSize: 500,
  scalingBatchSize: 500,
  sequentialRecords: 500,
  overheadRecords: 20_000,
  repeats: 1,
  scalingRepeats: 1,
  batchSizeSweep: [250, 1_000],
  quick: true,
});

/** Where the benchmark runs. */
export interface BenchEnvironment {
  /** 'dynamodb-local' or 'memory': printed with the results. */
  readonly storeKind: string;
  /** The token store of the throughput runs (each run uses a processor name of its own on it). */
  readonly store: TokenStore;
  /** The in-memory store of the overhead run. */
  readonly memoryStore: () => TokenStore;
  /** The store each scaling worker opens for itself; a private in-memory store each when absent. */
  readonly workerStore?: WorkerStore;
  /** DynamoDB request counting, when the store is on DynamoDB. */
  readonly dynamoDb?: { tally: () => DynamoDbTally; reset: () => void };
  readonly progress?: (message: string) => void;
}

/** One way of processing, measured in the one-partition scenario. */
export interface ModeReport extends RunResult {
  readonly samplesRecordsPerSecond: readonly number[];
  readonly order: OrderReport;
  readonly orderViolations: number;
  readonly handlerLatency: LatencyReport;
}

export interface Target {
  readonly target: string;
  readonly threshold: number;
  readonly measured: number;
  readonly met: boolean;
}

/** Everything the benchmark prints with `--json`. */
export interface BenchReport {
  readonly benchmark: 'tidemark';
  readonly schemaVersion: 1;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: {
    nproc: number;
    cpuModel: string;
    node: string;
    platform: string;
    arch: string;
    memoryGb: number;
    /** 1-minute load average when the run started and ended: other work on the machine skews the figures. */
    loadAverageAtStart: number;
    loadAverageAtEnd: number;
  };
  readonly config: BenchOptions & { store: string; distinctKeys: number; orderViolationDefinition: string };
  readonly onePartition: {
    readonly handlerLatency: LatencyReport & { source: string };
    readonly physicalLimit: {
      recordsPerSecond: number;
      parallelism: number;
      formula: string;
      /** The same limit with the mean handler latency seen inside run (c), where the event loop is busier. */
      atKeyOrderedLatencyRecordsPerSecond: number;
    };
    readonly batchedLimit: {
      recordsPerSecond: number;
      rounds: number;
      longestKeyChainInABatch: number;
      formula: string;
    };
    readonly schedulingModel: {
      description: string;
      fifoRounds: number;
      longestRemainingFirstRounds: number;
      lowerBoundRounds: number;
      fifoRecordsPerSecond: number;
      longestRemainingFirstRecordsPerSecond: number;
      /** Handler phase of one batch under each model, to compare with keyOrdered.batchPhases.handlersMs. */
      handlersMsPerBatch: { lowerBound: number; fifo: number; longestRemainingFirst: number };
    };
    readonly sequential: ModeReport;
    readonly unordered: ModeReport & { cpu: CpuReport };
    readonly keyOrdered: ModeReport & {
      handled: number;
      skipped: number;
      redeliveries: number;
      cpu: CpuReport;
      batchPhases: BatchPhaseReport;
    };
    /** (b) and (c) at other batch sizes, interleaved: what the per-batch costs (claim, checkpoint) weigh. */
    readonly batchSizeSweep: ReadonlyArray<{
      batchSize: number;
      /** (c) key-ordered, median run. */
      recordsPerSecond: number;
      meanBatchMs: number;
      toPhysicalLimit: number;
      toUnordered: number;
      samplesRecordsPerSecond: number[];
      orderViolations: number;
      /** (b) unordered at the same batch size, median run. */
      unorderedRecordsPerSecond: number;
      unorderedSamplesRecordsPerSecond: number[];
    }>;
    readonly ratios: {
      keyOrderedToPhysicalLimit: number;
      keyOrderedToBatchedLimit: number;
      keyOrderedToSequential: number;
      keyOrderedToUnordered: number;
    };
  };
  readonly partitionScaling: {
    readonly recordsPerPartition: number;
    readonly keysPerPartition: number;
    readonly batchSize: number;
    readonly points: ReadonlyArray<{
      partitions: number;
      recordsPerSecond: number;
      perPartitionRecordsPerSecond: number;
      speedup: number;
      elapsedMs: number;
      meanBatchMs: number;
      samplesRecordsPerSecond: number[];
      orderViolations: number;
      cpu: CpuReport;
      /** The machine's cores were at least 85% busy: the figure measures this machine's CPU. */
      cpuSaturated: boolean;
    }>;
  };
  readonly overhead: {
    readonly records: number;
    readonly keys: number;
    readonly handler: string;
    readonly store: string;
    readonly handlerOnlyUsPerRecord: number;
    readonly tidemarkUsPerRecord: number;
    readonly overheadUsPerRecord: number;
    /** Part of the total: parsing the event (base64, records), which any Lambda Kafka handler must do too. */
    readonly parseUsPerRecord: number;
    readonly samplesTidemarkUsPerRecord: number[];
    /** The fastest sample: the figure least disturbed by other work on the machine. */
    readonly bestTidemarkUsPerRecord: number;
  };
  readonly dynamoDb: {
    readonly source: string;
    readonly run: string;
    readonly batches: number;
    readonly records: number;
    readonly readRequests: number;
    readonly writeRequests: number;
    readonly readUnits: number;
    readonly writeUnits: number;
    /** Requests whose units were not reported and were counted as 1 unit each. */
    readonly estimatedUnitRequests: number;
    readonly byOperation: Record<string, number>;
    readonly byItem: Record<string, number>;
    readonly tokenStoreCalls: StoreCalls;
    readonly perBatch: { reads: number; writes: number; readUnits: number; writeUnits: number };
    readonly per1000Records: { reads: number; writes: number; readUnits: number; writeUnits: number };
    /**
     * The consumer's first, untimed run: what a new processor (or a container whose layout cache has expired)
     * pays on top of the steady state, counted on its own.
     */
    readonly coldRun: {
      readonly batches: number;
      readonly readRequests: number;
      readonly writeRequests: number;
      readonly byOperation: Record<string, number>;
      readonly byItem: Record<string, number>;
    };
  };
  readonly cost: {
    readonly prices: typeof PRICES;
    readonly assumptions: {
      lambdaMemoryMb: number;
      duration: string;
      requests: string;
      dynamoDb: string;
      stepFunctions: string;
    };
    readonly sequential: CostEstimate;
    readonly keyOrdered: CostEstimate;
    readonly keyOrderedToSequential: number;
  };
  readonly targets: {
    readonly keyOrderedVsPhysicalLimit: Target;
    readonly keyOrderedVsUnordered: Target;
    readonly keyOrderedOrderViolations: Target;
    readonly partitionScaling: Target;
    readonly overheadUsPerRecord: Target;
    readonly costKeyOrderedVsSequential: Target;
  };
}

export const ORDER_VIOLATION_DEFINITION =
  'a handler start is a violation when its offset is below one already started for the same partition and key ' +
  '(start inversion) or when a record of that key is still running (overlap); each start counts once';

/** Runs every scenario and returns the report. */
export async function runBenchmark(options: BenchOptions, env: BenchEnvironment): Promise<BenchReport> {
  const progress = env.progress ?? (() => {});
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const t0 = performance.now();
  const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  let runs = 0;
  const processorName = (label: string) => `bench-${runId}-${label}-${runs++}`;
  const noop = async () => {};
  const settle = (ms = options.pauseMs) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const tidemark = (
    logs: readonly PartitionLog[],
    handler: CoreHandler,
    extra: { batchSize?: number; store?: TokenStore; label: string },
  ) =>
    runTidemark({
      logs,
      batchSize: extra.batchSize ?? options.batchSize,
      concurrency: options.concurrency,
      store: extra.store ?? env.store,
      processorName: processorName(extra.label),
      segments: options.segments,
      handler,
    });

  // --- one partition: (a) sequential, (b) unordered, (c) key-ordered -----------------------------------------
  const log = makePartitionLog({ partition: 0, count: options.records, keys: options.keys, seed: options.seed });
  const sequentialLog: PartitionLog = {
    ...log,
    records: log.records.slice(0, options.sequentialRecords),
    keys: log.keys.slice(0, options.sequentialRecords),
  };
  progress(
    `(a) sequential: ${sequentialLog.records.length} records one after another (about ${Math.round((sequentialLog.records.length * (options.latencyMs + 0.6)) / 1000)} s)`,
  );
  const sequentialTracker = new OrderTracker([sequentialLog]);
  const sequentialLatency = new LatencyRecorder();
  const sequentialRun = await runSequential(
    [sequentialLog],
    options.batchSize,
    simulatedIoHandler(options.latencyMs, sequentialTracker, sequentialLatency),
  );
  const sequential = modeReport([sequentialRun], sequentialTracker.report(), sequentialLatency);
  progress(
    `(a) sequential: ${sequential.recordsPerSecond} records/s, handler latency ${sequential.handlerLatency.meanMs} ms`,
  );

  // --- warm-up, after (a) so nothing idles in between: JIT, the SDK's connections and DynamoDB Local's JVM (it
  // needs a few thousand requests to settle), then one untimed run of (c) itself.
  progress('warming up');
  const warmSize = options.quick ? 400 : 2_500;
  const warmLogs = Array.from({ length: 8 }, (_, p) =>
    makePartitionLog({ partition: p, count: warmSize, keys: options.keys, seed: options.seed + 1 }),
  );
  await tidemark(warmLogs, noop, { batchSize: 25, label: 'warm' });
  await tidemark(
    warmLogs.slice(0, 1),
    simulatedIoHandler(options.latencyMs, new OrderTracker(warmLogs), new LatencyRecorder(1)),
    { label: 'warm' },
  );
  await runUnordered(
    warmLogs.slice(0, 1),
    options.batchSize,
    options.concurrency,
    simulatedIoHandler(options.latencyMs, new OrderTracker(warmLogs), new LatencyRecorder(1)),
  );

  const unorderedRuns: RunResult[] = [];
  const keyOrderedRuns: TidemarkRunResult[] = [];
  const unorderedOrder: OrderReport[] = [];
  const keyOrderedOrder: OrderReport[] = [];
  const unorderedLatency = new LatencyRecorder();
  const keyOrderedLatency = new LatencyRecorder();
  const unorderedCpu: CpuReport[] = [];
  const keyOrderedCpu: CpuReport[] = [];
  // One warm consumer for every (c) run, as a Lambda execution environment stays warm between batches. Its first,
  // untimed run pays what a new processor pays once (reading and creating the layout); it is counted on its own.
  const counted = countingStore(env.store);
  const keyOrderedConsumer = new KeyOrderedConsumer({
    concurrency: options.concurrency,
    store: counted.store,
    processorName: processorName('c'),
    segments: options.segments,
  });
  env.dynamoDb?.reset();
  const coldRun = await keyOrderedConsumer.run({
    logs: [log],
    batchSize: options.batchSize,
    handler: simulatedIoHandler(options.latencyMs, new OrderTracker([log]), new LatencyRecorder(1)),
  });
  const coldTally = env.dynamoDb?.tally();
  const coldCalls = takeCalls(counted.calls);
  await settle();
  env.dynamoDb?.reset();
  for (let i = 0; i < options.repeats; i++) {
    // Interleaved, so drift in the machine's speed hits both alike. Each run has its own order tracker: the same
    // offsets are replayed.
    const unorderedTracker = new OrderTracker([log]);
    let cpu = startCpuMeter();
    unorderedRuns.push(
      await runUnordered(
        [log],
        options.batchSize,
        options.concurrency,
        simulatedIoHandler(options.latencyMs, unorderedTracker, unorderedLatency),
      ),
    );
    unorderedCpu.push(cpu());
    unorderedOrder.push(unorderedTracker.report());
    await settle();
    const keyOrderedTracker = new OrderTracker([log]);
    cpu = startCpuMeter();
    keyOrderedRuns.push(
      await keyOrderedConsumer.run({
        logs: [log],
        batchSize: options.batchSize,
        handler: simulatedIoHandler(options.latencyMs, keyOrderedTracker, keyOrderedLatency),
      }),
    );
    keyOrderedCpu.push(cpu());
    keyOrderedOrder.push(keyOrderedTracker.report());
    await settle();
    progress(
      `(b) unordered ${unorderedRuns.at(-1)!.recordsPerSecond} records/s; (c) key-ordered ${keyOrderedRuns.at(-1)!.recordsPerSecond} records/s (run ${i + 1}/${options.repeats})`,
    );
  }
  const dynamoTally = env.dynamoDb?.tally();
  const warmCalls = takeCalls(counted.calls);
  // Batch phases come from runs of their own: timing every handler call slows the runs it times. The consumer is
  // warmed first, like the one above.
  const phases = new BatchPhases();
  const phaseConsumer = new KeyOrderedConsumer({
    concurrency: options.concurrency,
    store: phases.timeStore(env.store),
    processorName: processorName('phases'),
    segments: options.segments,
  });
  for (let i = 0; i <= options.repeats; i++) {
    await phaseConsumer.run({
      logs: [log],
      batchSize: options.batchSize,
      handler: simulatedIoHandler(options.latencyMs, new OrderTracker([log]), new LatencyRecorder(1)),
      phases: i === 0 ? undefined : phases,
    });
    await settle();
  }
  const unordered = {
    ...modeReport(unorderedRuns, addOrderReports(unorderedOrder), unorderedLatency),
    cpu: medianCpu(unorderedCpu),
  };
  const keyOrdered = {
    ...modeReport(keyOrderedRuns, addOrderReports(keyOrderedOrder), keyOrderedLatency),
    handled: sum(keyOrderedRuns.map((r) => r.handled)),
    skipped: sum(keyOrderedRuns.map((r) => r.skipped)),
    redeliveries: sum(keyOrderedRuns.map((r) => r.redeliveries)),
    cpu: medianCpu(keyOrderedCpu),
    batchPhases: phases.report(),
  };
  if (keyOrdered.handled !== keyOrdered.records * options.repeats || keyOrdered.redeliveries !== 0) {
    throw new Error(
      `key-ordered runs handled ${keyOrdered.handled} of ${keyOrdered.records * options.repeats} records with ${keyOrdered.redeliveries} redeliveries`,
    );
  }

  const latencyMs = sequential.handlerLatency.meanMs;
  const perRound = latencyMs / 1000;
  const parallelism = Math.min(log.distinctKeys, options.concurrency);
  const physicalLimit = parallelism / perRound;
  const path = criticalPathRounds(log, options.batchSize, options.concurrency);
  const batchedLimit = log.records.length / (path.rounds * perRound);
  const batchCount = Math.ceil(log.records.length / options.batchSize);
  const fifoRounds = modelRounds(log, options.batchSize, options.concurrency, 'fifo');
  const lrfRounds = modelRounds(log, options.batchSize, options.concurrency, 'longestRemainingFirst');

  // --- (c) at other batch sizes ------------------------------------------------------------------------------------
  const sweep: BenchReport['onePartition']['batchSizeSweep'][number][] = [];
  for (const batchSize of options.batchSizeSweep) {
    const orders: OrderReport[] = [];
    const samples: TidemarkRunResult[] = [];
    const unorderedSamples: RunResult[] = [];
    for (let i = 0; i < options.repeats; i++) {
      unorderedSamples.push(
        await runUnordered(
          [log],
          batchSize,
          options.concurrency,
          simulatedIoHandler(options.latencyMs, new OrderTracker([log]), new LatencyRecorder(1)),
        ),
      );
      await settle();
      const tracker = new OrderTracker([log]);
      samples.push(
        await keyOrderedConsumer.run({
          logs: [log],
          batchSize,
          handler: simulatedIoHandler(options.latencyMs, tracker, new LatencyRecorder(1)),
        }),
      );
      orders.push(tracker.report());
      await settle();
    }
    const mid = medianRun(samples);
    const unorderedMid = medianRun(unorderedSamples);
    sweep.push({
      batchSize,
      recordsPerSecond: mid.recordsPerSecond,
      meanBatchMs: mid.meanBatchMs,
      toPhysicalLimit: round(mid.recordsPerSecond / physicalLimit, 3),
      toUnordered: round(mid.recordsPerSecond / unorderedMid.recordsPerSecond, 3),
      samplesRecordsPerSecond: samples.map((r) => r.recordsPerSecond),
      orderViolations: addOrderReports(orders).violations,
      unorderedRecordsPerSecond: unorderedMid.recordsPerSecond,
      unorderedSamplesRecordsPerSecond: unorderedSamples.map((r) => r.recordsPerSecond),
    });
    progress(
      `batch size ${batchSize}: (b) unordered ${unorderedMid.recordsPerSecond}, (c) key-ordered ${mid.recordsPerSecond} records/s`,
    );
  }

  // --- scaling with partitions -------------------------------------------------------------------------------------
  const points: BenchReport['partitionScaling']['points'][number][] = [];
  progress(`scaling: starting a worker thread per partition (${Math.max(...options.partitions)})`);
  const pool = await PartitionPool.start(Math.max(...options.partitions), {
    records: options.records,
    keys: options.keys,
    seed: options.seed,
    concurrency: options.concurrency,
    latencyMs: options.latencyMs,
    segments: options.segments,
    store: env.workerStore ?? { kind: 'memory' },
  });
  try {
    // Every worker has a JIT and a consumer of its own to warm up: many small batches first, so the SDK's request
    // path is compiled (its first hundreds of requests cost two to three times the CPU of later ones), then
    // SCALING_WARM_RUNS runs as measured. All points share one processor: each worker stays warm, as the partition's execution
    // environment would.
    const scalingProcessor = processorName('scaling');
    await pool.run(Math.max(...options.partitions), {
      processorName: scalingProcessor,
      batchSize: 25,
      records: Math.min(options.records, options.quick ? 250 : 5_000),
    });
    for (let i = 0; i < SCALING_WARM_RUNS; i++) {
      await pool.run(Math.max(...options.partitions), {
        processorName: scalingProcessor,
        batchSize: options.scalingBatchSize,
      });
    }
    for (const count of options.partitions) {
      const samples: RunResult[] = [];
      const orders: OrderReport[] = [];
      const cpuSamples: CpuReport[] = [];
      for (let i = 0; i < options.scalingRepeats; i++) {
        const cpu = startCpuMeter();
        const run = await pool.run(count, {
          processorName: scalingProcessor,
          batchSize: options.scalingBatchSize,
        });
        cpuSamples.push(cpu());
        const short = run.results.find((r) => r.handled !== options.records || r.redeliveries !== 0);
        if (short) {
          throw new Error(
            `scaling: a partition handled ${short.handled} of ${options.records} records with ${short.redeliveries} redeliveries`,
          );
        }
        const batchMs = run.results.map((r) => r.meanBatchMs * r.batches);
        const batches = sum(run.results.map((r) => r.batches));
        samples.push({
          records: run.records,
          elapsedMs: round(run.elapsedMs, 1),
          recordsPerSecond: round(run.records / (run.elapsedMs / 1000), 1),
          batches,
          meanBatchMs: round(sum(batchMs) / batches, 3),
          maxBatchMs: Math.max(...run.results.map((r) => r.maxBatchMs)),
        });
        orders.push(...run.orders);
        await settle();
      }
      const used = medianCpu(cpuSamples);
      const mid = medianRun(samples);
      points.push({
        partitions: count,
        recordsPerSecond: mid.recordsPerSecond,
        perPartitionRecordsPerSecond: round(mid.recordsPerSecond / count, 1),
        speedup: 0,
        elapsedMs: mid.elapsedMs,
        meanBatchMs: mid.meanBatchMs,
        samplesRecordsPerSecond: samples.map((s) => s.recordsPerSecond),
        orderViolations: addOrderReports(orders).violations,
        cpu: used,
        cpuSaturated: (used.machineBusyPercent ?? 0) >= 85,
      });
      progress(
        `scaling: ${count} partition(s): ${mid.recordsPerSecond} records/s (node ${used.nodeProcessPercentOfOneCore}% of a core, machine ${used.machineBusyPercent ?? '?'}% busy)`,
      );
    }
  } finally {
    await pool.close();
  }
  const base = points.find((p) => p.partitions === Math.min(...options.partitions))!;
  const scaledPoints = points.map((p) => ({ ...p, speedup: round(p.recordsPerSecond / base.recordsPerSecond, 2) }));

  // --- framework overhead: no-op handler, in-memory store -------------------------------------------------------
  progress(`overhead: ${options.overheadRecords} records, no-op handler, in-memory store`);
  const overheadLog = makePartitionLog({
    partition: 0,
    count: options.overheadRecords,
    keys: options.overheadKeys,
    seed: options.seed + 2,
  });
  const parsed = parsedRecords([overheadLog], options.batchSize);
  const noopRecord = async (_record: KafkaRecord) => {};
  await runHandlerOnly(parsed, noopRecord);
  const warmOverhead = Math.min(options.overheadRecords, 20_000);
  await tidemark(
    [
      {
        ...overheadLog,
        records: overheadLog.records.slice(0, warmOverhead),
        keys: overheadLog.keys.slice(0, warmOverhead),
      },
    ],
    noop,
    {
      store: env.memoryStore(),
      label: 'ow',
    },
  );
  const overheadSamples: number[] = [];
  const handlerOnlySamples: number[] = [];
  const parseSamples: number[] = [];
  for (let i = 0; i < Math.max(options.repeats, 7); i++) {
    await settle(options.pauseMs / 2);
    const run = await tidemark([overheadLog], noop, { store: env.memoryStore(), label: 'o' });
    overheadSamples.push((run.elapsedMs * 1000) / run.records);
    handlerOnlySamples.push(((await runHandlerOnly(parsed, noopRecord)) * 1000) / parsed.length);
    const parsing = parseOnly([overheadLog], options.batchSize);
    parseSamples.push((parsing.elapsedMs * 1000) / parsing.records);
  }
  const tidemarkUs = median(overheadSamples);
  const handlerOnlyUs = median(handlerOnlySamples);
  progress(
    `overhead: ${round(tidemarkUs, 3)} µs/record end to end, ${round(handlerOnlyUs, 3)} µs/record calling the handler alone`,
  );

  // --- DynamoDB requests of the key-ordered runs ------------------------------------------------------------------
  const cBatches = sum(keyOrderedRuns.map((r) => r.batches));
  const cRecords = sum(keyOrderedRuns.map((r) => r.records));
  const requests = dynamoTally ?? fromStoreCalls(warmCalls);
  const coldRequests = coldTally ?? fromStoreCalls(coldCalls);
  const per = (value: number, n: number) => round(value / n, 3);
  const dynamoDb: BenchReport['dynamoDb'] = {
    source: dynamoTally
      ? 'DynamoDBClient middleware: every request counted, units as DynamoDB reported them (ReturnConsumedCapacity)'
      : 'token store calls mapped to the DynamoDB requests DynamoDbTokenStore makes for them (in-memory store)',
    run: `(c) key-ordered, one partition, ${options.repeats} run(s) of one warm consumer (its set-up is in coldRun)`,
    batches: cBatches,
    records: cRecords,
    readRequests: requests.readRequests,
    writeRequests: requests.writeRequests,
    readUnits: round(requests.readUnits, 2),
    writeUnits: round(requests.writeUnits, 2),
    estimatedUnitRequests: requests.estimatedUnitRequests,
    byOperation: requests.byOperation,
    byItem: requests.byItem,
    tokenStoreCalls: warmCalls,
    perBatch: {
      reads: per(requests.readRequests, cBatches),
      writes: per(requests.writeRequests, cBatches),
      readUnits: per(requests.readUnits, cBatches),
      writeUnits: per(requests.writeUnits, cBatches),
    },
    per1000Records: {
      reads: per(requests.readRequests * 1000, cRecords),
      writes: per(requests.writeRequests * 1000, cRecords),
      readUnits: per(requests.readUnits * 1000, cRecords),
      writeUnits: per(requests.writeUnits * 1000, cRecords),
    },
    coldRun: {
      batches: coldRun.batches,
      readRequests: coldRequests.readRequests,
      writeRequests: coldRequests.writeRequests,
      byOperation: coldRequests.byOperation,
      byItem: coldRequests.byItem,
    },
  };

  // --- cost ---------------------------------------------------------------------------------------------------------
  const sequentialCost = costPerMillionRecords(
    {
      records: sequentialRun.records,
      batches: sequentialRun.batches,
      meanBatchMs: sequentialRun.meanBatchMs,
      readUnits: 0,
      writeUnits: 0,
      stateTransitions: 0,
    },
    options.lambdaMemoryMb,
  );
  const keyOrderedCost = costPerMillionRecords(
    {
      records: cRecords,
      batches: cBatches,
      meanBatchMs: sum(keyOrderedRuns.map((r) => r.meanBatchMs * r.batches)) / cBatches,
      readUnits: requests.readUnits,
      writeUnits: requests.writeUnits,
      stateTransitions: 0,
    },
    options.lambdaMemoryMb,
  );
  const costRatio = round(keyOrderedCost.usd.total / sequentialCost.usd.total, 4);

  // --- targets ------------------------------------------------------------------------------------------------------
  const ratios = {
    keyOrderedToPhysicalLimit: round(keyOrdered.recordsPerSecond / physicalLimit, 3),
    keyOrderedToBatchedLimit: round(keyOrdered.recordsPerSecond / batchedLimit, 3),
    keyOrderedToSequential: round(keyOrdered.recordsPerSecond / sequential.recordsPerSecond, 2),
    keyOrderedToUnordered: round(keyOrdered.recordsPerSecond / unordered.recordsPerSecond, 3),
  };
  const minP = Math.min(...options.partitions);
  const maxP = Math.max(...options.partitions);
  const top = scaledPoints.find((p) => p.partitions === maxP)!;
  const scalingThreshold = round((6 / 8) * (maxP / minP), 2);
  const overheadUs = round(tidemarkUs - handlerOnlyUs, 3);
  const targets: BenchReport['targets'] = {
    keyOrderedVsPhysicalLimit: atLeast(
      'key-ordered >= 90% of the physical limit min(keys, concurrency) / handler latency',
      0.9,
      ratios.keyOrderedToPhysicalLimit,
    ),
    keyOrderedVsUnordered: atLeast('key-ordered >= 90% of unordered parallel', 0.9, ratios.keyOrderedToUnordered),
    keyOrderedOrderViolations: atMost(
      'key-ordered runs: zero order violations',
      0,
      keyOrdered.orderViolations + sum(sweep.map((s) => s.orderViolations)) + sum(points.map((p) => p.orderViolations)),
    ),
    partitionScaling: atLeast(
      `${maxP} partitions >= ${scalingThreshold}x ${minP} partition(s)`,
      scalingThreshold,
      top.speedup,
    ),
    overheadUsPerRecord: atMost(
      'framework overhead <= 5 µs per record (no-op handler, in-memory store)',
      5,
      overheadUs,
    ),
    costKeyOrderedVsSequential: atMost('cost per million records of key-ordered <= 1/5 of sequential', 0.2, costRatio),
  };

  return {
    benchmark: 'tidemark',
    schemaVersion: 1,
    startedAt: startedAt.toISOString(),
    durationSeconds: round((performance.now() - t0) / 1000, 1),
    machine: { ...machine(), loadAverageAtStart: round(loadAtStart, 2), loadAverageAtEnd: round(loadavg()[0] ?? 0, 2) },
    config: {
      ...options,
      partitions: [...options.partitions],
      batchSizeSweep: [...options.batchSizeSweep],
      store: env.storeKind,
      distinctKeys: log.distinctKeys,
      orderViolationDefinition: ORDER_VIOLATION_DEFINITION,
    },
    onePartition: {
      handlerLatency: {
        ...sequential.handlerLatency,
        source: `measured around the ${options.latencyMs} ms await in the sequential run (a)`,
      },
      physicalLimit: {
        recordsPerSecond: round(physicalLimit, 1),
        parallelism,
        formula: 'min(distinct keys, concurrency) / mean handler latency',
        atKeyOrderedLatencyRecordsPerSecond: round(parallelism / (keyOrdered.handlerLatency.meanMs / 1000), 1),
      },
      batchedLimit: {
        recordsPerSecond: round(batchedLimit, 1),
        rounds: path.rounds,
        longestKeyChainInABatch: path.longestChain,
        formula:
          'records / (sum over batches of max(ceil(batch records / concurrency), longest key chain in the batch) x mean handler latency): ' +
          'the best any key-ordered processing can do one batch at a time',
      },
      schedulingModel: {
        description:
          'unit-time model of one batch at a time (one round = one handler latency): fifo = ready records in one first-come queue, ' +
          "a key's next record joining the back when its previous one ends; " +
          'longestRemainingFirst = start the keys with the most records left first (what runInKeyOrder does)',
        fifoRounds,
        longestRemainingFirstRounds: lrfRounds,
        lowerBoundRounds: path.rounds,
        fifoRecordsPerSecond: round(log.records.length / (fifoRounds * perRound), 1),
        longestRemainingFirstRecordsPerSecond: round(log.records.length / (lrfRounds * perRound), 1),
        handlersMsPerBatch: {
          lowerBound: round((path.rounds * latencyMs) / batchCount, 2),
          fifo: round((fifoRounds * latencyMs) / batchCount, 2),
          longestRemainingFirst: round((lrfRounds * latencyMs) / batchCount, 2),
        },
      },
      sequential,
      unordered,
      keyOrdered,
      batchSizeSweep: sweep,
      ratios,
    },
    partitionScaling: {
      recordsPerPartition: options.records,
      keysPerPartition: options.keys,
      batchSize: options.scalingBatchSize,
      points: scaledPoints,
    },
    overhead: {
      records: options.overheadRecords,
      keys: options.overheadKeys,
      handler: 'async no-op',
      store: 'MemoryTokenStore',
      handlerOnlyUsPerRecord: round(handlerOnlyUs, 3),
      tidemarkUsPerRecord: round(tidemarkUs, 3),
      overheadUsPerRecord: overheadUs,
      parseUsPerRecord: round(median(parseSamples), 3),
      samplesTidemarkUsPerRecord: overheadSamples.map((s) => round(s, 3)),
      bestTidemarkUsPerRecord: round(Math.min(...overheadSamples), 3),
    },
    dynamoDb,
    cost: {
      prices: PRICES,
      assumptions: {
        lambdaMemoryMb: options.lambdaMemoryMb,
        duration: 'billed duration of a batch = its measured mean wall time on this machine, rounded up to 1 ms',
        requests: 'one Lambda request per batch (event) of one partition',
        dynamoDb: `request units measured in run (c) on ${env.storeKind}; the sequential handler uses no DynamoDB`,
        stepFunctions: 'zero in steady state: state machines run only for a split, merge or scale',
      },
      sequential: sequentialCost,
      keyOrdered: keyOrderedCost,
      keyOrderedToSequential: costRatio,
    },
    targets,
  };
}

function modeReport(runs: readonly RunResult[], order: OrderReport, latency: LatencyRecorder): ModeReport {
  const mid = medianRun(runs);
  return {
    ...mid,
    samplesRecordsPerSecond: runs.map((r) => r.recordsPerSecond),
    order,
    orderViolations: order.violations,
    handlerLatency: latency.report(),
  };
}

function medianRun<T extends RunResult>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.recordsPerSecond - b.recordsPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function medianCpu(reports: readonly CpuReport[]): CpuReport {
  const busy = reports.map((r) => r.machineBusyPercent).filter((v): v is number => v !== null);
  return {
    nodeProcessPercentOfOneCore: median(reports.map((r) => r.nodeProcessPercentOfOneCore)),
    machineBusyPercent: busy.length ? median(busy) : null,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function atLeast(target: string, threshold: number, measured: number): Target {
  return { target, threshold, measured, met: measured >= threshold };
}

function atMost(target: string, threshold: number, measured: number): Target {
  return { target, threshold, measured, met: measured <= threshold };
}

/** Empties a call tally, returning what it held. */
function takeCalls(calls: StoreCalls): StoreCalls {
  const taken = { ...calls };
  for (const name of Object.keys(calls)) delete calls[name];
  return taken;
}

/** The DynamoDB requests DynamoDbTokenStore makes for each store call (used when the store is in memory). */
function fromStoreCalls(calls: StoreCalls): DynamoDbTally {
  const n = (name: string) => calls[name] ?? 0;
  const byOperation: Record<string, number> = {};
  const add = (operation: string, count: number) => {
    if (count > 0) byOperation[operation] = (byOperation[operation] ?? 0) + count;
  };
  add('UpdateItem', n('claim') + n('checkpoint') + n('renew') + n('release'));
  add('GetItem', n('readLayout'));
  add('PutItem', n('initialise'));
  const reads = n('readLayout');
  const writes = n('claim') + n('checkpoint') + n('renew') + n('release') + n('initialise');
  return {
    byOperation,
    byItem: {
      TOKEN: n('claim') + n('checkpoint') + n('renew') + n('release'),
      LAYOUT: n('readLayout') + n('initialise'),
    },
    readRequests: reads,
    writeRequests: writes,
    readUnits: reads,
    writeUnits: writes,
    estimatedUnitRequests: reads + writes,
    failedRequests: 0,
  };
}

function machine(): Omit<BenchReport['machine'], 'loadAverageAtStart' | 'loadAverageAtEnd'> {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1]!.trim();
  } catch {
    // not Linux
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    memoryGb: round(totalmem() / 2 ** 30, 1),
  };
}
