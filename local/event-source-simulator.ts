import type { KafkaBatchResponse } from '../shared/processing/dispatcher.js';
import type { RawKafkaEvent, RawKafkaRecord } from '../shared/kafka/kafka-event.js';
import { topicPartitionId } from '../shared/kafka/kafka-record.js';

/** A topic's records in memory, appended by a producer and read by the simulator. */
export class TopicLog {
  private readonly partitions: RawKafkaRecord[][];

  constructor(
    readonly topic: string,
    partitionCount: number,
  ) {
    this.partitions = Array.from({ length: partitionCount }, () => []);
  }

  get partitionCount(): number {
    return this.partitions.length;
  }

  /** Appends a record; returns its offset. */
  append(partition: number, record: Omit<RawKafkaRecord, 'topic' | 'partition' | 'offset'>): number {
    const log = this.partitions[partition]!;
    const offset = log.length;
    log.push({ ...record, topic: this.topic, partition, offset });
    return offset;
  }

  /** Up to `max` records of a partition from `offset`. */
  read(partition: number, offset: number, max: number): RawKafkaRecord[] {
    return this.partitions[partition]!.slice(offset, offset + max);
  }

  /** The offset the next record of the partition will get. */
  end(partition: number): number {
    return this.partitions[partition]!.length;
  }
}

/** What Lambda's event source mapping would be configured with. */
export interface EventSourceSettings {
  /** @default 100 */
  readonly batchSize: number;
  /** Wait this long for a full batch before sending a partial one. @default 500 */
  readonly batchingWindowMs: number;
  /** Retries of a failing batch before it goes to the on-failure destination; -1 retries forever. @default -1 */
  readonly maxRetryAttempts: number;
  /** Records older than this go to the on-failure destination instead; -1 for no limit. @default -1 */
  readonly maxRecordAgeMs: number;
  /** Chance per batch of a rebalance: the batch is also delivered, at once, to a second container. @default 0 */
  readonly duplicateRate: number;
  /** Chance per batch of a rebalance that restarts a little before the committed offset. @default 0 */
  readonly rewindRate: number;
  /** Time budget of one invocation (the function timeout). @default 60000 */
  readonly timeoutMs: number;
}

export const DEFAULT_EVENT_SOURCE_SETTINGS: EventSourceSettings = {
  batchSize: 100,
  batchingWindowMs: 500,
  maxRetryAttempts: -1,
  maxRecordAgeMs: -1,
  duplicateRate: 0,
  rewindRate: 0,
  timeoutMs: 60_000,
};

/** One invocation of the function: which container runs it and how much time it has. */
export type Invoke = (
  event: RawKafkaEvent,
  invocation: { container: number; requestId: string; remainingMs: () => number },
) => Promise<KafkaBatchResponse>;

/** A batch given up on after its retries or record age ran out, as an on-failure destination receives it. */
export interface ParkedBatch {
  readonly topicPartition: string;
  readonly fromOffset: number;
  readonly toOffset: number;
  readonly reason: 'retries exhausted' | 'record too old';
  readonly records: readonly RawKafkaRecord[];
}

/** Counters of what the simulator did. */
export interface SimulatorStats {
  batches: number;
  records: number;
  partialFailures: number;
  functionErrors: number;
  duplicates: number;
  rewinds: number;
}

/**
 * Delivers a topic to a function the way Lambda's Kafka event source does: per partition one batch at a time from
 * the committed offset; a full batch, or what arrived within the batching window; a function error retries the
 * whole batch; a partial batch response resumes the partition from its lowest reported offset; rebalances deliver
 * a batch twice at once or restart before the committed offset; retries and record age are limited, and batches
 * given up on go to the on-failure destination.
 */
export class EventSourceSimulator {
  readonly settings: EventSourceSettings;
  readonly parked: ParkedBatch[] = [];
  readonly stats: SimulatorStats = {
    batches: 0,
    records: 0,
    partialFailures: 0,
    functionErrors: 0,
    duplicates: 0,
    rewinds: 0,
  };
  private readonly committed: number[];
  private producing = true;
  private stopped = false;
  /** Set while paused (a disabled mapping): resolves on resume. */
  private pausedUntil: { promise: Promise<void>; resume: () => void } | undefined;
  private inFlight = 0;
  private loops: Promise<void>[] = [];
  private requests = 0;

  constructor(
    private readonly log: TopicLog,
    private readonly invoke: Invoke,
    settings: Partial<EventSourceSettings> = {},
    private readonly random: () => number = Math.random,
    private readonly eventSource: Pick<RawKafkaEvent, 'eventSource' | 'eventSourceArn' | 'bootstrapServers'> = {
      eventSource: 'aws:kafka',
      eventSourceArn:
        'arn:aws:kafka:us-east-1:123456789012:cluster/tidemark-local/00000000-0000-0000-0000-000000000000-1',
      bootstrapServers: 'b-1.tidemark-local:9098',
    },
  ) {
    this.settings = { ...DEFAULT_EVENT_SOURCE_SETTINGS, ...settings };
    this.committed = Array.from({ length: log.partitionCount }, () => 0);
  }

  /** The committed offset of a partition (the next one Lambda would deliver). */
  committedOffset(partition: number): number {
    return this.committed[partition]!;
  }

