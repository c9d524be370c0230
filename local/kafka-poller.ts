import type { Consumer, EachBatchPayload, LogEntry, logLevel } from 'kafkajs';
import { ConfigurationError } from '../shared/errors.js';
import { KafkaEventSource, type RawKafkaEvent, type RawKafkaRecord } from '../shared/kafka/kafka-event.js';
import { TimestampType, topicPartitionId } from '../shared/kafka/kafka-record.js';
import { describeError, silentLogger, type Logger } from '../shared/observability/logger.js';
import { importPeer } from './peers.js';

/** kafkajs's log levels (its `logLevel`), here so that importing the poller does not load kafkajs. */
export const KafkaLogLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;
export type KafkaLogLevel = (typeof KafkaLogLevel)[keyof typeof KafkaLogLevel];

/**
 * A Lambda-like Kafka event source on kafkajs: consumes with a consumer group and hands batches to a function in
 * the exact event shape Lambda's self-managed Kafka event source uses, honouring partial batch responses.
 *
 * Semantics (what Lambda does, see BRIEF §3):
 * - one event holds the records of one partition; each partition has at most one delivery in flight, and
 *   partitions never wait for each other;
 * - a delivery starts when `batchSize` records (or `maxEventBytes` of event) are waiting, or when the batching
 *   window since the first waiting record has passed;
 * - no failure reported for the partition: the group's offset is committed past the batch;
 * - the lowest reported failure at offset `o`: `o` is committed and the partition is read again from `o`;
 * - the function throws or answers something that is not a valid partial batch response (an offset it was not
 *   given, another partition, a string): nothing is committed and the whole batch is delivered again.
 *
 * Offsets are committed only by this poller (kafkajs `autoCommit: false`), only forward and only for partitions the
 * group still assigns to it, so the committed offset never passes a record the function has not finished.
 *
 * kafkajs is an optional peer dependency: it is loaded by `start()`, which names it when it is missing.
 */

/** The partial batch response of a Kafka-triggered function (see shared/dispatcher.ts `KafkaBatchResponse`). */
export interface DeliveryResponse {
  readonly batchItemFailures: ReadonlyArray<{
    readonly itemIdentifier: { readonly partition: string; readonly offset: number };
  }>;
}

/** The function the poller invokes, as Lambda invokes a Kafka-triggered function (e.g. the dispatch handler). */
export type DeliverFunction = (event: RawKafkaEvent) => Promise<DeliveryResponse | null | undefined | void>;

/** Where a new consumer group starts (an existing group's committed offsets always win, as with Lambda). */
export const StartingPosition = {
  /** From the earliest retained record. */
  TrimHorizon: 'TRIM_HORIZON',
  /** Only records produced after the group first joins. */
  Latest: 'LATEST',
} as const;
export type StartingPosition = (typeof StartingPosition)[keyof typeof StartingPosition];

/** Settings of {@link KafkaPoller}. */
export interface KafkaPollerOptions {
  /** `host:port` of the bootstrap brokers; also sent, comma-joined, as the event's `bootstrapServers`. */
  readonly brokers: readonly string[];
  /** The topics to consume (at least one). */
  readonly topics: readonly string[];
  /** The consumer group (Lambda's `ConsumerGroupId`). */
  readonly groupId: string;
  /** Invoked with each batch. */
  readonly deliver: DeliverFunction;
  /** Most records in one event, 1 to 10000. @default 100 */
  readonly batchSize?: number;
  /** How long to wait for a full batch after the first record arrives, 0 to 300000 ms. @default 500 */
  readonly batchingWindowMs?: number;
  /** Largest event (its JSON) to build; a single larger record is still sent alone. @default 6291456 (6 MB) */
  readonly maxEventBytes?: number;
  /** Wait this long before delivering a partition again after a failure or error. @default 100 */
  readonly retryDelayMs?: number;
  /** Where a group without committed offsets starts. @default "TRIM_HORIZON" */
  readonly startingPosition?: StartingPosition;
  /** How long `start()` waits to join the group. @default 60000 */
  readonly joinTimeoutMs?: number;
  /**
   * Batches' worth of records fetched ahead per partition while a delivery runs; fetching the partition pauses
   * beyond that (or beyond this many times `maxEventBytes`). @default 3
   */
  readonly prefetchBatches?: number;
  /**
   * The longest a fetch waits at the broker for new records. kafkajs fetches all partitions of a broker in one
   * request, so a partition resumed after a pause also waits for the fetch in flight; this also bounds how long
   * `stop()` waits. @default 100
   */
  readonly maxWaitTimeInMs?: number;
  /**
   * The group session timeout: a member silent this long is dropped. Also how long a rebalance after a member
   * leaves may take on brokers that wait for it (librdkafka's mock cluster waits for this less one second).
   * @default 30000
   */
  readonly sessionTimeoutMs?: number;
  /** How often the consumer heartbeats; well under `sessionTimeoutMs`. @default 3000 */
  readonly heartbeatIntervalMs?: number;
  /** kafkajs client id. @default "tidemark-poller" */
  readonly clientId?: string;
  /** Poller and kafkajs logs. @default silentLogger */
  readonly logger?: Logger;
  /** kafkajs messages at or above this level go to `logger`. @default logLevel.WARN */
  readonly kafkaLogLevel?: KafkaLogLevel;
  /** Called after every delivery, once its commit (if any) is done. For metrics and tests. */
  readonly onDelivery?: (report: DeliveryReport) => void;
}

