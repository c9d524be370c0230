/**
 * The benchmark, independent of how it is started: runs every scenario that applies to the environment and
 * returns one JSON-ready report. `scripts/bench.ts` runs it on DynamoDB Local; the tests run it at tiny sizes on
 * the in-memory store.
 */
import { ScenarioContext } from './context.js';
import type { BenchEnvironment } from './environment.js';
import { watchItemSizes } from './instruments/item-size-watch.js';
import type { BenchOptions } from './options.js';
import { throughputBounds } from './report/bounds.js';
import { loadAverage, machineReport } from './report/machine.js';
import { buildReport, type BenchReport, type Measurements } from './report/report.js';
import { measureBatchPhases } from './scenarios/batch-phases.js';
import { measureDecoders } from './scenarios/decoders.js';
import { sweepBatchSizes } from './scenarios/batch-size-sweep.js';
import { measureLimits } from './scenarios/limits.js';
import { compareOnOnePartition } from './scenarios/one-partition.js';
import { measureOverhead } from './scenarios/overhead.js';
import { measureEffectsCost } from './scenarios/effects.js';
import { measureParkingCost } from './scenarios/parking-cost.js';
import { scalePartitions } from './scenarios/partition-scaling.js';
import { runSequentialBaseline } from './scenarios/sequential.js';
import { warmUp } from './scenarios/warm-up.js';
import { round } from './stats.js';
import { makePartitionLog } from './workload.js';

/** Runs the scenarios and returns the report. */
export async function runBenchmark(options: BenchOptions, env: BenchEnvironment): Promise<BenchReport> {
  const ctx = new ScenarioContext(options, env);
  const startedAt = new Date().toISOString();
  const loadAtStart = loadAverage();
  const t0 = performance.now();
  const measured = await throughputScenarios(ctx);
  // Duration and load describe the throughput scenarios: theirs are the figures other work on the machine skews.
  const durationSeconds = round((performance.now() - t0) / 1000, 1);
  const machine = machineReport({ atStart: loadAtStart, atEnd: loadAverage() });
  const run = { startedAt, durationSeconds, machine, options, storeKind: env.storeKind, onDynamoDb: !!env.dynamoDb };
  return buildReport(run, { ...measured, ...(await dynamoDbScenarios(ctx)) });
}

/**
 * One partition ((a), (b), (c), their batch phases and the batch-size sweep), then scaling, then the overhead.
 * (a) comes first and the warm-up right after it, so nothing idles between the warm-up and what it warms up.
 */
async function throughputScenarios(ctx: ScenarioContext): Promise<Measurements> {
  const { options } = ctx;
  const log = makePartitionLog({ partition: 0, count: options.records, keys: options.keys, seed: options.seed });
  const sequential = await runSequentialBaseline(ctx, log);
  await warmUp(ctx);
  const runs = await compareOnOnePartition(ctx, log);
  const batchPhases = await measureBatchPhases(ctx, log);
  const latencies = [sequential.handlerLatency.meanMs, runs.keyOrdered.handlerLatency.meanMs] as const;
  const { bounds, rates } = throughputBounds(log, options, ...latencies);
  const batchSizeSweep = await sweepBatchSizes(ctx, log, runs.consumer, rates.physical);
  const partitionScaling = await scalePartitions(ctx);
  const overhead = await measureOverhead(ctx);
  const decoders = await measureDecoders(ctx.progress);
  const distinctKeys = log.distinctKeys;
  return {
    distinctKeys,
    sequential,
    runs,
    batchPhases,
    bounds,
    rates,
    batchSizeSweep,
    partitionScaling,
    overhead,
    decoders,
  };
}

/** The scenarios that measure DynamoDB itself: on the real token store only, whose requests are what they cost. */
async function dynamoDbScenarios(ctx: ScenarioContext): Promise<Pick<Measurements, 'parking' | 'effects' | 'limits'>> {
  const { store, dynamoDb, client, progress } = ctx.env;
  if (!dynamoDb || !client) return {};
  const parking = await measureParkingCost({ store, dynamoDb, progress });
  const effects = await measureEffectsCost({ client, dynamoDb, progress });
  // Watched from here on only: the watch asks for every token item back, which would slow the runs above.
  const limits = await measureLimits({ store, watch: watchItemSizes(client), progress });
  return { parking, effects, limits };
}
