/**
 * The warm-up before the timed one-partition runs: the JIT, the SDK's connections and DynamoDB Local's JVM (it
 * needs a few thousand requests to settle), then one untimed run of (b) and (c) themselves. Nothing is reported.
 */
import type { ScenarioContext } from '../context.js';
import { runUnordered } from '../runs.js';
import { makePartitionLog } from '../workload.js';

export async function warmUp(ctx: ScenarioContext): Promise<void> {
  const { options } = ctx;
  ctx.progress('warming up');
  const warmSize = options.quick ? 400 : 2_500;
  const warmLogs = Array.from({ length: 8 }, (_, p) =>
    makePartitionLog({ partition: p, count: warmSize, keys: options.keys, seed: options.seed + 1 }),
  );
  // Many small batches on every partition: many store requests for the JIT and the JVM to compile.
  await ctx.consumer('warm').run({ logs: warmLogs, batchSize: 25, handler: async () => {} });
  await ctx.consumer('warm').run({
    logs: warmLogs.slice(0, 1),
    batchSize: options.batchSize,
    handler: ctx.handler(warmLogs),
  });
  await runUnordered(warmLogs.slice(0, 1), options.batchSize, options.concurrency, ctx.handler(warmLogs));
}