/** What one delivery did. */
export interface DeliveryReport {
  /** `"<topic>-<partition>"`. */
  readonly topicPartition: string;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly records: number;
  /**
   * `succeeded`: no failure for the partition; `partial`: a failure was reported at `redeliverFrom`; `failed`: the
   * function threw or its response was invalid, so the whole batch is delivered again.
   */
  readonly outcome: 'succeeded' | 'partial' | 'failed';
  /** The offset the partition is read from again, for `partial` and `failed`. */
  readonly redeliverFrom: number | undefined;
  /** The offset committed for the group after this delivery; `undefined` when nothing new was committed. */
  readonly committed: number | undefined;
  /** Why the delivery failed (`failed` only). */
  readonly error: { name: string; message: string } | undefined;
}

/** Counters since `start()`. */
export interface KafkaPollerStats {
  deliveries: number;
  records: number;
  partialFailures: number;
  functionErrors: number;
  commits: number;
  commitErrors: number;
}

/** The defaults of the optional {@link KafkaPollerOptions}. */
export const DEFAULT_KAFKA_POLLER_OPTIONS = Object.freeze({
  batchSize: 100,
  batchingWindowMs: 500,
  maxEventBytes: 6 * 1024 * 1024,
  retryDelayMs: 100,
  startingPosition: StartingPosition.TrimHorizon as StartingPosition,
  joinTimeoutMs: 60_000,
  prefetchBatches: 3,
  maxWaitTimeInMs: 100,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  clientId: 'tidemark-poller',
  kafkaLogLevel: KafkaLogLevel.WARN,
});

type Settings = typeof DEFAULT_KAFKA_POLLER_OPTIONS;

/** A record waiting for delivery, already in Lambda's shape. */
interface Pending {
  readonly offset: number;
  readonly raw: RawKafkaRecord;
  readonly bytes: number;
  /** When it was fetched: it waits at most the batching window from then (unless a delivery is in flight). */
  readonly arrivedAt: number;
}

/** One partition's state: what is buffered, what is committed and whether a delivery is in flight. */
interface Partition {
  readonly topic: string;
  readonly partition: number;
  readonly id: string;
  assigned: boolean;
  buffer: Pending[];
  bufferedBytes: number;
  /** The offset expected next from fetches; records below it are already buffered or done. */
  next: number | undefined;
  /** The offset this poller last committed for the group. */
  committed: number | undefined;
  /** No delivery before this time (after a failure). */
  notBefore: number;
  delivering: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  paused: boolean;
}

/** The fields of a fetched kafkajs message (its `KafkaMessage`) that a Lambda record is made of. */
export interface FetchedMessage {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, Buffer | string | ReadonlyArray<Buffer | string> | undefined>>;
}

/** Converts a fetched kafkajs message into the record shape of a Lambda Kafka event. */
export function toLambdaRecord(topic: string, partition: number, message: FetchedMessage): RawKafkaRecord {
  // kafkajs keeps the record batch's timestamp type on each decoded record (not in its typings).
  const batchContext = (message as { batchContext?: { timestampType?: number } }).batchContext;
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: batchContext?.timestampType === 1 ? TimestampType.LogAppendTime : TimestampType.CreateTime,
    ...(message.key === null ? {} : { key: message.key.toString('base64') }),
    value: message.value === null ? null : message.value.toString('base64'),
    headers: lambdaHeaders(message.headers),
  };
}

