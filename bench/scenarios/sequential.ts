/**
 * (a) The baseline: what a plain Lambda Kafka handler does, one record after another. It is the slow one, so it
 * handles only `sequentialRecords` (its rate does not depend on the count), and its handler latency, measured
 * on an idle event loop, is the one the physical limit is computed from.
 */
import type { ScenarioContext } from '../context.js';
import { LatencyRecorder } from '../instruments/latency.js';
import { OrderTracker } from '../instruments/order-tracker.js';
import { modeReport, type ModeReport } from '../mode-report.js';
import { runSequential } from '../runs.js';
import type { PartitionLog } from '../workload.js';

export async function runSequentialBaseline(ctx: ScenarioContext, log: PartitionLog): Promise<ModeReport> {
  const { options, progress } = ctx;
  const sequentialLog: PartitionLog = {
    ...log,
    records: log.records.slice(0, options.sequentialRecords),
    keys: log.keys.slice(0, options.sequentialRecords),
  };
  progress(
    `(a) sequential: ${sequentialLog.records.length} records one after another (about ${Math.round((sequentialLog.records.length * (options.latencyMs + 0.6)) / 1000)} s)`,
  );
  const tracker = new OrderTracker([sequentialLog]);
  const latency = new LatencyRecorder();
  const run = await runSequential([sequentialLog], options.batchSize, ctx.handler([sequentialLog], tracker, latency));
  const sequential = modeReport([run], tracker.report(), latency);
  progress(
    `(a) sequential: ${sequential.recordsPerSecond} records/s, handler latency ${sequential.handlerLatency.meanMs} ms`,
  );
  return sequential;
}
