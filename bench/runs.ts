/**
 * The measured runs: a plain sequential Lambda handler, unordered parallel processing, and Tidemark's real
 * Dispatcher fed the way Lambda's Kafka event source feeds it (one batch per partition at a time, resuming from
 * the first offset it reports back).
 */
import pLimit from 'p-limit';
import { Dispatcher } from '../shared/processing/dispatcher.js';
import type { DispatcherSettings } from '../shared/settings.js';
import { parseKafkaEvent } from '../shared/kafka/kafka-event.js';
import { topicPartitionId, type KafkaRecord } from '../shared/kafka/kafka-record.js';
import { silentLogger } from '../shared/observability/logger.js';
import { defineProcessor, type Processor, type RecordHandler } from '../shared/processing/processor.js';
import { InlineRunner } from '../shared/processing/segment-runner.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import type { BatchPhases } from './instruments/batch-phases.js';
import type { LatencyRecorder } from './instruments/latency.js';
import type { OrderTracker } from './instruments/order-tracker.js';
import { round } from './stats.js';
import { BENCH_TOPIC, batchesOf, eventFrom, type PartitionLog } from './workload.js';

/** A benchmark handler, given where the record is (its key is looked up from the workload, not computed). */
export type CoreHandler = (partition: number, offset: number) => Promise<void>;

/** The simulated handler of the throughput runs: note the start, await `latencyMs` of I/O, note the end. */
export function simulatedIoHandler(latencyMs: number, tracker: OrderTracker, latency: LatencyRecorder): CoreHandler {
  return async (partition: number, offset: number): Promise<void> => {
    tracker.start(partition, offset);
    const started = performance.now();
    await new Promise<void>((resolve) => setTimeout(resolve, latencyMs));
    latency.add(performance.now() - started);
    tracker.finish(partition, offset);
  };
}

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

/** How a key-ordered consumer is set up: what stays the same from one run to the next. */
export interface KeyOrderedConsumerOptions {
  readonly concurrency: number;
  readonly store: TokenStore;
  /** Unique per consumer: another consumer's tokens would cover its offsets. */
  readonly processorName: string;
  readonly segments: number;
  readonly settings?: Partial<DispatcherSettings>;
}

/** What one run of a key-ordered consumer is given. */
export interface ConsumerRun {
  readonly logs: readonly PartitionLog[];
  readonly batchSize: number;
  readonly handler: CoreHandler | RecordHandler;
  /** Whether `handler` is a {@link CoreHandler} (wrapped to pass partition and offset) or a raw RecordHandler. */
  readonly raw?: boolean;
  /**
   * Splits batch time into phases (one partition only). Store calls are timed only if the consumer's store was
   * wrapped with {@link BatchPhases.timeStore}.
   */
  readonly phases?: BatchPhases;
}

/** What a Tidemark run did besides its timing. */
export interface TidemarkRunResult extends RunResult {
  readonly handled: number;
  readonly skipped: number;
  /** Batches answered with a batch item failure (resumed from the reported offset). */
  readonly redeliveries: number;
}

/** What the partitions of one run add up to while they are delivered. */
interface Tally {
  readonly batchMs: number[];
  handled: number;
  skipped: number;
  redeliveries: number;
}

/**
 * (c) Tidemark: the real Dispatcher with the InlineRunner, fed the way Lambda's event source feeds it. It stays
 * warm between runs, as a Lambda execution environment does between batches: one processor, one Dispatcher
 * ("container") per partition with its layout cache. So that the tokens of earlier runs cover nothing, each run
 * delivers its logs at offsets past everything delivered before; handlers still see the workload's own offsets.
 */
export class KeyOrderedConsumer {
  private readonly processor: Processor;
  private readonly dispatchers = new Map<number, Dispatcher>();
  private handler: RecordHandler = () => Promise.reject(new Error('no run in progress'));
  /** Added to every offset of the next run. */
  private base = 0;
  /** Invocations so far: each gets an id of its own, as Lambda's request ids are. */
  private invocations = 0;