  /** Starts one delivery loop per partition. */
  start(): this {
    this.loops = this.committed.map((_, partition) => this.run(partition));
    return this;
  }

  /** Says the producer is done; resolves once every partition is committed to its end. */
  async finish(): Promise<void> {
    this.producing = false;
    this.resume();
    await Promise.all(this.loops);
  }

  /**
   * Stops delivering without finishing what is left: each partition's loop ends once its invocation in flight (if
   * any) returns. Resolves then.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.producing = false;
    this.resume();
    await Promise.all(this.loops);
  }

  /**
   * Stops delivering, as disabling the mapping does: each partition's invocation in flight finishes, then nothing more
   * is delivered until {@link resume}. `paused` is true from then on; `idle` says when the last invocation returned.
   */
  pause(): void {
    if (this.pausedUntil) return;
    let resume = () => {};
    const promise = new Promise<void>((resolve) => (resume = resolve));
    this.pausedUntil = { promise, resume };
  }

  resume(): void {
    this.pausedUntil?.resume();
    this.pausedUntil = undefined;
  }

  get paused(): boolean {
    return this.pausedUntil !== undefined;
  }

  /** No invocation is in flight: with {@link paused}, the consumer group is empty. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  private async run(partition: number): Promise<void> {
    let attempts = 0;
    for (;;) {
      while (this.pausedUntil && !this.stopped) await this.pausedUntil.promise;
      const from = this.committed[partition]!;
      if (this.stopped || (!this.producing && from >= this.log.end(partition))) return;
      const batch = await this.nextBatch(partition, from);
      if (this.stopped) return;
      if (batch.length === 0) continue;
      const tooOld =
        this.settings.maxRecordAgeMs >= 0 && Date.now() - batch[0]!.timestamp > this.settings.maxRecordAgeMs;
      if (tooOld || (this.settings.maxRetryAttempts >= 0 && attempts > this.settings.maxRetryAttempts)) {
        this.park(partition, batch, tooOld ? 'record too old' : 'retries exhausted');
        attempts = 0;
        continue;
      }
      const rewind = this.random() < this.settings.rewindRate ? Math.floor(this.random() * this.settings.batchSize) : 0;
      if (rewind > 0) {
        this.stats.rewinds++;
        this.committed[partition] = Math.max(0, from - rewind);
        continue;
      }
      if (this.pausedUntil) continue;
      this.inFlight++;
      const outcome = await this.deliver(partition, batch).finally(() => this.inFlight--);
      if (outcome === 'error') {
        attempts++;
        continue;
      }
      const next = outcome ?? from + batch.length;
      // Lambda counts a batch that made no progress as a retry of it.
      attempts = next > from ? 0 : attempts + 1;
      this.committed[partition] = next;
    }
  }

  /** A full batch, or what is there once the batching window closes. */
  private async nextBatch(partition: number, from: number): Promise<RawKafkaRecord[]> {
    const deadline = Date.now() + this.settings.batchingWindowMs;
    for (;;) {
      const batch = this.log.read(partition, from, this.settings.batchSize);
      if (batch.length === this.settings.batchSize || (batch.length > 0 && Date.now() >= deadline)) return batch;
      if (!this.producing) return batch;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(20, deadline - Date.now()))));
    }
  }

  /** Invokes the function (twice at once on a rebalance); returns the offset to resume from, or 'error'. */
  private async deliver(partition: number, batch: RawKafkaRecord[]): Promise<number | undefined | 'error'> {
    const topicPartition = topicPartitionId(this.log.topic, partition);
    const event: RawKafkaEvent = { ...this.eventSource, records: { [topicPartition]: batch } };
    const duplicate = this.random() < this.settings.duplicateRate;
    if (duplicate) this.stats.duplicates++;
    this.stats.batches++;
    this.stats.records += batch.length;
    const containers = duplicate ? [partition % 2, (partition + 1) % 2] : [partition % 2];
    const results = await Promise.allSettled(containers.map((container) => this.invokeWithTimeout(event, container)));
    // The poller that owns the partition after the rebalance decides what is committed.
    const decisive = results[0]!;
    if (decisive.status === 'rejected') {
      this.stats.functionErrors++;
      return 'error';
    }
    const failures = decisive.value.batchItemFailures.filter((f) => f.itemIdentifier.partition === topicPartition);
    if (failures.length === 0) return undefined;
    this.stats.partialFailures++;
    return Math.min(...failures.map((f) => Number(f.itemIdentifier.offset)));
  }

  private async invokeWithTimeout(event: RawKafkaEvent, container: number): Promise<KafkaBatchResponse> {
    const deadline = Date.now() + this.settings.timeoutMs;
    const requestId = `request-${++this.requests}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Task timed out after ${this.settings.timeoutMs} ms`)),
        this.settings.timeoutMs,
      );
    });
    try {
      return await Promise.race([
        this.invoke(event, { container, requestId, remainingMs: () => Math.max(0, deadline - Date.now()) }),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private park(partition: number, batch: RawKafkaRecord[], reason: ParkedBatch['reason']): void {
    this.parked.push({
      topicPartition: topicPartitionId(this.log.topic, partition),
      fromOffset: batch[0]!.offset,
      toOffset: batch.at(-1)!.offset,
      reason,
      records: batch,
    });
    this.committed[partition] = batch.at(-1)!.offset + 1;
  }
}