/** Headers as Lambda sends them: one-entry objects of Java's signed bytes; a repeated name gives repeated entries. */
function lambdaHeaders(headers: FetchedMessage['headers']): Array<Record<string, number[]>> {
  const entries: Array<Record<string, number[]>> = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      // A header without a value (null on the wire) comes through as no bytes.
      const bytes = one === undefined || one === null ? Buffer.alloc(0) : Buffer.isBuffer(one) ? one : Buffer.from(one);
      entries.push({ [name]: Array.from(bytes, (byte) => (byte << 24) >> 24) });
    }
  }
  return entries;
}

function resolveOptions(options: KafkaPollerOptions): Settings {
  const fail = (message: string) => {
    throw new ConfigurationError(message);
  };
  if (options.brokers.length === 0) fail('brokers must name at least one "host:port", got none');
  if (options.topics.length === 0) fail('topics must name at least one topic, got none');
  if (typeof options.groupId !== 'string' || options.groupId === '') {
    fail(`groupId must be a non-empty string, got ${JSON.stringify(options.groupId)}`);
  }
  if (typeof options.deliver !== 'function') fail('deliver must be a function');
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const settings = { ...DEFAULT_KAFKA_POLLER_OPTIONS, ...defined } as Settings;
  const whole = (name: keyof Settings, min: number, max: number) => {
    const value = settings[name] as number;
    if (!Number.isInteger(value) || value < min || value > max) {
      fail(`${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
    }
  };
  whole('batchSize', 1, 10_000);
  whole('batchingWindowMs', 0, 300_000);
  whole('maxEventBytes', 1_024, 64 * 1024 * 1024);
  whole('retryDelayMs', 0, 600_000);
  whole('joinTimeoutMs', 1, 600_000);
  whole('prefetchBatches', 1, 100);
  whole('maxWaitTimeInMs', 0, 60_000);
  whole('sessionTimeoutMs', 1_000, 3_600_000);
  whole('heartbeatIntervalMs', 100, 3_600_000);
  if (settings.heartbeatIntervalMs * 2 > settings.sessionTimeoutMs) {
    fail(
      `heartbeatIntervalMs must be at most half of sessionTimeoutMs (${settings.sessionTimeoutMs}), got ${settings.heartbeatIntervalMs}`,
    );
  }
  if (!Object.values(StartingPosition).includes(settings.startingPosition)) {
    fail(
      `startingPosition must be ${Object.values(StartingPosition).join(' or ')}, got ${String(settings.startingPosition)}`,
    );
  }
  return settings;
}

/** Sends kafkajs's log lines at or above `threshold` to a Tidemark logger. */
function kafkaLogCreator(logger: Logger, threshold: KafkaLogLevel) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      if (level === KafkaLogLevel.NOTHING || level > threshold) return;
      const { message, ...fields } = log;
      const line = `kafkajs ${namespace}: ${message}`;
      if (level === KafkaLogLevel.ERROR) logger.error(line, fields);
      else if (level === KafkaLogLevel.WARN) logger.warn(line, fields);
      else if (level === KafkaLogLevel.INFO) logger.info(line, fields);
      else logger.debug(line, fields);
    };
}

/** What a delivery's response means for the partition. */
type Verdict =
  | { kind: 'succeeded' }
  | { kind: 'partial'; from: number }
  | { kind: 'failed'; error: { name: string; message: string } };

/**
 * Reads a partial batch response for one partition's batch. A response that is not an object with a
 * `batchItemFailures` array, or that names another partition or an offset not in the batch, is invalid: like an
 * error, it sends the whole batch again, since guessing could skip records.
 */
function judge(response: unknown, topicPartition: string, offsets: ReadonlySet<number>): Verdict {
  if (response === undefined || response === null) return { kind: 'succeeded' };
  const invalid = (message: string): Verdict => ({
    kind: 'failed',
    error: { name: 'InvalidBatchResponse', message },
  });
  if (typeof response !== 'object' || Array.isArray(response)) {
    return invalid(`the response must be an object with batchItemFailures, got ${typeof response}`);
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'succeeded' };
  if (!Array.isArray(failures)) return invalid('batchItemFailures must be an array');
  let lowest: number | undefined;
  for (const failure of failures as unknown[]) {
    const identifier = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier as
      { partition?: unknown; offset?: unknown } | undefined;
    const offset = typeof identifier?.offset === 'string' ? Number(identifier.offset) : identifier?.offset;
    if (identifier?.partition !== topicPartition || typeof offset !== 'number' || !offsets.has(offset)) {
      return invalid(`batchItemFailures names ${JSON.stringify(identifier ?? failure)}, not a record of this batch`);
    }
    lowest = lowest === undefined ? offset : Math.min(lowest, offset);
  }
  return lowest === undefined ? { kind: 'succeeded' } : { kind: 'partial', from: lowest };
}

/**
 * A Lambda-like poller: see the module comment for the delivery and commit rules.
 *
 * ```ts
 * const handler = createDispatchHandler(processor);
 * const poller = new KafkaPoller({
 *   brokers,
 *   topics: ['orders'],
 *   groupId: 'orders-view',
 *   deliver: (event) => handler(event, lambdaContext(60_000, randomUUID())), // local/lambda-context.ts
 * });
 * await poller.start(); // resolves once the group is joined
 * // ...
 * await poller.stop(); // resolves once in-flight deliveries are committed and the group is left
 * ```
 *
 * Rebalances behave as with Lambda: a partition taken away mid-delivery is not committed by this poller, and its
 * new owner may deliver the same records at the same time (the token store makes that harmless).
 */
export class KafkaPoller {
  /** Counters since `start()`. */
  readonly stats: KafkaPollerStats = {
    deliveries: 0,
    records: 0,
    partialFailures: 0,
    functionErrors: 0,
    commits: 0,
    commitErrors: 0,
  };
  private readonly settings: Settings;
  private readonly logger: Logger;
  /** Created by `start()`, which loads kafkajs. */
  private consumer: Consumer | undefined;
  private readonly partitions = new Map<string, Partition>();
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private crash: Error | undefined;

  /** Checks the settings (a {@link ConfigurationError} names the one out of bounds); nothing connects until `start()`. */
  constructor(private readonly options: KafkaPollerOptions) {
    this.settings = resolveOptions(options);
    this.logger = options.logger ?? silentLogger;
  }

  private async createConsumer(): Promise<Consumer> {
    const { Kafka } = await importPeer('kafkajs', () => import('kafkajs'));
    const kafka = new Kafka({
      clientId: this.settings.clientId,
      brokers: [...this.options.brokers],
      logLevel: this.settings.kafkaLogLevel as number as logLevel,
      logCreator: kafkaLogCreator(this.logger, this.settings.kafkaLogLevel),
    });
    return kafka.consumer({
      groupId: this.options.groupId,
      maxWaitTimeInMs: this.settings.maxWaitTimeInMs,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: this.settings.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
    });
  }

  /** The consumer, once `start()` made it (everything that uses it runs after that). */
  private get kafka(): Consumer {
    if (!this.consumer) throw new Error('the poller has not started');
    return this.consumer;
  }

  /**
   * Why the consumer stopped for good (kafkajs crashed with an error it does not restart from), if it did. Such a
   * poller delivers nothing more; `stop()` still cleans up.
   */
  get failure(): Error | undefined {
    return this.crash;
  }

  /** The offset this poller last committed per `"<topic>-<partition>"`. */
  committedOffsets(): Map<string, number> {
    const committed = new Map<string, number>();
    for (const p of this.partitions.values()) if (p.committed !== undefined) committed.set(p.id, p.committed);
    return committed;
  }

  /**
   * Connects, subscribes and resolves once the consumer group is joined (deliveries start right after).
   * Rejects, with the poller stopped, if the group cannot be joined within `joinTimeoutMs`.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ConfigurationError(`start() may be called once, the poller is ${this.state}`);
    this.state = 'starting';
    const consumer = await this.createConsumer().catch((error: unknown) => {
      this.state = 'stopped';
      throw error;
    });
    if (this.state !== 'starting') throw new Error(`the poller was stopped while it started`);
    this.consumer = consumer;
    let onJoin!: () => void;
    let onFatal!: (error: Error) => void;
    const joined = new Promise<void>((resolve, reject) => {
      onJoin = resolve;
      onFatal = reject;
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.reassign(payload.memberAssignment);
      onJoin();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error('the Kafka consumer crashed', {
        error: describeError(payload.error),
        restart: payload.restart,
      });
      // kafkajs refetches from the committed offsets after a restart: forget what was buffered.
      for (const p of this.partitions.values()) this.resync(p);
      if (!payload.restart) {
        this.crash = payload.error;
        onFatal(payload.error);
      }
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({
        topics: [...this.options.topics],
        fromBeginning: this.settings.startingPosition === StartingPosition.TrimHorizon,
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.onBatch(payload),
      });
      await Promise.race([
        joined,
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `did not join consumer group "${this.options.groupId}" within ${this.settings.joinTimeoutMs} ms`,
                ),
              ),
            this.settings.joinTimeoutMs,
          );
        }),
      ]);
      this.state = 'running';
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops taking new batches, waits for every delivery in flight and its commit, then leaves the group and
   * disconnects. Records fetched but not yet delivered are not committed: the group delivers them again later.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopping';
      for (const p of this.partitions.values()) {
        clearTimeout(p.timer);
        p.timer = undefined;
      }
      await Promise.all([...this.partitions.values()].map((p) => p.delivering));
      try {
        await this.consumer?.disconnect();
      } finally {
        this.state = 'stopped';
      }
    })();
    return this.stopping;
  }

  private partitionState(topic: string, partition: number): Partition {
    const id = topicPartitionId(topic, partition);
    let p = this.partitions.get(id);
    if (!p) {
      p = {
        topic,
        partition,
        id,
        assigned: true,
        buffer: [],
        bufferedBytes: 0,
        next: undefined,
        committed: undefined,
        notBefore: 0,
        delivering: undefined,
        timer: undefined,
        paused: false,
      };
      this.partitions.set(id, p);
    }
    return p;
  }

  /** A new assignment after a (re)join: partitions taken away forget their buffer and stop committing. */
  private reassign(assignment: Record<string, number[]>): void {
    const assigned = new Set(
      Object.entries(assignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => topicPartitionId(topic, partition)),
      ),
    );
    for (const p of this.partitions.values()) {
      p.assigned = assigned.has(p.id);
      // A revoked partition may come back later, from the group's committed offset.
      if (!p.assigned) this.resync(p);
      // Pauses do not survive a rejoin in our bookkeeping; kafkajs keeps them, so lift them.
      if (p.paused) this.resume(p);
    }
  }

  /** Forgets buffered records; the next fetch (from wherever kafkajs is) starts the buffer again. */
  private resync(p: Partition): void {
    p.buffer = [];
    p.bufferedBytes = 0;
    p.next = undefined;
    clearTimeout(p.timer);
    p.timer = undefined;
  }

  /** Called by kafkajs with fetched records; buffers them and returns at once (delivery runs on its own). */
  private async onBatch({ batch, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    // A batch fetched before a seek of ours (kafkajs applies seeks on the next fetch) is out of date.
    if (this.state === 'stopping' || this.state === 'stopped' || isStale()) return;
    const p = this.partitionState(batch.topic, batch.partition);
    if (!p.assigned) return;
    const now = Date.now();
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      // Below `next`: buffered already (kafkajs refetches from the committed offset after a rejoin).
      if ((p.next !== undefined && offset < p.next) || (p.committed !== undefined && offset < p.committed)) continue;
      const raw = toLambdaRecord(batch.topic, batch.partition, message);
      const bytes = Buffer.byteLength(JSON.stringify(raw)) + 1;
      p.buffer.push({ offset, raw, bytes, arrivedAt: now });
      p.bufferedBytes += bytes;
      p.next = offset + 1;
    }
    // kafkajs fetches next from the offset after the last resolved one.
    resolveOffset(batch.lastOffset());
    // Enough is waiting: stop fetching the partition until deliveries take some.
    if (!p.paused && this.bufferFull(p)) {
      this.kafka.pause([{ topic: p.topic, partitions: [p.partition] }]);
      p.paused = true;
    }
    this.schedule(p);
  }

  private bufferFull(p: Partition): boolean {
    const { batchSize, maxEventBytes, prefetchBatches } = this.settings;
    return p.buffer.length >= batchSize * prefetchBatches || p.bufferedBytes >= maxEventBytes * prefetchBatches;
  }

  private resume(p: Partition): void {
    if (!p.paused) return;
    p.paused = false;
    try {
      this.kafka.resume([{ topic: p.topic, partitions: [p.partition] }]);
    } catch (error) {
      // The consumer is restarting; a new run starts unpaused.
      this.logger.debug('could not resume a partition', { topicPartition: p.id, error: describeError(error) });
    }
  }

  /** Starts a delivery if one is due, or sets a timer for when it will be. */
  private schedule(p: Partition): void {
    if (p.delivering || p.buffer.length === 0 || (this.state !== 'running' && this.state !== 'starting')) return;
    const now = Date.now();
    const full = p.buffer.length >= this.settings.batchSize || p.bufferedBytes >= this.settings.maxEventBytes;
    const due = Math.max(p.notBefore, full ? now : p.buffer[0]!.arrivedAt + this.settings.batchingWindowMs);
    if (due > now) {
      if (!p.timer) {
        p.timer = setTimeout(() => {
          p.timer = undefined;
          this.schedule(p);
        }, due - now);
      }
      return;
    }
    clearTimeout(p.timer);
    p.timer = undefined;
    p.delivering = this.deliver(p).finally(() => {
      p.delivering = undefined;
      this.schedule(p);
    });
  }

  /** Takes the head of the buffer as one event, invokes the function and acts on its answer. */
  private async deliver(p: Partition): Promise<void> {
    let count = 0;
    let bytes = 0;
    while (count < p.buffer.length && count < this.settings.batchSize) {
      const next = p.buffer[count]!.bytes;
      if (count > 0 && bytes + next > this.settings.maxEventBytes) break;
      bytes += next;
      count++;
    }
    const batch = p.buffer.slice(0, count);
    const first = batch[0]!.offset;
    const last = batch[batch.length - 1]!.offset;
    const event: RawKafkaEvent = {
      eventSource: KafkaEventSource.SelfManaged,
      bootstrapServers: this.options.brokers.join(','),
      records: { [p.id]: batch.map((pending) => pending.raw) },
    };
    this.stats.deliveries++;
    this.stats.records += batch.length;

    let verdict: Verdict;
    try {
      verdict = judge(await this.options.deliver(event), p.id, new Set(batch.map((pending) => pending.offset)));
    } catch (error) {
      verdict = { kind: 'failed', error: describeError(error) };
    }

    // Bookkeeping happens before any await, so a batch kafkajs hands over meanwhile sees the new position.
    let commitTo: number | undefined;
    let redeliverFrom: number | undefined;
    if (verdict.kind === 'succeeded') {
      p.buffer = p.buffer.slice(count);
      p.bufferedBytes -= bytes;
      commitTo = last + 1;
    } else {
      redeliverFrom = verdict.kind === 'partial' ? verdict.from : first;
      // Everything before the failed record is done, as Lambda reads a partial batch response.
      if (verdict.kind === 'partial' && redeliverFrom > first) commitTo = redeliverFrom;
      if (verdict.kind === 'partial') this.stats.partialFailures++;
      else this.stats.functionErrors++;
      this.resync(p);
      p.notBefore = Date.now() + this.settings.retryDelayMs;
      if (p.assigned) this.seek(p, redeliverFrom);
      if (verdict.kind === 'failed') {
        this.logger.warn('delivery failed; the whole batch is delivered again', {
          topicPartition: p.id,
          firstOffset: first,
          lastOffset: last,
          error: verdict.error,
        });
      }
    }
    if (p.paused && !this.bufferFull(p)) this.resume(p);

    let committed: number | undefined;
    if (commitTo !== undefined && p.assigned && (p.committed === undefined || commitTo > p.committed)) {
      try {
        await this.kafka.commitOffsets([{ topic: p.topic, partition: p.partition, offset: String(commitTo) }]);
        p.committed = commitTo;
        committed = commitTo;
        this.stats.commits++;
      } catch (error) {
        // Not lost: the records are delivered again from the last committed offset after a restart or rebalance.
        this.stats.commitErrors++;
        this.logger.warn('commit failed; a later commit covers it', {
          topicPartition: p.id,
          offset: commitTo,
          error: describeError(error),
        });
      }
    }
    this.logger.debug('delivered', {
      topicPartition: p.id,
      firstOffset: first,
      lastOffset: last,
      outcome: verdict.kind,
      committed,
    });
    this.options.onDelivery?.({
      topicPartition: p.id,
      firstOffset: first,
      lastOffset: last,
      records: batch.length,
      outcome: verdict.kind,
      redeliverFrom,
      committed,
      error: verdict.kind === 'failed' ? verdict.error : undefined,
    });
  }

  private seek(p: Partition, offset: number): void {
    try {
      this.kafka.seek({ topic: p.topic, partition: p.partition, offset: String(offset) });
      p.next = offset;
    } catch (error) {
      // The consumer is restarting: it will fetch from the committed offset, which is at or below `offset`.
      this.logger.debug('could not seek a partition', { topicPartition: p.id, offset, error: describeError(error) });
    }
  }
}
