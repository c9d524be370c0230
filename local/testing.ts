/**
 * `tidemark/testing`: run a team's processor over records in a unit test, through the real dispatcher, against an
 * in-memory token store. Nothing here needs AWS, Docker, Java or a Kafka broker.
 * @packageDocumentation
 */
import { Dispatcher, type DispatchResult, type KafkaBatchResponse } from '../shared/processing/dispatcher.js';
import { toRawRecord } from '../shared/processing/fan-out.js';
import type { RawKafkaEvent } from '../shared/kafka/kafka-event.js';
import { KafkaRecord, topicPartitionId } from '../shared/kafka/kafka-record.js';
import { silentLogger, type Logger } from '../shared/observability/logger.js';
import type { ProcessorObserver } from '../shared/processing/observer.js';
import type { Processor } from '../shared/processing/processor.js';
import { InlineRunner } from '../shared/processing/segment-runner.js';
import type { DispatcherSettings } from '../shared/settings.js';
import { MemoryTokenStore } from '../shared/tokens/memory-token-store.js';
import type { TokenStore } from '../shared/tokens/token-store.js';

/** A record as a test writes it; everything but the offset has a default. */
export interface TestRecord {
  /** @default the processor's first topic (in {@link runBatch}), else 'orders' */
  readonly topic?: string;
  /** @default 0 */
  readonly partition?: number;
  readonly offset: number;
  /** A string or bytes; `null` for a record without a key. @default null */
  readonly key?: string | Uint8Array | null;
  /** Bytes or a string as they are; anything else as JSON; `null` for a tombstone. @default `{}` */
  readonly value?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch. @default 1700000000000 + offset */
  readonly timestamp?: number;
}

/** The Lambda Kafka event (MSK shape) that delivers these records, grouped by partition in the order given. */
export function kafkaEvent(records: readonly TestRecord[], defaultTopic = 'orders'): RawKafkaEvent {
  const grouped: Record<string, unknown[]> = {};
  for (const r of records) {
    const topic = r.topic ?? defaultTopic;
    const partition = r.partition ?? 0;
    const raw = toRawRecord(
      new KafkaRecord({
        topic,
        partition,
        offset: r.offset,
        timestamp: r.timestamp ?? 1_700_000_000_000 + r.offset,
        timestampType: 'CREATE_TIME',
        key: r.key === undefined || r.key === null ? undefined : bytes(r.key),
        value: r.value === null ? null : bytes(r.value ?? {}),
        headers: Object.entries(r.headers ?? {}).map(([name, value]) => ({ name, value: Buffer.from(value) })),
      }),
    );
    (grouped[topicPartitionId(topic, partition)] ??= []).push(raw);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/tidemark-test/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers: 'b-1.test:9098',
    records: grouped as RawKafkaEvent['records'],
  };
}

/** Options of {@link runBatch}. */
export interface RunBatchOptions {
  /** Reuse a store across batches to see redeliveries skipped and parked keys held. @default a new MemoryTokenStore */
  readonly store?: TokenStore;
  readonly settings?: Partial<DispatcherSettings>;
  readonly observer?: ProcessorObserver;
  /** @default silent */
  readonly logger?: Logger;
  /** Invocation time left, as Lambda would report it. @default 60000 */
  readonly remainingMs?: number;
}

/** What one batch did. */
export interface BatchRun {
  /** What Lambda would get back: the records it must redeliver. */
  readonly response: KafkaBatchResponse;
  /** Per partition: handled, failed, skipped and parked counts, the token's position. */
  readonly result: DispatchResult;
  /** The store the batch ran against. */
  readonly store: TokenStore;
}

/**
 * Delivers `records` to `processor` as the dispatch function would receive them from the Kafka event source, inline,
 * with its sequencing, retries and dead letters, and returns the partial batch response.
 */
export async function runBatch(
  processor: Processor,
  records: readonly TestRecord[] | RawKafkaEvent,
  options: RunBatchOptions = {},
): Promise<BatchRun> {
  const store = options.store ?? new MemoryTokenStore();
  const dispatcher = new Dispatcher({
    processor,
    store,
    runner: new InlineRunner({ clock: Date.now }),
    settings: options.settings,
    logger: options.logger ?? silentLogger,
    ...(options.observer ? { observer: options.observer } : {}),
  });
  const event = Array.isArray(records) ? kafkaEvent(records, processor.topics[0]) : records;
  const remaining = options.remainingMs ?? 60_000;
  const started = Date.now();
  const result = await dispatcher.dispatch(event, { remainingMs: () => remaining - (Date.now() - started) });
  return { response: result.response, result, store };
}

function bytes(value: unknown): Buffer {
  if (typeof value === 'string') return Buffer.from(value);
  if (value instanceof Uint8Array) return Buffer.from(value);
  return Buffer.from(JSON.stringify(value));
}
