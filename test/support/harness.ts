import { Dispatcher, type DispatchResult } from '../../shared/processing/dispatcher.js';
import type { DispatcherSettings } from '../../shared/settings.js';
import type { RawKafkaEvent } from '../../shared/kafka/kafka-event.js';
import type { KafkaRecord } from '../../shared/kafka/kafka-record.js';
import { kafkaEvent } from '../../local/testing.js';
import { silentLogger, type Logger } from '../../shared/observability/logger.js';
import { defineProcessor, type HandlerContext, type ProcessorDefinition } from '../../shared/processing/processor.js';
import { InlineRunner, type SegmentRunner } from '../../shared/processing/segment-runner.js';
import type { TokenStore } from '../../shared/tokens/token-store.js';
import type { ProcessorObserver } from '../../shared/processing/observer.js';

/** A record in a test's topic log. */
export interface LogRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | undefined;
  readonly value?: unknown;
}

/** A Lambda Kafka event (MSK shape) carrying these records; a record without a value carries `{ offset }`. */
export function eventOf(records: readonly LogRecord[]): RawKafkaEvent {
  return kafkaEvent(records.map((r) => ({ ...r, key: r.key ?? null, value: r.value ?? { offset: r.offset } })));
}

/** One handler call as the test saw it. */
export interface HandlerCall {
  readonly topicPartition: string;
  readonly offset: number;
  readonly key: string;
  readonly attempt: number;
  readonly epoch: number;
  readonly succeeded: boolean;
  readonly context: HandlerContext;
}

/**
 * A handler that records every call and fails a record as many times as `failures` says (in total, across
 * deliveries), so tests can script transient and lasting failures.
 */
export class ScriptedHandler {
  readonly calls: HandlerCall[] = [];
  private readonly failuresLeft = new Map<string, number>();
  private active = new Map<string, Set<string>>();
  /** Set when two invocations (dispatchers) ran records of the same partition at the same time. */
  overlap: string | undefined;

  constructor(
    failures: Iterable<[string, number]> = [],
    private readonly options: { delayMs?: number } = {},
  ) {
    for (const [id, times] of failures) this.failuresLeft.set(id, times);
  }

  /** Handles records for one named invocation (so overlaps between invocations can be detected). */
  for(invocation = 'main') {
    return async (record: KafkaRecord, context: HandlerContext): Promise<void> => {
      const id = `${record.topicPartition}@${record.offset}`;
      const active = this.active.get(record.topicPartition) ?? new Set();
      this.active.set(record.topicPartition, active);
      active.add(invocation);
      if (active.size > 1) this.overlap ??= `${record.topicPartition}: ${[...active].join(', ')}`;
      try {
        if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
        const left = this.failuresLeft.get(id) ?? 0;
        const fail = left > 0;
        if (fail) this.failuresLeft.set(id, left - 1);
        this.calls.push({
          topicPartition: record.topicPartition,
          offset: record.offset,
          key: context.sequencingKey,
          attempt: context.attempt,
          epoch: context.epoch,
          succeeded: !fail,
          context,
        });
        if (fail) throw new Error(`scripted failure of ${id}`);
      } finally {
        active.delete(invocation);
      }
    };
  }

  /** `topic-partition@offset` of every successful call, in call order. */
  successes(): string[] {
    return this.calls.filter((c) => c.succeeded).map((c) => `${c.topicPartition}@${c.offset}`);
  }
}

/** Retries fast so tests do not wait. */
export const FAST_RETRY = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, jitter: false } as const;

/** A processor on topic "orders" with fast retries. */
export function testProcessor(overrides: Partial<ProcessorDefinition> & Pick<ProcessorDefinition, 'handler'>) {
  return defineProcessor({
    name: 'orders-view',
    topics: ['orders'],
    retry: FAST_RETRY,
    initialSegments: 4,
    ...overrides,
  });
}

/** A dispatcher running inline against the given store, silent. */
export function testDispatcher(
  processor: ReturnType<typeof testProcessor>,
  store: TokenStore,
  options: {
    settings?: Partial<DispatcherSettings>;
    runner?: SegmentRunner;
    clock?: () => number;
    logger?: Logger;
    observer?: ProcessorObserver;
  } = {},
): Dispatcher {
  return new Dispatcher({
    processor,
    store,
    runner: options.runner ?? new InlineRunner({ clock: options.clock ?? Date.now }),
    settings: { claimWaitMs: 5_000, ...options.settings },
    logger: options.logger ?? silentLogger,
    clock: options.clock,
    ...(options.observer ? { observer: options.observer } : {}),
  });
}

/** Dispatches with plenty of invocation time left. */
export function dispatch(dispatcher: Dispatcher, event: unknown, invocationId?: string): Promise<DispatchResult> {
  return dispatcher.dispatch(event, { remainingMs: () => 60_000, invocationId });
}

/** One record of partition 0 of "orders". */
export function recordAt(offset: number, key: string): LogRecord {
  return { topic: 'orders', partition: 0, offset, key };
}

/** Records of partition 0 of "orders" with these keys, at offsets 0, 1, 2, ... */
export function keyedLog(keys: readonly string[]): LogRecord[] {
  return keys.map((key, offset) => recordAt(offset, key));
}

/** A log of `count` records per partition with keys cycling through `keys`. */
export function topicLog(options: { partitions: number; count: number; keys: number; topic?: string }): LogRecord[] {
  const records: LogRecord[] = [];
  for (let partition = 0; partition < options.partitions; partition++) {
    for (let offset = 0; offset < options.count; offset++) {
      records.push({
        topic: options.topic ?? 'orders',
        partition,
        offset,
        key: `key-${(offset * 7 + partition) % options.keys}`,
      });
    }
  }
  return records;
}
