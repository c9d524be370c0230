/**
 * The measured runs: a plain sequential Lambda handler, unordered parallel processing, and Tidemark's real
 * Dispatcher fed the way Lambda's Kafka event source feeds it (one batch per partition at a time, resuming from
 * the first offset it reports back).
 */
import pLimit from 'p-limit';
import { Dispatcher, type DispatcherSettings } from '../../shared/dispatcher.js';
import { parseKafkaEvent } from '../../shared/kafka-event.js';
import type { KafkaRecord } from '../../shared/kafka-record.js';
import { silentLogger } from '../../shared/logger.js';
import { defineProcessor, type RecordHandler } from '../../shared/processor.js';
import { InlineRunner } from '../../shared/segment-runner.js';
import type { TokenStore } from '../../shared/token-store.js';
import { round, type BatchPhases } from './instruments.js';
import { BENCH_TOPIC, batchesOf, eventFrom, type PartitionLog } from './workload.js';

/** A benchmark handler, given where the record is (its key is looked up from the workload, not computed). */
export type CoreHandler = (partition: number, offset: number) => Promise<void>;

/** What one timed run did. */
export interface RunResult {
  readonly records: number;
  readonly elapsedMs: number;
  readonly recordsPerSecond: number;
  /** Invocations (events) delivered, redeliveries included. */
  readonly batches: number;
  /** Wall time of one invocation, mean and max: what Lambda would bill as duration. */
  readonly meanBatchMs: number;
  readonly maxBatchMs: number;
}

/** Lambda's function timeout assumed for `remainingMs` (Kafka triggers allow up to 14 minutes). */
const FUNCTION_TIMEOUT_MS = 300_000;

function result(records: number, elapsedMs: number, batchMs: readonly number[]): RunResult {
  const total = batchMs.reduce((a, b) => a + b, 0);
  return {
    records,
    elapsedMs: round(elapsedMs, 1),
    recordsPerSecond: round(records / (elapsedMs / 1000), 1),
    batches: batchMs.length,
    meanBatchMs: round(batchMs.length ? total / batchMs.length : 0, 3),
    maxBatchMs: round(batchMs.length ? Math.max(...batchMs) : 0, 3),
  };
}

/**
 * (a) What a plain Lambda Kafka handler does: per batch, parse the event and handle its records one after another.
 * Partitions are delivered one after another too (one partition is what the scenario uses).
 */
export async function runSequential(
  logs: readonly PartitionLog[],
  batchSize: number,
  handler: CoreHandler,
): Promise<RunResult> {
  const events = logs.flatMap((log) => batchesOf(log, batchSize));
  const batchMs: number[] = [];
  let records = 0;
  const started = performance.now();
  for (const event of events) {
    const t0 = performance.now();
    for (const record of parseKafkaEvent(event).records) {
      await handler(record.partition, record.offset);
      records++;
    }
    batchMs.push(performance.now() - t0);
  }
  return result(records, performance.now() - started, batchMs);
}

/**
 * (b) Unordered parallel processing, the batch-listener-plus-executor approach: per event, every record at once
 * through a concurrency limit with no regard for keys, and the invocation returns when all of them have finished
 * (a Lambda handler cannot return earlier without losing records). Events come one at a time, as for (a) and (c).
 */
export async function runUnordered(
  logs: readonly PartitionLog[],
  batchSize: number,
  concurrency: number,
  handler: CoreHandler,
): Promise<RunResult> {
  const events = logs.flatMap((log) => batchesOf(log, batchSize));
  const limit = pLimit(concurrency);
  const batchMs: number[] = [];
  let records = 0;
  const started = performance.now();
  for (const event of events) {
    const t0 = performance.now();
    const parsed = parseKafkaEvent(event).records;
    await Promise.all(parsed.map((record) => limit(() => handler(record.partition, record.offset))));
    records += parsed.length;
    batchMs.push(performance.now() - t0);
  }
  return result(records, performance.now() - started, batchMs);
}

/** How a Tidemark run is set up. */
export interface TidemarkRunOptions {
  readonly logs: readonly PartitionLog[];
  readonly batchSize: number;
  readonly concurrency: number;
  readonly store: TokenStore;
  /** Unique per run: tokens of an earlier run would cover every offset. */
  readonly processorName: string;
  readonly segments: number;
  readonly handler: CoreHandler | RecordHandler;
  /** Whether `handler` is a {@link CoreHandler} (wrapped to pass partition and offset) or a raw RecordHandler. */
  readonly raw?: boolean;
  readonly settings?: Partial<DispatcherSettings>;
  /** Splits batch time into phases (one partition only). */
  readonly phases?: BatchPhases;
}

