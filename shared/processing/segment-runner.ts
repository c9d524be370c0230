import type { KafkaRecord } from '../kafka/kafka-record.js';
import {
  KeyOrderedRun,
  runInKeyOrder,
  type KeyOrderOptions,
  type KeyedItem,
  type RecordOutcome,
} from './key-scheduler.js';
import type { LayoutSegment } from '../routing/layout.js';
import { withLogKeys, type Logger } from '../observability/logger.js';
import { segmentName } from '../routing/segment.js';
import type { HandlerContext, Processor } from './processor.js';
import type { ClaimRef, Clock } from '../tokens/token-store.js';
import { notifyObserver, type ProcessorObserver } from './observer.js';

/** A record ready to run: routed to a live segment, not covered by the token, under a partition claim. */
export interface WorkItem extends KeyedItem {
  /** The record's `"<topic>-<partition>"`: records are ordered per partition and sequencing key. */
  readonly scope: string;
  readonly record: KafkaRecord;
  readonly sequencingKey: string;
  readonly hash: number;
  readonly segment: LayoutSegment;
  /** The layout version the record was routed with. */
  readonly layoutVersion: number;
  readonly claim: ClaimRef;
  /** Handler attempts the record had in earlier deliveries (it is parked once they reach `deadLetter.afterAttempts`). */
  readonly priorAttempts: number;
  /** Whether a reset brings the record again: its partition's replay token covers it (`HandlerContext.replay`). */
  readonly replay: boolean;
}

/** What a runner needs to know about the invocation it runs in. */
export interface RunContext {
  readonly processor: Processor;
  /** Epoch ms: no attempt starts after this. */
  readonly deadline: number;
  /** Asked before every attempt: whether the item's claim is still live. */
  readonly canStart: (item: WorkItem) => boolean | Promise<boolean>;
  readonly logger: Logger;
  /** Lambda's request id of the invocation the records run in, handed to handlers as `HandlerContext.requestId`. */
  readonly requestId: string;
  /** Told of every failed attempt (`onRecordFailed`). */
  readonly observer?: ProcessorObserver;
  /** Told how long each handler call took, in ms, once it settles (the `HandlerDuration` metric). */
  readonly onHandlerDuration?: (ms: number) => void;
}

/**
 * Runs routed records and says what happened to each, in the items' order. Inline and fan-out modes are two
 * runners behind this one interface; everything before (routing, skipping) and after (checkpoint) is shared.
 */
export interface SegmentRunner {
  run(items: readonly WorkItem[], context: RunContext): Promise<RecordOutcome[]>;
  /**
   * Starts a run that takes records while the rest of the batch is still being read, so work begins early. A
   * runner without it gets every record at once through `run`.
   */
  open?(context: RunContext): RunStream;
}

/** A run under way: records are added as they are routed (each key's in offset order). */
export interface RunStream {
  add(items: readonly WorkItem[]): void;
  /** Nothing more will be added: one outcome per added item, in the order they were added. */
  close(): Promise<RecordOutcome[]>;
  /** Starts nothing more (the rest ends `notStarted`); resolves once nothing added runs any more. */
  abandon(): Promise<unknown>;
}

/** Opens a run on any runner: streams where it can, otherwise collects the items and runs them at the end. */
export function openRun(runner: SegmentRunner, context: RunContext): RunStream {
  if (runner.open) return runner.open(context);
  const collected: WorkItem[] = [];
  return {
    add: (items) => {
      for (const item of items) collected.push(item);
    },
    close: () => runner.run(collected, context),
    // Nothing has started: the runner gets the items only at close.
    abandon: () => Promise.resolve(),
  };
}

/** Runs records in this process: each key in offset order, keys at once up to the processor's concurrency. */
export class InlineRunner implements SegmentRunner {
  constructor(
    private readonly options: { clock: Clock; sleep?: (ms: number) => Promise<void>; random?: () => number },
  ) {}

  run(items: readonly WorkItem[], context: RunContext): Promise<RecordOutcome[]> {
    return runInKeyOrder(items, this.keyOrderOptions(context));
  }

  open(context: RunContext): RunStream {
    return new KeyOrderedRun(this.keyOrderOptions(context));
  }

  private keyOrderOptions(context: RunContext): KeyOrderOptions<WorkItem> {
    const { processor, deadline } = context;
    const clock = this.options.clock;
    return {
      concurrency: processor.concurrency,
      retry: processor.retry,
      // Attempts count over deliveries: a record parks after exactly `afterAttempts`.
      maxAttempts: (item) => Math.max(1, processor.deadLetter.afterAttempts - item.priorAttempts),
      // A hung call must not keep the batch from its checkpoint: half the time left by default.
      attemptTimeoutMs: processor.recordTimeoutMs ?? Math.max(1_000, Math.floor((deadline - clock()) / 2)),
      stopWaitingAt: { at: deadline, clock },
      canStart: (item) => clock() < deadline && context.canStart(item),
      hasTimeFor: (delayMs) => clock() + delayMs < deadline,
      sleep: this.options.sleep,
      random: this.options.random,
      ...(context.observer
        ? { onAttemptFailed: (item, attempt, error) => reportFailure(context, item, attempt, error) }
        : {}),
      invoke: async (item, attempt) => {
        const segment = { id: item.segment.id, mask: item.segment.mask };
        const { topic, partition, offset } = item.record;
        const handlerContext: HandlerContext = {
          processor: processor.name,
          segment,
          layoutVersion: item.layoutVersion,
          topic,
          partition,
          offset,
          sequencingKey: item.sequencingKey,
          attempt,
          redrive: false,
          replay: item.replay,
          epoch: item.claim.epoch,
          deadline,
          requestId: context.requestId,
          // The handler's lines name the record they are about.
          logger: withLogKeys(context.logger, {
            segment: segmentName(segment),
            epoch: item.claim.epoch,
            topic,
            partition,
            offset,
          }),
        };
        const started = performance.now();
        try {
          await processor.handler(item.record, handlerContext);
        } finally {
          context.onHandlerDuration?.(performance.now() - started);
        }
      },
    };
  }
}

/** Tells the run's observer of a failed attempt, as the invocation that ran it. */
function reportFailure(context: RunContext, item: WorkItem, attempt: number, error: unknown): void {
  notifyObserver(context.observer, context.logger, 'onRecordFailed', () => ({
    processor: context.processor.name,
    topic: item.record.topic,
    partition: item.record.partition,
    topicPartition: item.record.topicPartition,
    requestId: context.requestId,
    offset: item.record.offset,
    sequencingKey: item.sequencingKey,
    segment: { id: item.segment.id, mask: item.segment.mask },
    layoutVersion: item.layoutVersion,
    attempt,
    epoch: item.claim.epoch,
    redrive: false,
    error,
  }));
}
