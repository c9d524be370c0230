import type { DeadLetter, LetterError, ParkReason, SourceSkip } from '../dead-letters/dead-letter.js';
import { describeError, type Logger } from '../observability/logger.js';
import type { Segment } from '../routing/segment.js';
import type { PartitionToken } from '../tokens/token.js';
import type { PartitionReport } from './dispatcher.js';

/** What every observed event names: the processor, the partition and the Lambda invocation that reports it. */
export interface PartitionEvent {
  readonly processor: string;
  readonly topic: string;
  readonly partition: number;
  /** `"<topic>-<partition>"`, as Lambda names the partition. */
  readonly topicPartition: string;
  /** Lambda's `awsRequestId` of the invocation that made the write or ran the attempt reported. */
  readonly requestId: string;
}

/** A partition claim was granted (reported once the claim's conditional write succeeded). */
export interface ClaimEvent extends PartitionEvent {
  /** The fencing epoch of the grant: it grows with every grant of the partition. */
  readonly epoch: number;
  readonly owner: string;
  /** The layout version the claim was taken with. */
  readonly layoutVersion: number;
  /** Epoch ms the lease lasts until (it is renewed while the batch runs). */
  readonly leaseUntil: number;
  /** The lowest and highest readable offset the claim was taken for; absent when no record had an offset. */
  readonly batch?: { readonly first: number; readonly last: number };
}

/** A checkpoint committed: the partition's token moved and the claim was released in one conditional write. */
export interface CheckpointEvent extends PartitionEvent {
  readonly epoch: number;
  readonly owner: string;
  /** The layout version the batch's records were routed with (the newest, when a change finished meanwhile). */
  readonly layoutVersion: number;
  /** The delivered slice's lowest and highest readable offset; absent when no record had one. */
  readonly delivered?: { readonly first: number; readonly last: number };
  /** The token as the claim read it, and as written. */
  readonly previousToken: PartitionToken;
  readonly token: PartitionToken;
  /**
   * The lowest offset any cell of the token waits for, before and after (`PartitionToken.lowWatermark()`; null
   * before the partition's first checkpoint). Every offset below `after` is done.
   */
  readonly watermark: { readonly before: number | null; readonly after: number | null };
  /** What happened to the partition's records: handled, skipped, failed, blocked, parked, ... */
  readonly report: PartitionReport;
  /** Letters the same write stored (records parked before and delivered again are not stored twice). */
  readonly lettersParked: number;
  /** Ranges the event source moved past that were delivered and not done, recorded in the same write. */
  readonly skips: readonly SourceSkip[];
}

/** Records of one key parked as dead letters, reported once the checkpoint that writes their letters committed. */
export interface ParkEvent extends PartitionEvent {
  readonly epoch: number;
  readonly owner: string;
  /** The parked key's digest (`keyDigest`): how the key is named in the store, the CLI and redrive requests. */
  readonly digest: string;
  readonly sequencingKey: string;
  /** Whether the key is one of the partition's synthetic keys (`(malformed)`, `(unroutable)`). */
  readonly synthetic: boolean;
  /** The parked offsets, ascending (negative for records without a readable offset). */
  readonly offsets: readonly number[];
  readonly letters: readonly DeadLetter[];
}

/** Why records of a partition go back to Lambda for redelivery. */
export const HandBackReason = {
  /** The checkpoint committed, but some records did not finish (failed, blocked, draining, not started, unparkable). */
  Unfinished: 'unfinished',
  /** Another live invocation held the partition for longer than `claimWaitMs`. */
  ClaimHeld: 'claim-held',
  /** The claim failed for another reason (the store's error, a layout that stayed stale). */
  ClaimFailed: 'claim-failed',
  /** The checkpoint was refused: another invocation claimed the partition since. */
  Fenced: 'fenced',
  /** The checkpoint kept failing; the claim was given back. */
  CheckpointFailed: 'checkpoint-failed',
  /** The event's entry key names no partition, or the entry held nothing to run: nothing was claimed. */
  NotClaimed: 'not-claimed',
  /** The event was refused whole (the dispatch threw): Lambda delivers the whole batch again. */
  EventRefused: 'event-refused',
} as const;
export type HandBackReason = (typeof HandBackReason)[keyof typeof HandBackReason];