/** What a Tidemark run did besides its timing. */
export interface TidemarkRunResult extends RunResult {
  readonly handled: number;
  readonly skipped: number;
  /** Batches answered with a batch item failure (resumed from the reported offset). */
  readonly redeliveries: number;
}

/**
 * (c) Tidemark: the real Dispatcher with the InlineRunner, one dispatcher ("container") per partition, each
 * partition its own sequential delivery loop; all partitions at once, as Lambda runs one batch per partition.
 */
export async function runTidemark(options: TidemarkRunOptions): Promise<TidemarkRunResult> {
  const core = options.handler as CoreHandler;
  const phases = options.phases;
  if (phases && options.logs.length !== 1) throw new Error('batch phases are measured on one partition only');
  const handler: RecordHandler = options.raw
    ? (options.handler as RecordHandler)
    : phases
      ? async (record) => {
          phases.handlerStart();
          await core(record.partition, record.offset);
          phases.handlerEnd();
        }
      : (record) => core(record.partition, record.offset);
  const store = phases ? phases.timeStore(options.store) : options.store;
  const processor = defineProcessor({
    name: options.processorName,
    topics: [BENCH_TOPIC],
    handler,
    concurrency: options.concurrency,
    initialSegments: options.segments,
  });
  const batchMs: number[] = [];
  const totals = { handled: 0, skipped: 0, redeliveries: 0 };
  const deliver = async (log: PartitionLog) => {
    const dispatcher = new Dispatcher({
      processor,
      store,
      runner: new InlineRunner({ clock: Date.now }),
      settings: options.settings,
      logger: silentLogger,
    });
    let from = 0;
    let invocation = 0;
    while (from < log.records.length) {
      const event = eventFrom(log, from, options.batchSize);
      const delivered = event.records[`${log.topic}-${log.partition}`]!.length;
      const invokedAt = Date.now();
      phases?.begin();
      const t0 = performance.now();
      const { response, partitions } = await dispatcher.dispatch(event, {
        remainingMs: () => FUNCTION_TIMEOUT_MS - (Date.now() - invokedAt),
        invocationId: `bench-${log.partition}-${invocation++}`,
      });
      batchMs.push(performance.now() - t0);
      phases?.end();
      for (const report of partitions) {
        totals.handled += report.handled;
        totals.skipped += report.skipped;
      }
      const failure = response.batchItemFailures[0];
      if (failure) {
        totals.redeliveries++;
        if (totals.redeliveries > 1_000)
          throw new Error(`partition ${log.partition} keeps failing at offset ${failure.itemIdentifier.offset}`);
        from = failure.itemIdentifier.offset;
      } else {
        from += delivered;
      }
    }
  };
  const started = performance.now();
  await Promise.all(options.logs.map(deliver));
  const elapsed = performance.now() - started;
  const records = options.logs.reduce((n, log) => n + log.records.length, 0);
  return { ...result(records, elapsed, batchMs), ...totals };
}

/**
 * The no-op baseline of the overhead measurement: the records already parsed, just the handler called and
 * awaited once per record. Returns the elapsed milliseconds.
 */
export async function runHandlerOnly(
  records: readonly KafkaRecord[],
  handler: (record: KafkaRecord) => Promise<void>,
): Promise<number> {
  const started = performance.now();
  for (const record of records) await handler(record);
  return performance.now() - started;
}

/**
 * Parses every event of the logs, batch by batch, keeping nothing (as the dispatcher does): what parsing alone
 * costs. Returns the records parsed and the elapsed ms.
 */
export function parseOnly(logs: readonly PartitionLog[], batchSize: number): { records: number; elapsedMs: number } {
  const events = logs.flatMap((log) => batchesOf(log, batchSize));
  let records = 0;
  const started = performance.now();
  for (const event of events) records += parseKafkaEvent(event).records.length;
  return { records, elapsedMs: performance.now() - started };
}

/** Every record of the logs, parsed (the input of the handler-only baseline). */
export function parsedRecords(logs: readonly PartitionLog[], batchSize: number): KafkaRecord[] {
  return logs.flatMap((log) => batchesOf(log, batchSize)).flatMap((event) => [...parseKafkaEvent(event).records]);
}
