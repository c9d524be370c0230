import { randomUUID } from 'node:crypto';
import { ClaimHeldError, ConfigurationError, FencedError, MalformedEventError, StaleLayoutError } from './errors.js';
import { isPlainObject, parseKafkaEvent } from './kafka-event.js';
import type { KafkaRecord } from './kafka-record.js';
import type { RecordOutcome } from './key-scheduler.js';
import { SegmentState } from './layout.js';
import { LayoutCache, type CachedLayout } from './layout-cache.js';
import { LeaseKeeper } from './lease.js';
import { describeError, type Logger } from './logger.js';
import type { Processor } from './processor.js';
import { scopedKey, type SegmentRunner, type WorkItem } from './segment-runner.js';
import { segmentName } from './segment.js';
import { sequencingKeyOf } from './sequencing-policy.js';
import type { UnfinishedRecord } from './token.js';
import type { Claim, Clock, TokenStore } from './token-store.js';

/** One entry of a Kafka partial batch response. */
export interface BatchItemFailure {
  readonly itemIdentifier: { readonly partition: string; readonly offset: number };
}

/** The Kafka partial batch response: per partition, the first offset Lambda must deliver again. */
export interface KafkaBatchResponse {
  readonly batchItemFailures: BatchItemFailure[];
}

/** What happened to one partition's records in one invocation. */
export interface PartitionReport {
  readonly topicPartition: string;
  readonly delivered: number;
  readonly handled: number;
  /** Already covered by the token: delivered again and skipped. */
  readonly skipped: number;
  readonly failed: number;
  readonly blocked: number;
  readonly notStarted: number;
  /** Held back for a split or merge and handed back because it had not finished. */
  readonly draining: number;
  /** Held for a split or merge that finished during the batch, then handled with the new layout. */
  readonly released: number;
  readonly malformed: number;
  /** The offset reported back for redelivery, if any. */
  readonly redeliverFrom: number | undefined;
  /** Why the whole partition was handed back (claim held, fenced, checkpoint failed). */
  readonly abandoned?: string;
}

/** The response for Lambda and a report per partition (for logs, metrics and tests). */
export interface DispatchResult {
  readonly response: KafkaBatchResponse;
  readonly partitions: readonly PartitionReport[];
  readonly layoutVersion: number;
}

/** Runtime settings of the dispatcher. Every one has a default. */
export interface DispatcherSettings {
  /** Claim lease; renewed inline while work runs. @default 30000 */
  readonly leaseMs: number;
  /** How long a container may route with a layout it read. @default 5000 */
  readonly layoutTtlMs: number;
  /** How long to wait for another live holder of a partition (a duplicate delivery) before handing it back. @default 10000 */
  readonly claimWaitMs: number;
  /** Time kept at the end of the invocation to checkpoint. @default 3000 */
  readonly checkpointReserveMs: number;
  /** Stop starting work this long before the lease ends. @default 2000 */
  readonly leaseSafetyMs: number;
  /** Out-of-order ranges kept per token cell. @default 200 */
  readonly maxRanges: number;
  /**
   * How long to wait for a split or merge to finish before handing back records of a draining segment. Waiting
   * spares Lambda a burst of immediate retries (which count against its retry limit). @default 10000
   */
  readonly drainWaitMs: number;
}

/** The defaults of {@link DispatcherSettings}. */
export const DEFAULT_DISPATCHER_SETTINGS: DispatcherSettings = Object.freeze({
  leaseMs: 30_000,
  layoutTtlMs: 5_000,
  claimWaitMs: 10_000,
  checkpointReserveMs: 3_000,
  leaseSafetyMs: 2_000,
  maxRanges: 200,
  drainWaitMs: 10_000,
});

