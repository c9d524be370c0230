/**
 * (b) and (c) side by side at other batch sizes: every batch pays a claim and a checkpoint, so smaller batches
 * show what those per-batch writes weigh. (c) goes on with the one-partition scenario's warm consumer.
 */
import type { ScenarioContext } from '../context.js';
import { addOrderReports, OrderTracker, type OrderReport } from '../instruments/order-tracker.js';
import { medianRun } from '../mode-report.js';
import { runUnordered, type KeyOrderedConsumer, type RunResult, type TidemarkRunResult } from '../runs.js';
import { round } from '../stats.js';
import type { PartitionLog } from '../workload.js';

export interface BatchSizePoint {
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
}

/** `physicalLimit`: the one-partition limit in records per second, unrounded. */
export async function sweepBatchSizes(
  ctx: ScenarioContext,
  log: PartitionLog,
  consumer: KeyOrderedConsumer,
  physicalLimit: number,
): Promise<BatchSizePoint[]> {
  const sweep: BatchSizePoint[] = [];
  for (const batchSize of ctx.options.batchSizeSweep) {
    const point = await measureAtBatchSize(ctx, log, consumer, batchSize, physicalLimit);
    sweep.push(point);
    ctx.progress(
      `batch size ${batchSize}: (b) unordered ${point.unorderedRecordsPerSecond}, (c) key-ordered ${point.recordsPerSecond} records/s`,
    );
  }
  return sweep;
}

/** `repeats` interleaved runs of (b) and (c) at one batch size; each figure is the median run's. */
async function measureAtBatchSize(
  ctx: ScenarioContext,
  log: PartitionLog,
  consumer: KeyOrderedConsumer,
  batchSize: number,
  physicalLimit: number,
): Promise<BatchSizePoint> {
  const orders: OrderReport[] = [];
  const samples: TidemarkRunResult[] = [];
  const unorderedSamples: RunResult[] = [];
  for (let i = 0; i < ctx.options.repeats; i++) {
    unorderedSamples.push(await runUnordered([log], batchSize, ctx.options.concurrency, ctx.handler([log])));
    await ctx.settle();
    const tracker = new OrderTracker([log]);
    samples.push(await consumer.run({ logs: [log], batchSize, handler: ctx.handler([log], tracker) }));
    orders.push(tracker.report());
    await ctx.settle();
  }
  const mid = medianRun(samples);
  const unorderedMid = medianRun(unorderedSamples);
  return {
    batchSize,
    recordsPerSecond: mid.recordsPerSecond,
    meanBatchMs: mid.meanBatchMs,
    toPhysicalLimit: round(mid.recordsPerSecond / physicalLimit, 3),
    toUnordered: round(mid.recordsPerSecond / unorderedMid.recordsPerSecond, 3),
    samplesRecordsPerSecond: samples.map((r) => r.recordsPerSecond),
    orderViolations: addOrderReports(orders).violations,
    unorderedRecordsPerSecond: unorderedMid.recordsPerSecond,
    unorderedSamplesRecordsPerSecond: unorderedSamples.map((r) => r.recordsPerSecond),
  };
}
