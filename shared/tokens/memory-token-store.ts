import { assertProcessorName } from '../settings.js';
import { ConfigurationError, FencedError, UnknownProcessorError } from '../errors.js';
import {
  assertLayout,
  balancedSegments,
  SegmentState,
  type Layout,
  type LayoutChange,
  type LayoutSegment,
} from '../routing/layout.js';
import type { DeadLetter, ParkedKey, SourceSkip } from '../dead-letters/dead-letter.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import { PartitionToken, TOKEN_MAX_BYTES } from './token.js';
import { replayPassed, type Replay } from './replay.js';
import {
  claimRefusal,
  fenced,
  layoutConflict,
  type CheckpointChanges,
  type CheckpointResult,
  type Claim,
  type ClaimRef,
  type FailureCount,
  type ClaimRequest,
  type Clock,
  type PartitionRef,
  type PartitionState,
  type ProcessorState,
  type TokenStore,
} from './token-store.js';

type StoredPartition = Omit<PartitionState, 'owner' | 'parked'> & {
  owner: string;
  parked: Map<string, ParkedKey>;
  failures: Map<number, FailureCount>;
  seen: number | null;
  batch: { first: number; last: number } | undefined;
};

/**
 * A token store in memory with the same conditions as the DynamoDB one: for the local demo's fast paths,
 * benchmarks of the engine's own overhead and property tests of the core. Not shared between processes.
 */
export class MemoryTokenStore implements TokenStore {
  private readonly layouts = new Map<string, Layout>();
  private readonly partitions = new Map<string, StoredPartition>();
  /** Parked letters by `<processor> <topic-partition> <digest>`, then offset. */
  readonly letters = new Map<string, Map<number, DeadLetter>>();
  readonly skips: SourceSkip[] = [];
  private readonly clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async initialise(processor: string, segmentCount: number): Promise<Layout> {
    assertProcessorName(processor);
    const existing = this.layouts.get(processor);
    if (existing) {
      if (existing.segments.length !== segmentCount) {
        throw new ConfigurationError(
          `processor "${processor}" is already initialised with ${existing.segments.length} segments (layout v${existing.version}), not ${segmentCount}; change it with split, merge or scale`,
        );
      }
      return existing;
    }
    const segments = balancedSegments(segmentCount).map((s) => ({ ...s, state: SegmentState.Active }));
    const layout = { processor, version: 1, segments };
    this.layouts.set(processor, layout);
    return layout;
  }

  async readLayout(processor: string): Promise<Layout> {
    const layout = this.layouts.get(processor);
    if (!layout)
      throw new UnknownProcessorError(`processor "${processor}" has no layout in the token store: initialise it first`);
    return layout;
  }

  async changeLayout(processor: string, expectedVersion: number, segments: readonly LayoutSegment[]): Promise<Layout> {
    return this.writeLayout(processor, expectedVersion, segments, undefined);
  }

  async beginLayoutChange(
    processor: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    change: LayoutChange,
  ): Promise<Layout> {
    return this.writeLayout(processor, expectedVersion, segments, change);
  }

  async finishLayoutChange(
    processor: string,
    changeId: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
  ): Promise<Layout> {
    const current = await this.readLayout(processor);
    const layout: Layout = { processor, version: expectedVersion + 1, segments: [...segments] };
    assertLayout(layout);
    if (current.version !== expectedVersion || current.change?.id !== changeId) {
      throw layoutConflict(current, expectedVersion, changeId);
    }
    this.layouts.set(processor, layout);
    return layout;
  }

  private async writeLayout(
    processor: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    change: LayoutChange | undefined,
  ): Promise<Layout> {
    const current = await this.readLayout(processor);
    const layout: Layout = {
      processor,
      version: expectedVersion + 1,
      segments: [...segments],
      ...(change ? { change } : {}),
    };
    assertLayout(layout);
    if (current.version !== expectedVersion || current.change)
      throw layoutConflict(current, expectedVersion, change?.id);
    this.layouts.set(processor, layout);
    return layout;
  }

