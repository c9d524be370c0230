/**
 * (b) unordered against (c) key-ordered on one partition, interleaved so drift in the machine's speed hits both
 * alike. (c) is one warm consumer for every run, as a Lambda execution environment stays warm between batches;
 * its first, untimed run pays what a new processor pays once, and its requests are counted on their own.
 */
import type { ScenarioContext } from '../context.js';
import { startCpuMeter, medianCpu, type CpuReport } from '../instruments/cpu.js';
import type { DynamoDbTally } from '../instruments/dynamodb-requests.js';
import { LatencyRecorder } from '../instruments/latency.js';
import { addOrderReports, OrderTracker, type OrderReport } from '../instruments/order-tracker.js';
import { countingStore, requestsOfStoreCalls, takeCalls, type StoreCalls } from '../instruments/store-calls.js';
import { modeReport, type ModeReport } from '../mode-report.js';
import { runUnordered, type KeyOrderedConsumer, type RunResult, type TidemarkRunResult } from '../runs.js';
import { sum } from '../stats.js';
import type { PartitionLog } from '../workload.js';

/** The requests of a stretch of runs: on the wire when the store is on DynamoDB, else mapped from store calls. */
export interface CountedRequests {
  readonly requests: DynamoDbTally;
  readonly calls: StoreCalls;
}

export interface OnePartitionRuns {
  readonly unordered: ModeReport & { cpu: CpuReport };
  readonly keyOrdered: ModeReport & { handled: number; skipped: number; redeliveries: number; cpu: CpuReport };
  readonly keyOrderedRuns: readonly TidemarkRunResult[];
  /** The warm (c) consumer, for the batch-size sweep to go on with. */
  readonly consumer: KeyOrderedConsumer;
  /** The timed (c) runs' requests, and the first, untimed run's (a new processor's set-up). */
  readonly requests: { readonly warm: CountedRequests; readonly cold: CountedRequests & { batches: number } };
}

/** The samples of one way of processing over the interleaved runs. */
interface Samples<R extends RunResult> {
  readonly runs: R[];
  readonly orders: OrderReport[];
  readonly cpu: CpuReport[];
  readonly latency: LatencyRecorder;
}

export async function compareOnOnePartition(ctx: ScenarioContext, log: PartitionLog): Promise<OnePartitionRuns> {
  const { options } = ctx;
  const counted = countingStore(ctx.env.store);
  const consumer = ctx.consumer('c', counted.store);
  const cold = await countRequests(ctx, counted.calls, () =>
    consumer.run({ logs: [log], batchSize: options.batchSize, handler: ctx.handler([log]) }),
  );
  await ctx.settle();
  const { result: coldRun, ...coldRequests } = cold;
  const { result: samples, ...warmRequests } = await countRequests(ctx, counted.calls, () =>
    interleave(ctx, log, consumer),
  );
  const { unordered, keyOrdered } = samples;
  const keyOrderedReport = {
    ...modeReport(keyOrdered.runs, addOrderReports(keyOrdered.orders), keyOrdered.latency),
    handled: sum(keyOrdered.runs.map((r) => r.handled)),
    skipped: sum(keyOrdered.runs.map((r) => r.skipped)),
    redeliveries: sum(keyOrdered.runs.map((r) => r.redeliveries)),
    cpu: medianCpu(keyOrdered.cpu),
  };
  // A run that lost or redelivered records would measure something else: no figure is better than a wrong one.
  if (keyOrderedReport.handled !== keyOrderedReport.records * options.repeats || keyOrderedReport.redeliveries !== 0) {
    throw new Error(
      `key-ordered runs handled ${keyOrderedReport.handled} of ${keyOrderedReport.records * options.repeats} records with ${keyOrderedReport.redeliveries} redeliveries`,
    );
  }
  return {
    unordered: {
      ...modeReport(unordered.runs, addOrderReports(unordered.orders), unordered.latency),
      cpu: medianCpu(unordered.cpu),
    },
    keyOrdered: keyOrderedReport,
    keyOrderedRuns: keyOrdered.runs,
    consumer,
    requests: { warm: warmRequests, cold: { ...coldRequests, batches: coldRun.batches } },
  };
}

/** `repeats` runs of (b) then (c). Each run has its own order tracker: the same offsets are replayed. */
async function interleave(
  ctx: ScenarioContext,
  log: PartitionLog,
  consumer: KeyOrderedConsumer,
): Promise<{ unordered: Samples<RunResult>; keyOrdered: Samples<TidemarkRunResult> }> {
  const { options } = ctx;
  const unordered: Samples<RunResult> = { runs: [], orders: [], cpu: [], latency: new LatencyRecorder() };
  const keyOrdered: Samples<TidemarkRunResult> = { runs: [], orders: [], cpu: [], latency: new LatencyRecorder() };
  const sample = async <R extends RunResult>(into: Samples<R>, run: (tracker: OrderTracker) => Promise<R>) => {
    const tracker = new OrderTracker([log]);
    const cpu = startCpuMeter();
    into.runs.push(await run(tracker));
    into.cpu.push(cpu());
    into.orders.push(tracker.report());
    await ctx.settle();
  };
  for (let i = 0; i < options.repeats; i++) {
    await sample(unordered, (tracker) =>
      runUnordered([log], options.batchSize, options.concurrency, ctx.handler([log], tracker, unordered.latency)),
    );
    await sample(keyOrdered, (tracker) =>
      consumer.run({
        logs: [log],
        batchSize: options.batchSize,
        handler: ctx.handler([log], tracker, keyOrdered.latency),
      }),
    );
    ctx.progress(
      `(b) unordered ${unordered.runs.at(-1)!.recordsPerSecond} records/s; (c) key-ordered ${keyOrdered.runs.at(-1)!.recordsPerSecond} records/s (run ${i + 1}/${options.repeats})`,
    );
  }
  return { unordered, keyOrdered };
}

/** Runs `work` with the request counts cleared first, and returns what it sent. */
async function countRequests<T>(
  ctx: ScenarioContext,
  calls: StoreCalls,
  work: () => Promise<T>,
): Promise<CountedRequests & { result: T }> {
  ctx.env.dynamoDb?.reset();
  const result = await work();
  const tally = ctx.env.dynamoDb?.tally();
  const taken = takeCalls(calls);
  return { result, requests: tally ?? requestsOfStoreCalls(taken), calls: taken };
}