/** Records of a partition were handed back to Lambda (reported after any checkpoint that preceded it committed). */
export interface HandBackEvent extends PartitionEvent {
  readonly reason: HandBackReason;
  /** The error or refusal behind a whole hand-back, in words. */
  readonly detail?: string;
  /** The offset the batch response names for the partition: Lambda delivers it and everything after it again. */
  readonly redeliverFrom: number | undefined;
  /** The readable offsets handed back, ascending: the unfinished ones, or every delivered one for a whole hand-back. */
  readonly offsets: readonly number[];
  /** The claim's epoch, when one was granted. */
  readonly epoch?: number;
}

/** A handler attempt failed (threw, or ran past its time bound), in the invocation that ran it. */
export interface RecordFailedEvent extends PartitionEvent {
  readonly offset: number;
  readonly sequencingKey: string;
  readonly segment: Segment;
  readonly layoutVersion: number;
  /** 1-based, within this delivery (or redrive). */
  readonly attempt: number;
  /** The claim's epoch (the redrive lease's, in a redrive). */
  readonly epoch: number;
  readonly redrive: boolean;
  /** What the handler threw (a `RecordTimeoutError` when the attempt ran past its bound). */
  readonly error: unknown;
}

/** A redrive handled a parked letter: resolved (deleted and counted), or failed (its next redrive scheduled). */
export interface RedriveEvent extends PartitionEvent {
  readonly digest: string;
  readonly sequencingKey: string;
  readonly offset: number;
  readonly outcome: 'resolved' | 'failed';
  /** The redrive lease's epoch. */
  readonly epoch: number;
  /** The failure, when it failed. */
  readonly error?: LetterError;
  /** Why the letter was parked. */
  readonly reason: ParkReason;
}

/**
 * Watches what a processor's invocations do, for metrics, tracing and tests, without wrapping the token store.
 * Every callback is optional and is called after the write it reports succeeded: `onClaim` once the claim was
 * granted, `onCheckpoint` once the checkpoint committed, `onPark` once the letters are stored (in that checkpoint),
 * `onRedrive` once the letter was resolved or its failure recorded. For one partition of one dispatch the order is
 * `onClaim`, `onRecordFailed` (as attempts fail), `onCheckpoint`, `onPark` (per parked key), `onHandBack`.
 *
 * A callback never changes processing: it is not awaited (a returned promise runs beside the batch), and what it
 * throws or rejects with is caught and logged as one warning per call. Keep callbacks quick: they run on the
 * batch's event loop.
 *
 * Pass one to the handler factories (`createDispatchHandler(processor, { observer })`, also
 * `createSegmentWorkerHandler` and `createRedriveHandler`), or to a `Dispatcher`, `runSegmentWorker` or `Redriver`.
 * Claims, checkpoints, parks and hand-backs are reported by the dispatcher; failed attempts by whichever invocation
 * ran them (the dispatcher inline, the segment worker in fan-out mode, the redrive); redrives by the redriver.
 *
 * @example
 * const observer: ProcessorObserver = {
 *   onCheckpoint: (e) => metrics.gauge('watermark', e.watermark.after ?? 0, { partition: e.topicPartition }),
 *   onPark: (e) => alerts.notify(`parked ${e.offsets.length} record(s) of ${e.sequencingKey}`),
 * };
 * export const handler = createDispatchHandler(processor, { observer });
 */
export interface ProcessorObserver {
  onClaim?(event: ClaimEvent): void | Promise<void>;
  onCheckpoint?(event: CheckpointEvent): void | Promise<void>;
  onPark?(event: ParkEvent): void | Promise<void>;
  onHandBack?(event: HandBackEvent): void | Promise<void>;
  onRecordFailed?(event: RecordFailedEvent): void | Promise<void>;
  onRedrive?(event: RedriveEvent): void | Promise<void>;
}

type Callback = keyof ProcessorObserver;
type EventOf<K extends Callback> = Parameters<NonNullable<ProcessorObserver[K]>>[0];

/**
 * Calls an observer's callback, if it has one, so that nothing it does reaches the caller: a throw or a rejection
 * is logged once as a warning. `event` is built only when the callback exists.
 */
export function notifyObserver<K extends Callback>(
  observer: ProcessorObserver | undefined,
  logger: Logger,
  callback: K,
  event: () => EventOf<K>,
): void {
  if (!observer) return;
  const warn = (error: unknown) => {
    try {
      logger.warn('observer callback failed; processing goes on', { callback, error: describeError(error) });
    } catch {
      // A logger that throws must not break processing either.
    }
  };
  try {
    const fn = observer[callback] as ((event: EventOf<K>) => unknown) | undefined;
    if (typeof fn !== 'function') return;
    const result = fn.call(observer, event());
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, warn);
    }
  } catch (error) {
    warn(error);
  }
}