  async claim(request: ClaimRequest): Promise<Claim> {
    const now = this.clock();
    const key = partitionKey(request.processor, request.topic, request.partition);
    const current = this.partitions.get(key);
    const free = !current || current.leaseUntil <= now || current.owner === request.owner;
    const fresh = !current || current.layoutVersion <= request.layoutVersion;
    if (!free || !fresh) throw claimRefusal(request, current!, now);
    const previous = current?.batch;
    const repeated =
      previous !== undefined && previous.first === request.batch?.first && previous.last === request.batch.last;
    const candidates = [current?.seen ?? null, repeated ? null : (previous?.last ?? null)].filter(
      (v): v is number => v !== null,
    );
    const stored: StoredPartition = {
      topic: request.topic,
      partition: request.partition,
      owner: request.owner,
      epoch: (current?.epoch ?? 0) + 1,
      leaseUntil: now + request.leaseMs,
      layoutVersion: request.layoutVersion,
      token: current?.token ?? PartitionToken.initial(),
      updatedAt: now,
      parked: current?.parked ?? new Map(),
      failures: current?.failures ?? new Map(),
      seen: current?.seen ?? null,
      batch: request.batch ?? current?.batch,
      lastRecordAt: current?.lastRecordAt ?? null,
      replay: current?.replay ?? null,
    };
    this.partitions.set(key, stored);
    const { updatedAt: _updatedAt, parked: _parked, ...state } = partitionState(stored);
    return {
      ...state,
      processor: request.processor,
      owner: stored.owner,
      parked: new Map(stored.parked),
      failures: new Map(stored.failures),
      seenThrough: candidates.length ? Math.max(...candidates) : null,
    };
  }

  async readLease<C extends ClaimRef>(claim: C): Promise<C> {
    const stored = this.fencedItem(claim, this.clock(), true);
    return { ...claim, leaseUntil: stored.leaseUntil };
  }

  async renew<C extends ClaimRef>(claim: C, leaseMs: number): Promise<C> {
    const now = this.clock();
    const stored = this.fencedItem(claim, now, true);
    stored.leaseUntil = now + leaseMs;
    stored.updatedAt = now;
    return { ...claim, leaseUntil: stored.leaseUntil };
  }

  async checkpoint(
    claim: Claim,
    token: PartitionToken,
    options: { release: boolean; leaseMs: number; changes?: CheckpointChanges },
  ): Promise<Claim & CheckpointResult> {
    const now = this.clock();
    const stored = this.fencedItem(claim, now, false);
    const changes = options.changes;
    let written = 0;
    if (changes) {
      const topicPartition = topicPartitionId(claim.topic, claim.partition);
      // A letter that exists was parked before (see the DynamoDB store): it is neither written nor counted again.
      const fresh = changes.letters.filter(
        (letter) => !this.letters.get(`${claim.processor} ${topicPartition} ${letter.digest}`)?.has(letter.offset),
      );
      const fewer = new Map<string, number>();
      for (const letter of changes.letters) {
        if (!fresh.includes(letter)) fewer.set(letter.digest, (fewer.get(letter.digest) ?? 0) + 1);
      }
      written = fresh.length;
      for (const letter of fresh) {
        const id = `${claim.processor} ${topicPartition} ${letter.digest}`;
        if (!this.letters.has(id)) this.letters.set(id, new Map());
        this.letters.get(id)!.set(letter.offset, letter);
      }
      this.skips.push(...changes.skips);
      for (const planned of changes.park) {
        const entry = { ...planned, count: planned.count - (fewer.get(planned.digest) ?? 0) };
        if (entry.count <= 0 && !entry.fresh) continue;
        const existing = stored.parked.get(entry.digest);
        if (entry.fresh || !existing) {
          stored.parked.set(entry.digest, {
            digest: entry.digest,
            key: entry.key,
            synthetic: entry.synthetic,
            parked: entry.count,
            resolved: 0,
            since: entry.since,
            attempts: 0,
            nextAttemptAt: entry.nextAttemptAt,
            lease: { owner: undefined, epoch: entry.leaseEpoch, until: 0 },
            truncated: false,
          });
        } else {
          stored.parked.set(entry.digest, { ...existing, parked: existing.parked + entry.count });
        }
      }
      for (const digest of changes.unpark) stored.parked.delete(digest);
      stored.failures = new Map(changes.failures.map((f) => [f.offset, f]));
      if (changes.seenThrough !== null) stored.seen = changes.seenThrough;
    }
    // As the DynamoDB store: a stored token never passes its byte budget (advance keeps it there already).
    stored.token = token.encodedSize() > TOKEN_MAX_BYTES ? token.bounded(TOKEN_MAX_BYTES).token : token;
    stored.leaseUntil = options.release ? 0 : now + options.leaseMs;
    stored.updatedAt = now;
    if (changes?.lastRecordAt !== undefined && changes.lastRecordAt !== null)
      stored.lastRecordAt = changes.lastRecordAt;
    const endsReplay = claim.replay !== null && replayPassed(stored.token, claim.replay.token);
    if (endsReplay) stored.replay = null;
    return {
      ...claim,
      token: stored.token,
      leaseUntil: stored.leaseUntil,
      lettersParked: written,
      lastRecordAt: stored.lastRecordAt,
      replay: endsReplay ? null : claim.replay,
    };
  }

