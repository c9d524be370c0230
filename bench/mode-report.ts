/**
 * How the runs of one way of processing are summed up: the median run (by throughput), every run's rate, the
 * order violations of all runs and the handler latency they saw.
 */
import type { LatencyRecorder, LatencyReport } from './instruments/latency.js';
import type { OrderReport } from './instruments/order-tracker.js';
import type { RunResult } from './runs.js';

/** One way of processing, measured in the one-partition scenario. */
export interface ModeReport extends RunResult {
  readonly samplesRecordsPerSecond: readonly number[];
  readonly order: OrderReport;
  readonly orderViolations: number;
  readonly handlerLatency: LatencyReport;
}

export function modeReport(runs: readonly RunResult[], order: OrderReport, latency: LatencyRecorder): ModeReport {
  const mid = medianRun(runs);
  return {
    ...mid,
    samplesRecordsPerSecond: runs.map((r) => r.recordsPerSecond),
    order,
    orderViolations: order.violations,
    handlerLatency: latency.report(),
  };
}

/** The run of median throughput (the lower middle for an even count): a real run, with its own batch times. */
export function medianRun<T extends RunResult>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.recordsPerSecond - b.recordsPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