  constructor(private readonly options: KeyOrderedConsumerOptions) {
    this.processor = defineProcessor({
      name: options.processorName,
      topics: [BENCH_TOPIC],
      handler: (record, context) => this.handler(record, context),
      concurrency: options.concurrency,
      initialSegments: options.segments,
    });
  }

  /** Delivers every log, one batch per partition at a time and all partitions at once, until all is handled. */
  async run(run: ConsumerRun): Promise<TidemarkRunResult> {
    if (run.phases && run.logs.length !== 1) throw new Error('batch phases are measured on one partition only');
    const base = this.base;
    this.base += Math.max(...run.logs.map((log) => log.records.length));
    this.handler = this.recordHandler(run, base);
    // Shifted before the clock starts, so the copying is not timed.
    const shifted = run.logs.map((log) => ({
      ...log,
      records: base === 0 ? log.records : log.records.map((record) => ({ ...record, offset: record.offset + base })),
    }));
    const tally: Tally = { batchMs: [], handled: 0, skipped: 0, redeliveries: 0 };
    const started = performance.now();
    await Promise.all(shifted.map((log) => this.deliver(log, run, base, tally)));
    const elapsed = performance.now() - started;
    const records = run.logs.reduce((n, log) => n + log.records.length, 0);
    const { batchMs, ...totals } = tally;
    return { ...result(records, elapsed, batchMs), ...totals };
  }

  /** The processor's handler for this run: the workload's own offsets, and the phase marks when timed. */
  private recordHandler(run: ConsumerRun, base: number): RecordHandler {
    const { phases } = run;
    const core = run.handler as CoreHandler;
    if (run.raw) return run.handler as RecordHandler;
    if (!phases) return (record) => core(record.partition, record.offset - base);
    return async (record) => {
      phases.handlerStart();
      await core(record.partition, record.offset - base);
      phases.handlerEnd();
    };
  }

  /** One partition's batches, one at a time, resuming from the offset each response reports, as Lambda does. */
  private async deliver(log: PartitionLog, run: ConsumerRun, base: number, tally: Tally): Promise<void> {
    const { phases } = run;
    const dispatcher = this.dispatcherFor(log.partition);
    let from = 0;
    while (from < log.records.length) {
      const event = eventFrom(log, from, run.batchSize);
      const delivered = event.records[topicPartitionId(log.topic, log.partition)]!.length;
      const invokedAt = Date.now();
      phases?.begin();
      const t0 = performance.now();
      const { response, partitions } = await dispatcher.dispatch(event, {
        remainingMs: () => FUNCTION_TIMEOUT_MS - (Date.now() - invokedAt),
        invocationId: `bench-${log.partition}-${this.invocations++}`,
      });
      tally.batchMs.push(performance.now() - t0);
      phases?.end();
      for (const report of partitions) {
        tally.handled += report.handled;
        tally.skipped += report.skipped;
      }
      const failure = response.batchItemFailures[0];
      if (!failure) {
        from += delivered;
        continue;
      }
      tally.redeliveries++;
      if (tally.redeliveries > 1_000)
        throw new Error(`partition ${log.partition} keeps failing at offset ${failure.itemIdentifier.offset}`);
      from = failure.itemIdentifier.offset - base;
    }
  }

  private dispatcherFor(partition: number): Dispatcher {
    let dispatcher = this.dispatchers.get(partition);
    if (!dispatcher) {
      dispatcher = new Dispatcher({
        processor: this.processor,
        store: this.options.store,
        runner: new InlineRunner({ clock: Date.now }),
        settings: this.options.settings,
        logger: silentLogger,
      });
      this.dispatchers.set(partition, dispatcher);
    }
    return dispatcher;
  }
}

/** One run of a new key-ordered consumer: a cold container, which reads and creates its processor's layout. */
export function runTidemark(options: KeyOrderedConsumerOptions & ConsumerRun): Promise<TidemarkRunResult> {
  return new KeyOrderedConsumer(options).run(options);
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