/** Checks dispatcher settings; a ConfigurationError names the bad value and what is allowed. */
export function resolveDispatcherSettings(partial: Partial<DispatcherSettings> = {}): DispatcherSettings {
  const settings = { ...DEFAULT_DISPATCHER_SETTINGS, ...partial };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigurationError(`${name} must be a whole number >= 0, got ${String(value)}`);
    }
  }
  if (settings.leaseMs < 1_000 || settings.leaseSafetyMs * 2 >= settings.leaseMs) {
    throw new ConfigurationError(
      `leaseMs must be >= 1000 and more than twice leaseSafetyMs (${settings.leaseSafetyMs}), got ${settings.leaseMs}`,
    );
  }
  if (settings.maxRanges < 1) throw new ConfigurationError(`maxRanges must be >= 1, got ${settings.maxRanges}`);
  return Object.freeze(settings);
}

/** Everything a dispatcher is built from. */
export interface DispatcherDependencies {
  readonly processor: Processor;
  readonly store: TokenStore;
  readonly runner: SegmentRunner;
  readonly settings?: Partial<DispatcherSettings>;
  readonly clock?: Clock;
  readonly logger: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** One partition's slice of a batch. */
interface PartitionSlice {
  readonly topicPartition: string;
  readonly topic: string;
  readonly partition: number;
  readonly records: KafkaRecord[];
  /** Offsets of records that could not be read: they hold every cell back. */
  readonly malformedOffsets: number[];
  readonly first: number;
  readonly last: number;
}

/** What a claim is taken for. */
interface PartitionTarget {
  readonly topicPartition: string;
  readonly topic: string;
  readonly partition: number;
}

/** A granted claim, kept alive, with the layout to route with. */
interface Acquired {
  readonly keeper: LeaseKeeper<Claim>;
  readonly cached: CachedLayout;
}

/** A record of a draining segment, held back until the change is applied or the wait ends. */
interface HeldRecord {
  readonly record: KafkaRecord;
  readonly sequencingKey: string;
  readonly hash: number;
}

/** A claimed slice with its plan. */
interface ClaimedSlice {
  readonly slice: PartitionSlice;
  readonly keeper: LeaseKeeper<Claim>;
  /** The layout the slice is routed with; a finished split or merge replaces it. */
  cached: CachedLayout;
  readonly items: WorkItem[];
  held: HeldRecord[];
  readonly unfinished: UnfinishedRecord[];
  readonly counts: { skipped: number; keyErrors: number; released: number };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Processes one event source batch: claims each partition (partitions never wait for each other), routes records
 * to segments, skips what the tokens cover, runs the rest in key order, checkpoints, and answers with the first
 * unfinished offset of each partition so Lambda delivers exactly what is left.
 */
export class Dispatcher {
  private readonly processor: Processor;
  private readonly store: TokenStore;
  private readonly runner: SegmentRunner;
  private readonly settings: DispatcherSettings;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly layouts: LayoutCache;

  constructor(dependencies: DispatcherDependencies) {
    this.processor = dependencies.processor;
    this.store = dependencies.store;
    this.runner = dependencies.runner;
    this.settings = resolveDispatcherSettings(dependencies.settings);
    this.clock = dependencies.clock ?? Date.now;
    this.logger = dependencies.logger;
    this.sleep = dependencies.sleep ?? defaultSleep;
    this.layouts = new LayoutCache(this.store, this.processor.name, {
      ttlMs: this.settings.layoutTtlMs,
      initialSegments: this.processor.initialSegments,
      clock: this.clock,
    });
  }

