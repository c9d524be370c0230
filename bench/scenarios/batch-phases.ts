/**
 * Where the wall time of a (c) batch goes: before the first handler call, between the first and the last, and
 * after. Timed in runs of their own, because timing every handler call slows the run it times. The consumer is
 * warmed by its first, untimed run, like the one of the one-partition scenario.
 */
import type { ScenarioContext } from '../context.js';
import { BatchPhases, type BatchPhaseReport } from '../instruments/batch-phases.js';
import type { PartitionLog } from '../workload.js';

export async function measureBatchPhases(ctx: ScenarioContext, log: PartitionLog): Promise<BatchPhaseReport> {
  const phases = new BatchPhases();
  const consumer = ctx.consumer('phases', phases.timeStore(ctx.env.store));
  for (let i = 0; i <= ctx.options.repeats; i++) {
    await consumer.run({
      logs: [log],
      batchSize: ctx.options.batchSize,
      handler: ctx.handler([log]),
      phases: i === 0 ? undefined : phases,
    });
    await ctx.settle();
  }
  return phases.report();
}
