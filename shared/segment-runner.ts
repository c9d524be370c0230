import type { KafkaRecord } from './kafka-record.js';
import { runInKeyOrder, type KeyedItem, type RecordOutcome } from './key-scheduler.js';
import type { LayoutSegment } from './layout.js';
import type { Logger } from './logger.js';
import type { HandlerContext, Processor } from './processor.js';
import type { ClaimRef, Clock } from './token-store.js';

/** A record ready to run: routed to a live segment, not covered by the token, under a partition claim. */
export interface WorkItem extends KeyedItem {
  readonly record: KafkaRecord;
  readonly sequencingKey: string;
  readonly hash: number;
  readonly segment: LayoutSegment;
  readonly claim: ClaimRef;
}

/** What a runner needs to know about the invocation it runs in. */
export interface RunContext {
  readonly processor: Processor;
  readonly layoutVersion: number;
  /** Epoch ms: no attempt starts after this. */
  readonly deadline: number;
  /** Asked before every attempt: whether the item's claim is still live. */
  readonly canStart: (item: WorkItem) => boolean | Promise<boolean>;
  readonly logger: Logger;
}

/**
 * Runs routed records and says what happened to each, in the items' order. Inline and fan-out modes are two
 * runners behind this one interface; everything before (routing, skipping) and after (checkpoint) is shared.
 */
export interface SegmentRunner {
  run(items: readonly WorkItem[], context: RunContext): Promise<RecordOutcome[]>;
}

/** Scopes a sequencing key to its partition: order is only defined within one partition. */
export function scopedKey(topicPartition: string, sequencingKey: string): string {
  return `${topicPartition}\u0000${sequencingKey}`;
}

/** Runs records in this process: each key in offset order, keys at once up to the processor's concurrency. */
export class InlineRunner implements SegmentRunner {
  constructor(
    private readonly options: { clock: Clock; sleep?: (ms: number) => Promise<void>; random?: () => number },
  ) {}

  run(items: readonly WorkItem[], context: RunContext): Promise<RecordOutcome[]> {
    const { processor, deadline } = context;
    const clock = this.options.clock;
    return runInKeyOrder(items, {
      concurrency: processor.concurrency,
      retry: processor.retry,
      canStart: (item) => clock() < deadline && context.canStart(item),
      hasTimeFor: (delayMs) => clock() + delayMs < deadline,
      sleep: this.options.sleep,
      random: this.options.random,
      invoke: async (item, attempt) => {
        const handlerContext: HandlerContext = {
          processor: processor.name,
          segment: { id: item.segment.id, mask: item.segment.mask },
          layoutVersion: context.layoutVersion,
          topic: item.record.topic,
          partition: item.record.partition,
          offset: item.record.offset,
          sequencingKey: item.sequencingKey,
          attempt,
          epoch: item.claim.epoch,
          deadline,
          logger: context.logger,
        };
        await processor.handler(item.record, handlerContext);
      },
    });
  }
}
