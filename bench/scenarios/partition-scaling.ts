/**
 * Scaling with partitions: a worker thread per partition, each with its own event loop, token store client and
 * warm consumer, as each partition has an execution environment of its own on Lambda. Elapsed time runs from the
 * first partition's start to the last one's end.
 */
import type { ScenarioContext } from '../context.js';
import { medianCpu, startCpuMeter, type CpuReport } from '../instruments/cpu.js';
import { addOrderReports, type OrderReport } from '../instruments/order-tracker.js';
import { medianRun } from '../mode-report.js';
import { PartitionPool, type PoolRun } from '../partition-pool.js';
import type { RunResult } from '../runs.js';
import { round, sum } from '../stats.js';

/** Untimed runs of every scaling worker before the first point: each has a JIT of its own to warm up. */
const SCALING_WARM_RUNS = 4;

export interface ScalingPoint {
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
}

export interface PartitionScalingReport {
  readonly recordsPerPartition: number;
  readonly keysPerPartition: number;
  readonly batchSize: number;
  readonly points: readonly ScalingPoint[];
}

export async function scalePartitions(ctx: ScenarioContext): Promise<PartitionScalingReport> {
  const { options } = ctx;
  const most = Math.max(...options.partitions);
  ctx.progress(`scaling: starting a worker thread per partition (${most})`);
  const pool = await PartitionPool.start(most, {
    records: options.records,
    keys: options.keys,
    seed: options.seed,
    concurrency: options.concurrency,
    latencyMs: options.latencyMs,
    segments: options.segments,
    store: ctx.env.workerStore ?? { kind: 'memory' },
  });
  const points: ScalingPoint[] = [];
  try {
    // All points share one processor: each worker stays warm, as the partition's execution environment would.
    const processorName = ctx.processorName('scaling');
    await warmPool(ctx, pool, processorName);
    for (const count of options.partitions) points.push(await measurePoint(ctx, pool, processorName, count));
  } finally {
    await pool.close();
  }
  const base = points.find((p) => p.partitions === Math.min(...options.partitions))!;
  return {
    recordsPerPartition: options.records,
    keysPerPartition: options.keys,
    batchSize: options.scalingBatchSize,
    points: points.map((p) => ({ ...p, speedup: round(p.recordsPerSecond / base.recordsPerSecond, 2) })),
  };
}

/**
 * Many small batches first, so the SDK's request path is compiled (its first hundreds of requests cost two to
 * three times the CPU of later ones), then SCALING_WARM_RUNS runs as measured.
 */
async function warmPool(ctx: ScenarioContext, pool: PartitionPool, processorName: string): Promise<void> {
  const { options } = ctx;
  const most = Math.max(...options.partitions);
  await pool.run(most, {
    processorName,
    batchSize: 25,
    records: Math.min(options.records, options.quick ? 250 : 5_000),
  });
  for (let i = 0; i < SCALING_WARM_RUNS; i++) {
    await pool.run(most, { processorName, batchSize: options.scalingBatchSize });
  }
}

/** `scalingRepeats` runs of `count` partitions at once; the figures are the median run's (speed-up added later). */
async function measurePoint(
  ctx: ScenarioContext,
  pool: PartitionPool,
  processorName: string,
  count: number,
): Promise<ScalingPoint> {
  const { options } = ctx;
  const samples: RunResult[] = [];
  const orders: OrderReport[] = [];
  const cpuSamples: CpuReport[] = [];
  for (let i = 0; i < options.scalingRepeats; i++) {
    const cpu = startCpuMeter();
    const run = await pool.run(count, { processorName, batchSize: options.scalingBatchSize });
    cpuSamples.push(cpu());
    samples.push(poolRunResult(run, options.records));
    orders.push(...run.orders);
    await ctx.settle();
  }
  const used = medianCpu(cpuSamples);
  const mid = medianRun(samples);
  ctx.progress(
    `scaling: ${count} partition(s): ${mid.recordsPerSecond} records/s (node ${used.nodeProcessPercentOfOneCore}% of a core, machine ${used.machineBusyPercent ?? '?'}% busy)`,
  );
  return {
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
  };
}

/** One run over several partitions as one result; a partition that lost or redelivered records fails the run. */
function poolRunResult(run: PoolRun, records: number): RunResult {
  const short = run.results.find((r) => r.handled !== records || r.redeliveries !== 0);
  if (short) {
    throw new Error(
      `scaling: a partition handled ${short.handled} of ${records} records with ${short.redeliveries} redeliveries`,
    );
  }
  const batches = sum(run.results.map((r) => r.batches));
  return {
    records: run.records,
    elapsedMs: round(run.elapsedMs, 1),
    recordsPerSecond: round(run.records / (run.elapsedMs / 1000), 1),
    batches,
    meanBatchMs: round(sum(run.results.map((r) => r.meanBatchMs * r.batches)) / batches, 3),
    maxBatchMs: Math.max(...run.results.map((r) => r.maxBatchMs)),
  };
}
