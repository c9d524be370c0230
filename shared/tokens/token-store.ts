import { ClaimHeldError, FencedError, LayoutConflictError, StaleLayoutError } from '../errors.js';
import type { DeadLetter, ParkedKey, SourceSkip } from '../dead-letters/dead-letter.js';
import type { Layout, LayoutChange, LayoutSegment } from '../routing/layout.js';
import type { PartitionToken } from './token.js';
import type { Replay } from './replay.js';
import { topicPartitionId } from '../kafka/kafka-record.js';

/** Milliseconds since the epoch. Stores take a clock so tests can move time without sleeping. */
export type Clock = () => number;

/** One partition of one topic. */
export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/** What a dispatcher asks for when it wants to process a partition's batch. */
export interface ClaimRequest extends PartitionRef {
  readonly processor: string;
  /** Unique per claim attempt (invocation and partition): a re-sent claim by the same owner is recognised. */
  readonly owner: string;
  /** The layout version the caller routes with; older than one already used for this partition is rejected. */
  readonly layoutVersion: number;
  readonly leaseMs: number;
  /** The offsets the claim is taken for: recorded, so a later batch can tell a skip from offsets that never existed. */
  readonly batch?: { readonly first: number; readonly last: number };
}

/** How many handler attempts a failed record has had over its deliveries, kept on the partition item. */
export interface FailureCount {
  readonly offset: number;
  readonly attempts: number;
  readonly firstFailureAt: number;
}

/**
 * A granted claim on a partition's work for one processor, with its token. `epoch` grows with every grant and
 * fences every later write: a holder whose epoch is no longer current, or whose lease ran out, cannot write.
 */
export interface Claim extends PartitionRef {
  readonly processor: string;
  readonly owner: string;
  readonly epoch: number;
  readonly leaseUntil: number;
  readonly layoutVersion: number;
  readonly token: PartitionToken;
  /** The partition's parked keys by digest, as the claim read them (entries whose letters are all resolved too). */
  readonly parked: ReadonlyMap<string, ParkedKey>;
  /** Attempts of records that failed in earlier deliveries and are not parked yet, by offset. */
  readonly failures: ReadonlyMap<number, FailureCount>;
  /** The highest offset delivered to any earlier claim of the partition, or null if none is known. */
  readonly seenThrough: number | null;
  /** Kafka timestamp (ms) of the newest record a checkpoint covered, or null before the first one that knew it. */
  readonly lastRecordAt: number | null;
  /** The replay a reset started, while the token has not passed it; null otherwise. */
  readonly replay: Replay | null;
}

/**
 * What a checkpoint writes besides the token. Parking is part of the checkpoint: the letters exist if and only if
 * the token moved past their records.
 */
export interface CheckpointChanges {
  readonly letters: readonly DeadLetter[];
  /**
   * Keys that get letters: a new entry (`fresh`, replacing a resolved one) or more letters on an entry the claim
   * read (`count` is added to its `parked`).
   */
  readonly park: ReadonlyArray<{
    readonly digest: string;
    readonly key: string;
    readonly synthetic: boolean;
    readonly count: number;
    readonly fresh: boolean;
    readonly since: number;
    readonly nextAttemptAt: number;
    /** A fresh entry's lease epoch: above the one it replaces, so a redriver of the old entry is fenced. */
    readonly leaseEpoch: number;
  }>;
  /** Entries the claim read with every letter resolved: removed, so their keys flow again. */
  readonly unpark: readonly string[];
  /** Replaces the stored attempt counts. */
  readonly failures: readonly FailureCount[];
  readonly seenThrough: number | null;
  /** Ranges the event source moved past that were delivered and not done. */
  readonly skips: readonly SourceSkip[];
  /**
   * Kafka timestamp (ms) of the newest record the token covers after this checkpoint (at least the claim's
   * `lastRecordAt`), written as `lastRecordAt`; undefined or null leaves the stored one. @default undefined
   */
  readonly lastRecordAt?: number | null;
}

/** What a checkpoint wrote besides the token. */
export interface CheckpointResult {
  /** Letters written: fewer than asked when some were parked before (a record without an offset delivered again). */
  readonly lettersParked: number;
}

/** What identifies a claim for fenced writes: enough to renew or release it from another process. */
export type ClaimRef = Pick<Claim, 'processor' | 'topic' | 'partition' | 'owner' | 'epoch' | 'leaseUntil'>;

/** The stored state of one partition, for status views and coordinators. */
export interface PartitionState extends PartitionRef {
  readonly owner: string | undefined;
  readonly epoch: number;
  /** 0 once released. */
  readonly leaseUntil: number;
  readonly layoutVersion: number;
  readonly token: PartitionToken;
  readonly updatedAt: number;
  /** Parked keys, including entries whose letters are all resolved (removed at the next checkpoint). */
  readonly parked: readonly ParkedKey[];
  /** Kafka timestamp (ms) of the newest record a checkpoint covered, or null when none is known. */
  readonly lastRecordAt: number | null;
  /** The replay a reset started, until a checkpoint moves the token past it; null otherwise. */
  readonly replay: Replay | null;
}

/** A processor's layout and the state of every partition it has seen. */
export interface ProcessorState {
  readonly layout: Layout;
  readonly partitions: readonly PartitionState[];
}

/**
 * The token store port. Every change to a claim, a token or a layout is a conditional write; implementations
 * must give the same answers (the DynamoDB one and the in-memory one are tested against the same suite).
 */