  /**
   * Handles one event. `remainingMs` is the invocation's time left (Lambda's `getRemainingTimeInMillis`).
   * Throws only when the event as a whole is unusable or the layout is invalid: Lambda then retries the batch.
   */
  async dispatch(
    event: unknown,
    options: { remainingMs: () => number; invocationId?: string },
  ): Promise<DispatchResult> {
    const invocationId = options.invocationId ?? randomUUID();
    const deadline = this.clock() + options.remainingMs() - this.settings.checkpointReserveMs;
    // Every claim taken for this event, so an event refused whole gives them all back.
    const taken: Array<Promise<Acquired | { abandoned: string }>> = [];
    const take = (target: PartitionTarget) => {
      const pending = this.acquire(target, invocationId, deadline);
      // Observed when awaited; until then a failed claim must not count as an unhandled rejection.
      pending.catch(() => {});
      taken.push(pending);
      return pending;
    };
    // A claim needs only the partition, so its round trip runs while the event is parsed and routed.
    const early = new Map(partitionsNamedIn(event).map((target) => [target.topicPartition, take(target)]));
    // Parsing is synchronous: let the claim requests go out first.
    if (early.size > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    let cached: CachedLayout;
    let claimed: Array<ClaimedSlice | { abandoned: string }>;
    let slices: PartitionSlice[];
    try {
      const batch = parseKafkaEvent(event);
      for (const error of batch.malformed)
        this.logger.error('malformed record reported failed', { error, ...error.context });
      slices = this.slice(batch.records, batch.malformed);
      cached = await this.layouts.get();
      claimed = await Promise.all(
        slices.map(async (slice) => {
          const pending = early.get(slice.topicPartition);
          early.delete(slice.topicPartition);
          // A partition with no readable record has nothing to run: its records are handed back unclaimed.
          if (slice.records.length === 0) {
            if (pending) await this.releaseAcquired(pending);
            return { abandoned: 'no readable record' };
          }
          const acquired = await (pending ?? take(slice));
          return 'abandoned' in acquired ? acquired : this.plan(slice, acquired.keeper, acquired.cached);
        }),
      );
    } catch (error) {
      // The event is refused whole: give back every claim taken for it, so Lambda's retry need not wait them out.
      await Promise.all(taken.map((pending) => this.releaseAcquired(pending)));
      throw error;
    }
    // Claims for partitions that parsing found nothing under.
    await Promise.all([...early.values()].map((pending) => this.releaseAcquired(pending)));
    const reports: PartitionReport[] = [];
    const work: ClaimedSlice[] = [];
    claimed.forEach((result, i) => {
      if ('abandoned' in result) reports.push(abandon(slices[i]!, result.abandoned));
      else work.push(result);
    });
    for (const entry of work) if (entry.cached.layout.version > cached.layout.version) cached = entry.cached;

    try {
      const keepers = new Map(work.map((entry) => [entry.slice.topicPartition, entry.keeper]));
      const byItem = new Map<WorkItem, RecordOutcome>();
      const run = async (items: WorkItem[], layoutVersion: number) => {
        if (items.length === 0) return;
        const outcomes = await this.runner.run(items, {
          processor: this.processor,
          layoutVersion,
          deadline,
          logger: this.logger,
          canStart: (item) => keepers.get(item.record.topicPartition)!.keepAlive(),
        });
        items.forEach((item, i) => byItem.set(item, outcomes[i]!));
      };
      await run(
        work.flatMap((entry) => entry.items),
        cached.layout.version,
      );
      const released = await this.awaitDrains(work, deadline);
      if (released.length > 0) await run(released, Math.max(...work.map((entry) => entry.cached.layout.version)));
      reports.push(...(await Promise.all(work.map((entry) => this.checkpoint(entry, byItem)))));
    } finally {
      for (const entry of work) entry.keeper.stop();
    }

    reports.sort((a, b) => a.topicPartition.localeCompare(b.topicPartition));
    const batchItemFailures = reports
      .filter((r) => r.redeliverFrom !== undefined)
      .map((r) => ({ itemIdentifier: { partition: r.topicPartition, offset: r.redeliverFrom! } }));
    return { response: { batchItemFailures }, partitions: reports, layoutVersion: cached.layout.version };
  }

  /** Groups records by partition, in offset order, with the offsets of records that could not be read. */
  private slice(
    records: readonly KafkaRecord[],
    malformed: ReturnType<typeof parseKafkaEvent>['malformed'],
  ): PartitionSlice[] {
    const groups = new Map<string, { records: KafkaRecord[]; malformedOffsets: number[] }>();
    const group = (id: string) => {
      let entry = groups.get(id);
      if (!entry) groups.set(id, (entry = { records: [], malformedOffsets: [] }));
      return entry;
    };
    for (const record of records) group(record.topicPartition).records.push(record);
    for (const error of malformed) {
      const entry = group(error.topicPartition);
      if (error.offset !== undefined) entry.malformedOffsets.push(error.offset);
      else entry.malformedOffsets.push(Number.NaN);
    }
    return [...groups].map(([topicPartition, entry]) => {
      const cut = topicPartition.lastIndexOf('-');
      const offsets = [
        ...entry.records.map((r) => r.offset),
        ...entry.malformedOffsets.filter((o) => !Number.isNaN(o)),
      ];
      if (offsets.length === 0) {
        throw new MalformedEventError(
          `records["${topicPartition}"] has no record with a readable offset, so no offset can be reported back; the whole batch fails`,
        );
      }
      const first = Math.min(...offsets);
      // A malformed record without an offset is handed back from the first offset of its partition.
      const malformedOffsets = entry.malformedOffsets.map((o) => (Number.isNaN(o) ? first : o));
      entry.records.sort((a, b) => a.offset - b.offset);
      return {
        topicPartition,
        topic: entry.records[0]?.topic ?? topicPartition.slice(0, cut),
        partition: entry.records[0]?.partition ?? Number(topicPartition.slice(cut + 1)),
        records: entry.records,
        malformedOffsets,
        first,
        last: Math.max(...offsets),
      };
    });
  }

  /** Claims a partition, waiting a bounded time for a live holder and refreshing a stale layout. */
  private async acquire(
    slice: PartitionTarget,
    invocationId: string,
    deadline: number,
  ): Promise<Acquired | { abandoned: string }> {
    const owner = `${invocationId}/${slice.topicPartition}`;
    const waitUntil = Math.min(this.clock() + this.settings.claimWaitMs, deadline);
    let cached = await this.layouts.get();
    for (let attempt = 0; ; attempt++) {
      try {
        const claim = await this.store.claim({
          processor: this.processor.name,
          topic: slice.topic,
          partition: slice.partition,
          owner,
          layoutVersion: cached.layout.version,
          leaseMs: this.settings.leaseMs,
        });
        // The claim may have landed after the layout went stale: route with a fresh one (see the split protocol).
        if (!this.layouts.isFresh(cached)) cached = await this.layouts.refresh();
        const keeper = new LeaseKeeper(this.store, claim, {
          leaseMs: this.settings.leaseMs,
          safetyMs: this.settings.leaseSafetyMs,
          clock: this.clock,
          onRenewError: (error) => this.logger.warn('lease renewal failed; will retry', { error, owner }),
        }).start();
        return { keeper, cached };
      } catch (error) {
        if (error instanceof StaleLayoutError && attempt < 5) {
          this.logger.info('stale layout refused; refreshing and routing again', { ...error.context });
          cached = await this.layouts.refresh();
          continue;
        }
        if (error instanceof ClaimHeldError) {
          const now = this.clock();
          if (now >= waitUntil) return { abandoned: error.message };
          await this.sleep(
            Math.min(25 * 2 ** Math.min(attempt, 5), waitUntil - now, Math.max(1, error.holder.leaseUntil - now)),
          );
          continue;
        }
        this.logger.error('claim failed; partition handed back', { error, topicPartition: slice.topicPartition });
        return { abandoned: describeError(error).message };
      }
    }
  }

  /** Gives a claim back unused (a refused event, a partition with nothing to run); its lease would also expire. */
  private async releaseAcquired(pending: Promise<Acquired | { abandoned: string }>): Promise<void> {
    // A claim that failed outright holds nothing; its error is the caller's to report.
    const acquired = await pending.catch(() => undefined);
    if (acquired === undefined || 'abandoned' in acquired) return;
    acquired.keeper.stop();
    try {
      await this.store.release(acquired.keeper.claim);
    } catch (error) {
      this.logger.warn('releasing an unused claim failed; its lease will expire', {
        error,
        owner: acquired.keeper.claim.owner,
      });
    }
  }

  /** Routes a claimed slice: skip what the token covers, hold back draining segments and unreadable keys. */
  private plan(slice: PartitionSlice, keeper: LeaseKeeper<Claim>, cached: CachedLayout): ClaimedSlice {
    const { token } = keeper.claim;
    const items: WorkItem[] = [];
    const unfinished: UnfinishedRecord[] = slice.malformedOffsets.map((offset) => ({ offset, hash: undefined }));
    const held: HeldRecord[] = [];
    const counts = { skipped: 0, keyErrors: 0, released: 0 };
    const topicAllowed = this.processor.topics.includes(slice.topic);
    for (const record of slice.records) {
      let sequencingKey: string;
      try {
        if (!topicAllowed) {
          throw new ConfigurationError(
            `topic "${record.topic}" is not one of processor "${this.processor.name}"'s topics (${this.processor.topics.join(', ')})`,
          );
        }
        sequencingKey = sequencingKeyOf(this.processor.sequencing, record);
      } catch (error) {
        counts.keyErrors++;
        this.logger.error('record cannot be routed; reported failed', {
          error,
          topicPartition: slice.topicPartition,
          offset: record.offset,
        });
        unfinished.push({ offset: record.offset, hash: undefined });
        continue;
      }
      const hash = this.processor.hash(sequencingKey);
      if (token.covers(hash, record.offset)) {
        counts.skipped++;
        continue;
      }
      const segment = cached.router.segmentFor(hash);
      if (segment.state === SegmentState.Draining) held.push({ record, sequencingKey, hash });
      else items.push(this.workItem(slice, keeper, { record, sequencingKey, hash }, segment));
    }
    return { slice, keeper, cached, items, held, unfinished, counts };
  }

  private workItem(
    slice: PartitionSlice,
    keeper: LeaseKeeper<Claim>,
    held: HeldRecord,
    segment: WorkItem['segment'],
  ): WorkItem {
    return {
      key: scopedKey(slice.topicPartition, held.sequencingKey),
      offset: held.record.offset,
      record: held.record,
      sequencingKey: held.sequencingKey,
      hash: held.hash,
      segment,
      claim: keeper.claim,
    };
  }

  /**
   * Waits (bounded) for the split or merge that drains some segments to finish, re-reading the layout, and routes
   * the held records with the new layout. All records of a key share a segment, so they were all held together and
   * keep their order. Our claim was taken under the draining layout, so it never holds that drain up; once a newer
   * change begins, our claim would hold it up, so the wait ends and the rest is handed back.
   */
  private async awaitDrains(work: ClaimedSlice[], deadline: number): Promise<WorkItem[]> {
    const waitUntil = Math.min(this.clock() + this.settings.drainWaitMs, deadline - this.settings.leaseSafetyMs);
    const released: WorkItem[] = [];
    const waiting = new Set(work.filter((entry) => entry.held.length > 0));
    while ([...waiting].some((entry) => entry.keeper.isLive()) && this.clock() < waitUntil) {
      await this.sleep(Math.min(250, Math.max(1, waitUntil - this.clock())));
      const fresh = await this.layouts.refresh();
      for (const entry of waiting) {
        const newer =
          fresh.layout.change !== undefined && fresh.layout.change.drainVersion > entry.keeper.claim.layoutVersion;
        if (fresh.layout.version <= entry.cached.layout.version && !newer) continue;
        entry.cached = fresh;
        const stillHeld: HeldRecord[] = [];
        for (const held of entry.held) {
          const segment = fresh.router.segmentFor(held.hash);
          if (segment.state === SegmentState.Draining) stillHeld.push(held);
          else {
            const item = this.workItem(entry.slice, entry.keeper, held, segment);
            entry.items.push(item);
            released.push(item);
            entry.counts.released++;
          }
        }
        entry.held = stillHeld;
        if (stillHeld.length === 0 || newer) waiting.delete(entry);
      }
    }
    return released;
  }

  /** Writes the new token and releases the claim; a fenced or failed write hands the whole slice back. */
  private async checkpoint(entry: ClaimedSlice, outcomes: Map<WorkItem, RecordOutcome>): Promise<PartitionReport> {
    const { slice, keeper, cached, counts } = entry;
    keeper.stop();
    const unfinished = [...entry.unfinished, ...entry.held.map((h) => ({ offset: h.record.offset, hash: h.hash }))];
    const tally = { handled: 0, failed: 0, blocked: 0, notStarted: 0 };
    for (const item of entry.items) {
      const outcome = outcomes.get(item)!;
      if (outcome.status === 'done') {
        tally.handled++;
        continue;
      }
      tally[outcome.status]++;
      unfinished.push({ offset: item.offset, hash: item.hash });
      if (outcome.status === 'failed') {
        this.logger.error('record failed after retries; its key is blocked', {
          topicPartition: slice.topicPartition,
          offset: item.offset,
          segment: segmentName(item.segment),
          attempts: outcome.attempts,
          error: describeError(outcome.error),
        });
      }
    }
    const base = {
      topicPartition: slice.topicPartition,
      delivered: slice.records.length + slice.malformedOffsets.length,
      skipped: counts.skipped,
      draining: entry.held.length,
      released: counts.released,
      malformed: slice.malformedOffsets.length + counts.keyErrors,
      ...tally,
    };
    const advance = keeper.claim.token.advance({
      segments: cached.layout.segments,
      first: slice.first,
      last: slice.last,
      unfinished,
      maxRanges: this.settings.maxRanges,
    });
    if (advance.forgottenRanges > 0) {
      this.logger.warn('out-of-order ranges over the bound were not recorded; those records will be handled again', {
        topicPartition: slice.topicPartition,
        forgottenRanges: advance.forgottenRanges,
      });
    }
    for (const skip of advance.sourceSkipped) {
      this.logger.warn('the event source moved past offsets that were not done (its retries or record age ran out)', {
        topicPartition: slice.topicPartition,
        segment: segmentName(skip.segment),
        ranges: skip.ranges,
      });
    }
    try {
      await this.store.checkpoint(keeper.claim, advance.token, { release: true, leaseMs: this.settings.leaseMs });
    } catch (error) {
      const reason = error instanceof FencedError ? 'fenced' : 'checkpoint failed';
      this.logger.error(`${reason}; partition handed back`, { error, topicPartition: slice.topicPartition });
      return { ...base, redeliverFrom: slice.first, abandoned: describeError(error).message };
    }
    const redeliverFrom = unfinished.length ? Math.min(...unfinished.map((u) => u.offset)) : undefined;
    return { ...base, redeliverFrom };
  }
}

/**
 * The partitions an event names with at least one record, read from its `records` keys without parsing a record.
 * Keys that are not `<topic>-<partition>` are left out: parsing reports them.
 */
function partitionsNamedIn(event: unknown): PartitionTarget[] {
  const records = isPlainObject(event) ? event.records : undefined;
  if (!isPlainObject(records)) return [];
  const targets: PartitionTarget[] = [];
  for (const [topicPartition, entry] of Object.entries(records)) {
    const cut = topicPartition.lastIndexOf('-');
    const digits = topicPartition.slice(cut + 1);
    if (cut < 1 || !/^(0|[1-9]\d{0,9})$/.test(digits) || !Array.isArray(entry) || entry.length === 0) continue;
    targets.push({ topicPartition, topic: topicPartition.slice(0, cut), partition: Number(digits) });
  }
  return targets;
}

function abandon(slice: PartitionSlice, reason: string): PartitionReport {
  return {
    topicPartition: slice.topicPartition,
    delivered: slice.records.length + slice.malformedOffsets.length,
    handled: 0,
    skipped: 0,
    failed: 0,
    blocked: 0,
    notStarted: slice.records.length,
    draining: 0,
    released: 0,
    malformed: slice.malformedOffsets.length,
    redeliverFrom: slice.first,
    abandoned: reason,
  };
}