  /**
   * Writes what a reset writes on a partition item, for tests and in-process runs (the DynamoDB reset writer is the
   * reset's own): the epoch moves on and the claim ends, so a straggler holding the old epoch is fenced; the token
   * becomes `token` when given; the replay becomes `replay` (null removes it). The partition must have been
   * claimed before.
   */
  applyReset(
    ref: PartitionRef & { readonly processor: string },
    reset: { readonly token?: PartitionToken; readonly replay: Replay | null },
  ): void {
    const stored = this.partitions.get(partitionKey(ref.processor, ref.topic, ref.partition)) as
      { -readonly [K in keyof StoredPartition]: StoredPartition[K] } | undefined;
    if (!stored) {
      throw new ConfigurationError(
        `${topicPartitionId(ref.topic, ref.partition)} of "${ref.processor}" has no item to reset: claim it first`,
      );
    }
    stored.epoch += 1;
    stored.owner = '';
    stored.leaseUntil = 0;
    stored.updatedAt = this.clock();
    if (reset.token) stored.token = reset.token;
    stored.replay = reset.replay;
  }

  async release(claim: ClaimRef): Promise<void> {
    try {
      this.fencedItem(claim, this.clock(), false).leaseUntil = 0;
    } catch (error) {
      if (!(error instanceof FencedError)) throw error;
    }
  }

  async readState(processor: string): Promise<ProcessorState> {
    const layout = await this.readLayout(processor);
    const prefix = `${processor}\u0000`;
    const partitions = [...this.partitions]
      .filter(([key]) => key.startsWith(prefix))
      .map(([, stored]) => partitionState(stored))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { layout, partitions };
  }

  /** The claim's item if its owner and epoch still hold (and, with `live`, its lease): as in the DynamoDB store. */
  private fencedItem(
    claim: ClaimRef,
    now: number,
    live: boolean,
  ): { -readonly [K in keyof StoredPartition]: StoredPartition[K] } {
    const stored = this.partitions.get(partitionKey(claim.processor, claim.topic, claim.partition));
    if (!stored || stored.owner !== claim.owner || stored.epoch !== claim.epoch || (live && stored.leaseUntil <= now)) {
      throw fenced(claim, stored, now);
    }
    return stored as { -readonly [K in keyof StoredPartition]: StoredPartition[K] };
  }
}

/** What a status view sees of a stored partition. */
function partitionState(stored: StoredPartition): PartitionState {
  return {
    topic: stored.topic,
    partition: stored.partition,
    owner: stored.owner,
    epoch: stored.epoch,
    leaseUntil: stored.leaseUntil,
    layoutVersion: stored.layoutVersion,
    token: stored.token,
    updatedAt: stored.updatedAt,
    parked: [...stored.parked.values()],
    lastRecordAt: stored.lastRecordAt,
    replay: stored.replay,
  };
}

function partitionKey(processor: string, topic: string, partition: number): string {
  return `${processor}\u0000${topic}\u0000${partition}`;
}