export interface TokenStore {
  /**
   * Creates the processor's layout with `segmentCount` balanced segments. Idempotent: initialising again with
   * the same count returns the stored layout; another count is an error (change it with split, merge or scale).
   */
  initialise(processor: string, segmentCount: number): Promise<Layout>;

  /** Reads the processor's layout (strongly consistent); throws UnknownProcessorError if there is none. */
  readLayout(processor: string): Promise<Layout>;

  /**
   * Replaces the layout's segments if its version is still `expectedVersion` and no change is under way, checking
   * the new segments cover the hash space exactly once; the version goes up by one. Throws LayoutConflictError
   * otherwise.
   */
  changeLayout(processor: string, expectedVersion: number, segments: readonly LayoutSegment[]): Promise<Layout>;

  /**
   * Starts a split or merge: writes `segments` (some now draining) and records `change`, if the layout is still at
   * `expectedVersion` and no other change is under way. Throws LayoutConflictError otherwise.
   */
  beginLayoutChange(
    processor: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    change: LayoutChange,
  ): Promise<Layout>;

  /**
   * Ends the change `changeId` (applied or rolled back) in one transaction: writes `segments`, clears the change
   * and records it in the layout's history, if the layout is still at `expectedVersion` with that change.
   * Throws LayoutConflictError otherwise.
   */
  finishLayoutChange(
    processor: string,
    changeId: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    outcome: 'applied' | 'rolledBack',
  ): Promise<Layout>;

  /**
   * Claims a partition: granted when nobody holds it or the holder's lease ran out. Throws ClaimHeldError while
   * another live holder has it and StaleLayoutError when the caller's layout is older than one already used.
   */
  claim(request: ClaimRequest): Promise<Claim>;

  /** Extends a live claim. Throws FencedError if the claim expired or was taken over. */
  renew<C extends ClaimRef>(claim: C, leaseMs: number): Promise<C>;

  /**
   * Reads a claim's lease as its holder keeps it (strongly consistent), for one who works under the claim without
   * renewing it (a segment worker). Throws FencedError once the claim was taken over or released, or its lease ran
   * out: the holder stopped renewing it, so nothing more may start under it.
   */
  readLease<C extends ClaimRef>(claim: C): Promise<C>;

  /**
   * Writes the token under a live claim, and releases it or extends its lease. With `changes`, also parks letters,
   * updates parked keys and attempt counts, records source skips and the newest record's timestamp, all in the same
   * atomic write. When the claim read a replay and the token now covers everything its replay token covered, the
   * same write removes the replay (the returned claim has none). Throws FencedError if the claim expired or was
   * taken over: nothing is written then.
   */
  checkpoint(
    claim: Claim,
    token: PartitionToken,
    options: { release: boolean; leaseMs: number; changes?: CheckpointChanges },
  ): Promise<Claim & CheckpointResult>;

  /** Ends a live claim without changing its token. A claim that is already gone is left alone. */
  release(claim: ClaimRef): Promise<void>;

  /** The layout and every partition's owner, lease and token: key lookups only. */
  readState(processor: string): Promise<ProcessorState>;
}

/** Why a claim was refused, from the item as it stood. */
export function claimRefusal(
  request: ClaimRequest,
  current: { owner?: string; epoch?: number; leaseUntil?: number; layoutVersion?: number },
  now: number,
): Error {
  const where = `${topicPartitionId(request.topic, request.partition)} of "${request.processor}"`;
  if (current.layoutVersion !== undefined && current.layoutVersion > request.layoutVersion) {
    return new StaleLayoutError(
      `layout v${request.layoutVersion} is stale for ${where}: v${current.layoutVersion} was already used; refresh the layout`,
      request.layoutVersion,
      current.layoutVersion,
    );
  }
  const holder = { owner: current.owner ?? '?', epoch: current.epoch ?? 0, leaseUntil: current.leaseUntil ?? 0 };
  return new ClaimHeldError(
    `${where} is claimed by ${holder.owner} (epoch ${holder.epoch}) for another ${Math.max(0, holder.leaseUntil - now)} ms`,
    holder,
  );
}

/** Why a fenced write was refused. */
export function fenced(
  claim: ClaimRef,
  current: { owner?: string; epoch?: number; leaseUntil?: number } | undefined,
  now: number,
): FencedError {
  const where = `${topicPartitionId(claim.topic, claim.partition)} of "${claim.processor}"`;
  const reason =
    current === undefined
      ? 'its item is gone'
      : current.epoch !== claim.epoch || current.owner !== claim.owner
        ? `it was taken over by ${String(current.owner)} (epoch ${String(current.epoch)})`
        : `its lease ended ${now - (current.leaseUntil ?? 0)} ms ago`;
  return new FencedError(`claim epoch ${claim.epoch} on ${where} can no longer write: ${reason}`, {
    context: { processor: claim.processor, topic: claim.topic, partition: claim.partition, epoch: claim.epoch },
  });
}

/** Why a conditional layout write lost, from the layout as it stands now. */
export function layoutConflict(
  current: Layout,
  expectedVersion: number,
  changeId: string | undefined,
): LayoutConflictError {
  const reason =
    current.change && current.change.id !== changeId
      ? `another change (${current.change.id}: ${current.change.operation} ${current.change.segment}) is under way`
      : current.version !== expectedVersion
        ? `it is at v${current.version}, not v${expectedVersion}`
        : `change ${String(changeId)} is not the one under way`;
  return new LayoutConflictError(`layout of "${current.processor}" was not changed: ${reason}`, {
    processor: current.processor,
    expectedVersion,
    currentVersion: current.version,
  });
}
