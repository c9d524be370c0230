import { createHash, randomUUID } from 'node:crypto';
import {
  entryText,
  isParked,
  keyDigest,
  letterError,
  PARKED_KEY_BYTES,
  ParkReason,
  SyntheticKey,
  type DeadLetter,
  type LetterError,
  type SourceSkip,
} from '../dead-letters/dead-letter.js';
import { ClaimHeldError, FencedError, isRetriable, MalformedRecordError, StaleLayoutError } from '../errors.js';
import { resolveDispatcherSettings, type DispatcherSettings } from '../settings.js';
import { parseKafkaRecord, readableOffset, readKafkaEventEnvelope } from '../kafka/kafka-event.js';
import { parseTopicPartition, type KafkaRecord } from '../kafka/kafka-record.js';
import type { RecordOutcome } from './key-scheduler.js';
import { SegmentState } from '../routing/layout.js';
import { LayoutCache, type CachedLayout } from '../routing/layout-cache.js';
import { LeaseKeeper } from '../tokens/lease.js';
import { describeError, type Logger } from '../observability/logger.js';
import { ReplayMode, routingKeyOf, type Processor } from './processor.js';
import { isReplayed, isReplayedEverywhere } from '../tokens/replay.js';
import { mergeRanges } from '../tokens/position.js';
import { planParking, type ParkCandidate, type ParkingPlan } from '../dead-letters/parking.js';
import { openRun, type RunContext, type RunStream, type SegmentRunner, type WorkItem } from './segment-runner.js';
import { segmentName } from '../routing/segment.js';
import type { PartitionToken, TokenAdvance, UnfinishedRecord } from '../tokens/token.js';
import { HandBackReason, notifyObserver, type ProcessorObserver } from './observer.js';
import type { CheckpointChanges, Claim, Clock, FailureCount, TokenStore } from '../tokens/token-store.js';

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
  /** Parked as dead letters in this checkpoint (failed for good, behind a parked key, malformed, unroutable). */
  readonly parked: number;
  /** Would have been parked, but the parked-key bound was reached or the letter is too large: reported back. */
  readonly unparkable: number;
  /** Offsets the event source moved past although they were delivered and not done (recorded as skips). */
  readonly skippedBySource: number;
  /** Brought again by a reset and, the processor's `replay` being 'skip', done without running. */
  readonly replaySkipped: number;
  /**
   * Kafka timestamp (ms) of the newest record the partition's token covers after this checkpoint, as written to its
   * item (`lastRecordAt`); null when nothing was checkpointed or no timestamp is known.
   */
  readonly lastRecordAt: number | null;
  /** Kafka timestamp (ms) of the oldest record handled in this batch; null when none was. */
  readonly oldestHandledAt: number | null;
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

/** Everything a dispatcher is built from. */
export interface DispatcherDependencies {
  readonly processor: Processor;
  readonly store: TokenStore;
  readonly runner: SegmentRunner;
  readonly settings?: Partial<DispatcherSettings>;
  readonly clock?: Clock;
  readonly logger: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told of claims, checkpoints, parks, hand-backs and failed attempts; never changes processing. */
  readonly observer?: ProcessorObserver;
  /** Told how long each handler call took, in ms (the `HandlerDuration` metric). */
  readonly onHandlerDuration?: (ms: number) => void;
}

/** One partition's slice of a batch, filled as the event is parsed. */
interface PartitionSlice {
  readonly topicPartition: string;
  readonly topic: string;
  readonly partition: number;
  /** The entry's raw records. */
  readonly raw: readonly unknown[];
  /** Raw offsets rise, so records can be routed as they are parsed; otherwise they are sorted first. */
  readonly ascending: boolean;
  /** Readable records parsed so far, in offset order once all are parsed. */
  readonly records: KafkaRecord[];
  /** Records that could not be read (offset when known): parked, or without an offset, handed back. */
  readonly malformed: Array<{ offset: number | undefined; raw: unknown; error: MalformedRecordError }>;
  /** Whether every raw record has been parsed. */
  parsed: boolean;
  /** How many of `records` were routed. */
  routed: number;
  /** Whether the entry key names a partition (`<topic>-<partition>`); only then is a claim taken. */
  readonly named: boolean;
  /** The claim, taken before parsing (undefined when the entry key names no partition). */
  pending: Promise<Acquired | Abandoned> | undefined;
  /** The routed records, once the claim is granted. */
  claimed: ClaimedSlice | undefined;
  /** Lowest and highest readable offset of the entry. */
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

/** A claim given up on: the partition is handed back whole. */
interface Abandoned {
  readonly abandoned: string;
  readonly reason: HandBackReason;
}

/** A record of a draining segment, held back until the change is applied or the wait ends. */
interface HeldRecord {
  readonly record: KafkaRecord;
  readonly sequencingKey: string;
  readonly hash: number;
}

/** A claimed slice and where its records went. */
interface ClaimedSlice {
  readonly slice: PartitionSlice;
  readonly keeper: LeaseKeeper<Claim>;
  /** The layout the slice is routed with; a finished split or merge replaces it. */
  cached: CachedLayout;
  readonly items: WorkItem[];
  held: HeldRecord[];
  /** Keys whose letters are not all redriven, as the claim read them: their records are parked behind. */
  readonly parkedKeys: ParkedKeys;
  /** Records to park found while routing (behind a parked key, unroutable). */
  readonly parking: ParkCandidate[];
  readonly counts: { skipped: number; keyErrors: number; released: number; duplicates: number; replaySkipped: number };
  /** The highest offset routed so far: records come in offset order, so one at or below it is a duplicate. */
  lastOffset: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

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
  private readonly observer: ProcessorObserver | undefined;
  private readonly onHandlerDuration: ((ms: number) => void) | undefined;

  constructor(dependencies: DispatcherDependencies) {
    this.processor = dependencies.processor;
    this.store = dependencies.store;
    this.runner = dependencies.runner;
    this.settings = resolveDispatcherSettings(dependencies.settings);
    this.clock = dependencies.clock ?? Date.now;
    this.logger = dependencies.logger;
    this.sleep = dependencies.sleep ?? defaultSleep;
    this.observer = dependencies.observer;
    this.onHandlerDuration = dependencies.onHandlerDuration;
    this.layouts = new LayoutCache(this.store, this.processor.name, {
      ttlMs: this.settings.layoutTtlMs,
      initialSegments: this.processor.initialSegments,
      clock: this.clock,
    });
  }

  /**
   * Handles one event. `remainingMs` is the invocation's time left (Lambda's `getRemainingTimeInMillis`);
   * `invocationId` is its Lambda request id (`awsRequestId`): it names the claims' owners, is recorded on source
   * skips and is handed to inline handlers as `HandlerContext.requestId` (a random id when not given).
   * Throws only when the event as a whole is unusable or the layout is invalid: Lambda then retries the batch.
   *
   * Claims are taken before any record is parsed, and records start running while later ones are still parsed:
   * a batch's first records do not wait for its last ones to be read.
   */
  async dispatch(
    event: unknown,
    options: { remainingMs: () => number; invocationId?: string },
  ): Promise<DispatchResult> {
    const invocationId = options.invocationId ?? randomUUID();
    const attemptId = randomUUID().slice(0, 8);
    const deadline = this.clock() + options.remainingMs() - this.settings.checkpointReserveMs;
    // Everything that refuses the event whole is found before a claim is taken.
    const slices = readKafkaEventEnvelope(event)
      .entries.filter(([, entry]) => entry.length > 0)
      .map(([entryKey, entry]) => sliceOf(entryKey, entry));
    const claiming = slices.filter((slice) => slice.named);
    for (const slice of claiming) {
      slice.pending = this.acquire(slice, invocationId, attemptId, deadline);
      // Observed once all claims settle; until then a failed claim must not count as an unhandled rejection.
      slice.pending.catch(() => {});
    }
    const claims = claiming.map((slice) => slice.pending!);
    const keepers = new Map<string, LeaseKeeper<Claim>>();
    const context: RunContext = {
      processor: this.processor,
      deadline,
      logger: this.logger,
      requestId: invocationId,
      ...(this.observer ? { observer: this.observer } : {}),
      ...(this.onHandlerDuration ? { onHandlerDuration: this.onHandlerDuration } : {}),
      canStart: (item) => keepers.get(item.record.topicPartition)!.keepAlive(),
    };
    let stream: RunStream | undefined;
    // In the order they went into the stream, which answers in that order.
    const added: WorkItem[] = [];
    const route = (slice: PartitionSlice) => {
      const claimed = slice.claimed;
      if (!stream || !claimed || (!slice.ascending && !slice.parsed)) return;
      const items = this.route(claimed, slice.records.slice(slice.routed));
      slice.routed = slice.records.length;
      if (items.length === 0) return;
      for (const item of items) added.push(item);
      stream.add(items);
    };
    // Records start once every claim of the event is settled: a claim that fails refuses the event before any starts.
    // Resolves with that failure, if any.
    let refused = false;
    const settled = Promise.allSettled(claims).then((results) => {
      const failed = results.find((result) => result.status === 'rejected');
      if (failed || refused) return failed;
      claiming.forEach((slice, i) => {
        const acquired = results[i]!;
        if (acquired.status !== 'fulfilled' || 'abandoned' in acquired.value) return;
        const { keeper, cached } = acquired.value;
        keepers.set(slice.topicPartition, keeper);
        slice.claimed = {
          slice,
          keeper,
          cached,
          items: [],
          held: [],
          parkedKeys: parkedKeysOf(keeper.claim),
          parking: [],
          counts: newCounts(),
          lastOffset: -1,
        };
      });
      stream = openRun(this.runner, context);
      for (const slice of slices) route(slice);
    });
    try {
      // Parsing is synchronous: the claim requests go out first, then each chunk gives claims and handlers a turn.
      if (claims.length > 0) await yieldToEventLoop();
      for (const slice of slices) {
        for (let index = 0; index < slice.raw.length;) {
          const end = Math.min(index + this.settings.parseChunk, slice.raw.length);
          for (; index < end; index++) this.parseInto(slice, index);
          route(slice);
          if (index < slice.raw.length) await yieldToEventLoop();
        }
        if (!slice.ascending) slice.records.sort((a, b) => a.offset - b.offset);
        slice.parsed = true;
        route(slice);
      }
      const failed = await settled;
      if (failed) throw failed.reason;
    } catch (error) {
      // The event is refused: nothing more starts; once nothing runs, every claim taken for it is given back, so
      // Lambda's retry need not wait them out.
      refused = true;
      await settled;
      await stream?.abandon().catch(() => {});
      await Promise.all(claims.map((pending) => this.releaseAcquired(pending)));
      const detail = describeError(error).message;
      for (const slice of slices) {
        this.handBack(slice, invocationId, HandBackReason.EventRefused, () => deliveredOffsets(slice), { detail });
      }
      throw error;
    }
    const work: ClaimedSlice[] = [];
    const reports: PartitionReport[] = [];
    for (const slice of slices) {
      const claimed = slice.claimed;
      // Records that could not be read but have an offset are parked: the partition goes on past them.
      if (claimed && (slice.records.length > 0 || slice.malformed.length > 0)) {
        work.push(claimed);
        continue;
      }
      // A partition with no readable record has nothing to run: its records are handed back unclaimed.
      if (claimed) await this.releaseAcquired(slice.pending!);
      const acquired = slice.pending ? await slice.pending : undefined;
      const reason =
        slice.records.length === 0
          ? 'no readable record'
          : acquired && 'abandoned' in acquired
            ? acquired.abandoned
            : 'no claim';
      const report = abandon(slice, reason);
      reports.push(report);
      const given = acquired && 'abandoned' in acquired ? acquired : undefined;
      this.handBack(slice, invocationId, given?.reason ?? HandBackReason.NotClaimed, () => deliveredOffsets(slice), {
        detail: given?.abandoned ?? reason,
      });
    }

    try {
      const byItem = new Map<WorkItem, RecordOutcome>();
      const record = (items: readonly WorkItem[], outcomes: readonly RecordOutcome[]) =>
        items.forEach((item, i) => byItem.set(item, outcomes[i]!));
      if (stream) record(added, await stream.close());
      const released = await this.awaitDrains(work, deadline);
      if (released.length > 0) record(released, await this.runner.run(released, context));
      reports.push(...(await Promise.all(work.map((entry) => this.checkpoint(entry, byItem, invocationId, deadline)))));
    } finally {
      for (const entry of work) entry.keeper.stop();
    }

    // Every claim read the layout first, so only an event that claimed nothing reads it here: once records ran, a
    // failed read must not turn a checkpointed batch into an error.
    let layoutVersion = (this.layouts.latest() ?? (await this.layouts.get())).layout.version;
    for (const entry of work) layoutVersion = Math.max(layoutVersion, entry.cached.layout.version);
    reports.sort((a, b) => a.topicPartition.localeCompare(b.topicPartition));
    const batchItemFailures = reports
      .filter((r) => r.redeliverFrom !== undefined)
      .map((r) => ({ itemIdentifier: { partition: r.topicPartition, offset: r.redeliverFrom! } }));
    return { response: { batchItemFailures }, partitions: reports, layoutVersion };
  }

  /** Parses the slice's raw record at `index`; a record that cannot be read is logged and its offset kept. */
  private parseInto(slice: PartitionSlice, index: number): void {
    try {
      slice.records.push(parseKafkaRecord(slice.raw[index], slice.topicPartition, index));
    } catch (error) {
      if (!(error instanceof MalformedRecordError)) throw error;
      this.logger.error('malformed record', { error, ...error.context });
      slice.malformed.push({ offset: error.offset, raw: slice.raw[index], error });
    }
  }

  /** Claims a partition, waiting a bounded time for a live holder and refreshing a stale layout. */
  private async acquire(
    slice: PartitionTarget & { readonly first: number; readonly last: number },
    invocationId: string,
    attemptId: string,
    deadline: number,
  ): Promise<Acquired | Abandoned> {
    // Unique per dispatch: two deliveries that share a request id (a duplicate) must not both hold the claim.
    const owner = `${invocationId}/${attemptId}/${slice.topicPartition}`;
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
          ...(slice.first <= slice.last ? { batch: { first: slice.first, last: slice.last } } : {}),
        });
        this.notify('onClaim', () => ({
          ...this.partitionOf(slice, invocationId),
          epoch: claim.epoch,
          owner: claim.owner,
          layoutVersion: claim.layoutVersion,
          leaseUntil: claim.leaseUntil,
          ...(slice.first <= slice.last ? { batch: { first: slice.first, last: slice.last } } : {}),
        }));
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
          if (now >= waitUntil) return { abandoned: error.message, reason: HandBackReason.ClaimHeld };
          await this.sleep(
            Math.min(25 * 2 ** Math.min(attempt, 5), waitUntil - now, Math.max(1, error.holder.leaseUntil - now)),
          );
          continue;
        }
        this.logger.error('claim failed; partition handed back', { error, topicPartition: slice.topicPartition });
        return { abandoned: describeError(error).message, reason: HandBackReason.ClaimFailed };
      }
    }
  }

  /** Gives a claim back unused (a refused event, a partition with nothing to run); its lease would also expire. */
  private async releaseAcquired(pending: Promise<Acquired | Abandoned>): Promise<void> {
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

  /** Routes records of a claimed slice: skips what the token covers, holds back draining segments and unreadable keys. */
  private route(entry: ClaimedSlice, records: readonly KafkaRecord[]): WorkItem[] {
    const { slice, keeper, cached, counts } = entry;
    const { token } = keeper.claim;
    // Records a reset brings again are done without running for a processor that skips replays.
    const skipReplay = this.processor.replay === ReplayMode.Skip ? keeper.claim.replay : null;
    const items: WorkItem[] = [];
    for (const record of records) {
      // An offset delivered twice in one batch is handled once.
      if (record.offset <= entry.lastOffset) {
        counts.duplicates++;
        continue;
      }
      entry.lastOffset = record.offset;
      let sequencingKey: string;
      try {
        sequencingKey = routingKeyOf(this.processor, record);
      } catch (error) {
        // Parked (done in every cell) when an earlier delivery parked it.
        if (token.coversEverywhere(record.offset)) {
          counts.skipped++;
          continue;
        }
        if (isReplayedEverywhere(skipReplay, record.offset)) {
          counts.replaySkipped++;
          continue;
        }
        counts.keyErrors++;
        this.logger.error(`record cannot be routed; parked under the partition's ${SyntheticKey.Unroutable} key`, {
          error,
          topicPartition: slice.topicPartition,
          offset: record.offset,
        });
        entry.parking.push({
          offset: record.offset,
          hash: undefined,
          key: SyntheticKey.Unroutable,
          synthetic: true,
          reason: ParkReason.Unroutable,
          error: letterError(error),
          attempts: 0,
          record,
        });
        continue;
      }
      const hash = this.processor.hash(sequencingKey);
      if (token.covers(hash, record.offset)) {
        counts.skipped++;
        continue;
      }
      if (isReplayed(skipReplay, hash, record.offset)) {
        counts.replaySkipped++;
        continue;
      }
      // One lookup per record, and none while nothing is parked.
      if (entry.parkedKeys.any && isParkedKey(entry.parkedKeys, sequencingKey)) {
        entry.parking.push({
          offset: record.offset,
          hash,
          key: sequencingKey,
          synthetic: false,
          reason: ParkReason.BehindParked,
          error: { name: 'BehindParked', message: 'an earlier record of its key is parked' },
          attempts: 0,
          record,
        });
        continue;
      }
      const segment = cached.router.segmentFor(hash);
      if (segment.state === SegmentState.Draining) entry.held.push({ record, sequencingKey, hash });
      else items.push(this.workItem(entry, { record, sequencingKey, hash }, segment));
    }
    for (const item of items) entry.items.push(item);
    return items;
  }

  private workItem(entry: ClaimedSlice, held: HeldRecord, segment: WorkItem['segment']): WorkItem {
    return {
      // Order is only defined within one partition.
      scope: entry.slice.topicPartition,
      key: held.sequencingKey,
      offset: held.record.offset,
      record: held.record,
      sequencingKey: held.sequencingKey,
      hash: held.hash,
      segment,
      layoutVersion: entry.cached.layout.version,
      claim: entry.keeper.claim,
      priorAttempts: entry.keeper.claim.failures.get(held.record.offset)?.attempts ?? 0,
      replay: isReplayed(entry.keeper.claim.replay, held.hash, held.record.offset),
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
    let delay = DRAIN_POLL_MIN_MS;
    while ([...waiting].some((entry) => entry.keeper.isLive()) && this.clock() < waitUntil) {
      // No change is applied sooner than layoutTtlMs after it began (the coordinator waits that long and the clock
      // allowance), so reading before then cannot release anything; after it, back off with jitter, so the
      // containers waiting on one drain spread their reads of the layout, a hot key.
      const change = this.layouts.latest()?.layout.change;
      const earliest = change ? change.startedAt + this.settings.layoutTtlMs : 0;
      const pause = Math.max(earliest - this.clock(), delay / 2 + Math.random() * (delay / 2));
      await this.sleep(Math.min(pause, Math.max(1, waitUntil - this.clock())));
      delay = Math.min(delay * 2, DRAIN_POLL_MAX_MS);
      let fresh: CachedLayout;
      try {
        fresh = await this.layouts.refresh();
      } catch (error) {
        // The records already run must still be checkpointed: stop waiting and hand the held ones back.
        this.logger.warn('layout refresh failed while waiting for a split or merge; held records handed back', {
          error,
        });
        break;
      }
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
            const item = this.workItem(entry, held, segment);
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

  /**
   * Writes the new token and releases the claim, parking what failed for good (and the later records of its key)
   * in the same atomic write; a fenced or failed write hands the whole slice back.
   */
  private async checkpoint(
    entry: ClaimedSlice,
    outcomes: Map<WorkItem, RecordOutcome>,
    invocationId: string,
    deadline: number,
  ): Promise<PartitionReport> {
    const { slice, keeper, cached, counts } = entry;
    keeper.stop();
    const claim = keeper.claim;
    const now = this.clock();
    const { unfinished, candidates, failures, tally, coveredMalformed, replaySkippedMalformed, oldestHandledAt } =
      this.sortOutcomes(entry, outcomes, now);
    const plan = planParking({
      claim,
      candidates,
      policy: this.processor.deadLetter,
      processor: this.processor.name,
      now,
    });
    // Deferred records wait for the next delivery like records blocked behind a failure.
    tally.blocked += plan.deferred.length;
    for (const candidate of [...plan.deferred, ...plan.unparkable]) {
      unfinished.push({ offset: candidate.offset, hash: candidate.hash });
      if (candidate.attempts > 0) {
        const { offset, attempts, firstFailureAt = now } = candidate;
        failures.push({ offset, attempts, firstFailureAt });
      }
    }
    this.logParking(slice, plan);
    if (counts.duplicates > 0) {
      this.logger.warn('offsets delivered more than once in one batch were handled once', {
        topicPartition: slice.topicPartition,
        duplicates: counts.duplicates,
      });
    }
    // Counts of records in later batches are kept; the rest were handled, parked, or are counted above.
    for (const count of claim.failures.values()) if (count.offset > slice.last) failures.push(count);
    const base = {
      topicPartition: slice.topicPartition,
      delivered: slice.records.length + slice.malformed.length,
      skipped: counts.skipped + counts.duplicates + coveredMalformed,
      draining: entry.held.length,
      released: counts.released,
      malformed: slice.malformed.length + counts.keyErrors,
      parked: plan.letters.length,
      unparkable: plan.unparkable.length,
      replaySkipped: counts.replaySkipped + replaySkippedMalformed,
      oldestHandledAt,
      ...tally,
    };
    // Only records with offsets move the token; records without one are parked (or reported) on their own.
    const addressed = unfinished.filter((u) => u.offset >= 0);
    const advance =
      slice.first <= slice.last
        ? claim.token.advance({
            segments: cached.layout.segments,
            first: slice.first,
            last: slice.last,
            unfinished: addressed,
            maxRanges: this.settings.maxRanges,
            seenThrough: claim.seenThrough,
          })
        : { token: claim.token, sourceSkipped: [], forgottenRanges: 0, mergedCells: 0 };
    if (advance.forgottenRanges > 0 || advance.mergedCells > 0) {
      this.logger.warn(
        'token over its bound: out-of-order ranges forgotten or cells merged; those records will be handled again',
        {
          topicPartition: slice.topicPartition,
          forgottenRanges: advance.forgottenRanges,
          mergedCells: advance.mergedCells,
        },
      );
    }
    const skips = this.skipsOf(advance, slice, now, invocationId);
    // Read off the records the batch already holds: time lag costs no request.
    const lastRecordAt = newestCovered(slice.records, addressed, claim.lastRecordAt);
    let parked: number;
    try {
      parked = await this.writeCheckpoint(claim, advance.token, slice.topicPartition, deadline, {
        letters: plan.letters,
        park: plan.park,
        unpark: plan.unpark,
        failures: failures.slice(0, MAX_FAILURE_COUNTS),
        seenThrough:
          slice.first <= slice.last ? Math.max(claim.seenThrough ?? slice.last, slice.last) : claim.seenThrough,
        skips,
        lastRecordAt,
      });
    } catch (error) {
      const fencedOut = error instanceof FencedError;
      this.logger.error(`${fencedOut ? 'fenced' : 'checkpoint failed'}; partition handed back`, {
        error,
        topicPartition: slice.topicPartition,
      });
      // Give the claim back so the redelivery need not wait out the lease.
      if (!fencedOut) await this.store.release(claim).catch(() => {});
      const nothing = { parked: 0, unparkable: 0, skippedBySource: 0 };
      const detail = describeError(error).message;
      const reason = fencedOut ? HandBackReason.Fenced : HandBackReason.CheckpointFailed;
      this.handBack(slice, invocationId, reason, () => deliveredOffsets(slice), { detail, epoch: claim.epoch });
      return { ...base, ...nothing, lastRecordAt: null, redeliverFrom: firstOffsetOf(slice), abandoned: detail };
    }
    const redeliverFrom = addressed.length ? Math.min(...addressed.map((u) => u.offset)) : undefined;
    const skippedBySource = skips.reduce((total, skip) => total + skip.to - skip.from + 1, 0);
    // Records parked before (without an offset, delivered again) count as skipped, not as parked twice.
    const again = plan.letters.length - parked;
    const report = { ...base, parked, skipped: base.skipped + again, skippedBySource, lastRecordAt, redeliverFrom };
    this.observeCheckpoint(entry, invocationId, { report, token: advance.token, lettersParked: parked, skips, plan });
    if (redeliverFrom !== undefined) {
      const offsets = () => [...new Set(addressed.map((u) => u.offset))].sort((a, b) => a - b);
      this.handBack(slice, invocationId, HandBackReason.Unfinished, offsets, { epoch: claim.epoch });
    }
    return report;
  }

  /** Tells the observer of a committed checkpoint, then of each key it parked. */
  private observeCheckpoint(
    entry: ClaimedSlice,
    requestId: string,
    written: {
      report: PartitionReport;
      token: PartitionToken;
      lettersParked: number;
      skips: readonly SourceSkip[];
      plan: ParkingPlan;
    },
  ): void {
    if (!this.observer) return;
    const { slice, cached } = entry;
    const claim = entry.keeper.claim;
    const partition = this.partitionOf(slice, requestId);
    const holder = { epoch: claim.epoch, owner: claim.owner };
    this.notify('onCheckpoint', () => ({
      ...partition,
      ...holder,
      layoutVersion: cached.layout.version,
      ...(slice.first <= slice.last ? { delivered: { first: slice.first, last: slice.last } } : {}),
      previousToken: claim.token,
      token: written.token,
      watermark: { before: claim.token.lowWatermark(), after: written.token.lowWatermark() },
      report: written.report,
      lettersParked: written.lettersParked,
      skips: written.skips,
    }));
    const byKey = new Map<string, DeadLetter[]>();
    for (const letter of written.plan.letters) {
      const letters = byKey.get(letter.digest);
      if (letters) letters.push(letter);
      else byKey.set(letter.digest, [letter]);
    }
    for (const [digest, letters] of byKey) {
      const sorted = [...letters].sort((a, b) => a.offset - b.offset);
      this.notify('onPark', () => ({
        ...partition,
        ...holder,
        digest,
        sequencingKey: sorted[0]!.sequencingKey,
        synthetic: sorted[0]!.synthetic,
        offsets: sorted.map((letter) => letter.offset),
        letters: sorted,
      }));
    }
  }

  /** Tells the observer that records of a slice go back to Lambda; `offsets` is only read when it listens. */
  private handBack(
    slice: PartitionSlice,
    requestId: string,
    reason: HandBackReason,
    offsets: () => readonly number[],
    extra: { detail?: string; epoch?: number } = {},
  ): void {
    this.notify('onHandBack', () => {
      const handedBack = offsets();
      return {
        ...this.partitionOf(slice, requestId),
        reason,
        ...(extra.detail === undefined ? {} : { detail: extra.detail }),
        redeliverFrom: reason === HandBackReason.Unfinished ? handedBack[0] : firstOffsetOf(slice),
        offsets: handedBack,
        ...(extra.epoch === undefined ? {} : { epoch: extra.epoch }),
      };
    });
  }

  private partitionOf(slice: PartitionTarget, requestId: string) {
    return {
      processor: this.processor.name,
      topic: slice.topic,
      partition: slice.partition,
      topicPartition: slice.topicPartition,
      requestId,
    };
  }

  private notify<K extends keyof ProcessorObserver>(
    callback: K,
    event: () => Parameters<NonNullable<ProcessorObserver[K]>>[0],
  ): void {
    notifyObserver(this.observer, this.logger, callback, event);
  }

  /**
   * Sorts a slice's records after the run: done, unfinished (reported back), or candidates to park (failed for
   * good, behind a key that parks, unreadable, or found while routing), with the attempt counts to keep.
   */
  private sortOutcomes(entry: ClaimedSlice, outcomes: Map<WorkItem, RecordOutcome>, now: number) {
    const { slice } = entry;
    const claim = entry.keeper.claim;
    const policy = this.processor.deadLetter;
    const unfinished: UnfinishedRecord[] = entry.held.map((h) => ({ offset: h.record.offset, hash: h.hash }));
    const candidates: ParkCandidate[] = [...entry.parking];
    const failures: FailureCount[] = [];
    const tally = { handled: 0, failed: 0, blocked: 0, notStarted: 0 };
    let coveredMalformed = 0;
    let replaySkippedMalformed = 0;
    let oldestHandledAt: number | null = null;
    const skipReplay = this.processor.replay === ReplayMode.Skip ? claim.replay : null;
    // An offset delivered twice (or also as a readable record) is parked once.
    const seen = slice.malformed.length > 0 ? new Set(slice.records.map((r) => r.offset)) : undefined;
    for (const { offset, raw, error } of slice.malformed) {
      // Without an offset it cannot be reported or covered by the token: it is parked under a negative position
      // taken from its content (the same record delivered again gets the same one, and is parked once).
      const position = offset ?? unaddressedPosition(raw);
      if (offset !== undefined && (claim.token.coversEverywhere(offset) || seen!.has(offset))) coveredMalformed++;
      else if (offset === undefined && seen!.has(position)) coveredMalformed++;
      else if (offset !== undefined && isReplayedEverywhere(skipReplay, offset)) replaySkippedMalformed++;
      else {
        candidates.push({
          offset: position,
          hash: undefined,
          key: SyntheticKey.Malformed,
          synthetic: true,
          reason: ParkReason.Malformed,
          error: letterError(error),
          attempts: 0,
          record: { unreadable: raw, topic: slice.topic, partition: slice.partition },
        });
      }
      seen!.add(position);
    }
    const failedForGood = new Set<string>();
    const park = (item: WorkItem, reason: ParkReason, error: LetterError, attempts = 0, firstFailureAt?: number) =>
      candidates.push({
        offset: item.offset,
        hash: item.hash,
        key: item.sequencingKey,
        synthetic: false,
        reason,
        error,
        attempts,
        record: item.record,
        ...(firstFailureAt === undefined ? {} : { firstFailureAt }),
      });
    for (const item of entry.items) {
      const outcome = outcomes.get(item)!;
      if (outcome.status === 'done') {
        tally.handled++;
        const { timestamp } = item.record;
        if (timestamp > 0 && (oldestHandledAt === null || timestamp < oldestHandledAt)) oldestHandledAt = timestamp;
        continue;
      }
      if (outcome.status === 'failed') {
        const attempts = item.priorAttempts + outcome.attempts;
        const firstFailureAt = claim.failures.get(item.offset)?.firstFailureAt ?? now;
        const retriable = isRetriable(outcome.error);
        if (!retriable || attempts >= policy.afterAttempts) {
          failedForGood.add(item.key);
          const reason = retriable ? ParkReason.Failed : ParkReason.NonRetriable;
          park(item, reason, letterError(outcome.error), attempts, firstFailureAt);
          continue;
        }
        failures.push({ offset: item.offset, attempts, firstFailureAt });
        this.logger.error('record failed after retries; its key is blocked', {
          topicPartition: slice.topicPartition,
          offset: item.offset,
          sequencingKey: item.sequencingKey,
          segment: segmentName(item.segment),
          attempts,
          parksAfter: policy.afterAttempts,
          error: letterError(outcome.error),
        });
      }
      if (outcome.status === 'blocked' && failedForGood.has(item.key)) {
        const message = `offset ${outcome.blockedBy} of its key is parked`;
        park(item, ParkReason.BehindParked, { name: 'BehindParked', message });
        continue;
      }
      tally[outcome.status]++;
      unfinished.push({ offset: item.offset, hash: item.hash });
    }
    return { unfinished, candidates, failures, tally, coveredMalformed, replaySkippedMalformed, oldestHandledAt };
  }

  private logParking(slice: PartitionSlice, plan: ParkingPlan): void {
    for (const candidate of plan.unparkable) {
      this.logger.error('record cannot be parked (parked-key bound reached or letter too large); reported back', {
        topicPartition: slice.topicPartition,
        offset: candidate.offset,
        sequencingKey: candidate.key,
        maxParkedKeys: this.processor.deadLetter.maxParkedKeys,
        error: candidate.error,
      });
    }
    for (const letter of plan.letters) {
      this.logger.warn('record parked as a dead letter', {
        topicPartition: slice.topicPartition,
        offset: letter.offset,
        sequencingKey: letter.sequencingKey,
        reason: letter.reason,
        attempts: letter.attempts,
        error: letter.error,
      });
    }
  }

  /** The ranges the event source moved past that were delivered and not done, as skips to record. */
  private skipsOf(advance: TokenAdvance, slice: PartitionSlice, now: number, requestId: string): SourceSkip[] {
    const skips = sourceSkips(advance.sourceSkipped, {
      processor: this.processor.name,
      topic: slice.topic,
      partition: slice.partition,
      at: now,
      requestId,
    });
    if (skips.length > 0) {
      this.logger.error('the event source moved past offsets that were delivered and not done; recorded as skips', {
        topicPartition: slice.topicPartition,
        ranges: skips.map((skip) => [skip.from, skip.to]),
      });
    }
    return skips;
  }

  /**
   * The checkpoint write, tried again while time allows: it is conditional, so a retry after a write that landed
   * (its answer lost) is refused as fenced, and the redelivery finds everything covered.
   */
  private async writeCheckpoint(
    claim: Claim,
    token: PartitionToken,
    topicPartition: string,
    deadline: number,
    changes: CheckpointChanges,
  ): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const written = await this.store.checkpoint(claim, token, {
          release: true,
          leaseMs: this.settings.leaseMs,
          changes,
        });
        return written.lettersParked;
      } catch (error) {
        const delay = 50 * 2 ** attempt;
        if (error instanceof FencedError || attempt >= 3 || this.clock() + delay >= deadline) throw error;
        this.logger.warn('checkpoint failed; trying again', { error, topicPartition, attempt });
        await this.sleep(delay);
      }
    }
  }
}

/** Layout reads while waiting for a drain: from every half second, doubling to every two. */
const DRAIN_POLL_MIN_MS = 500;
const DRAIN_POLL_MAX_MS = 2_000;

/** The first offset of a slice, to report it back; undefined when none of its records has a readable offset. */
function firstOffsetOf(slice: PartitionSlice): number | undefined {
  return slice.first <= slice.last ? slice.first : undefined;
}

/** Every readable offset of a slice's raw records, ascending, each once (read from the raw records, parsed or not). */
function deliveredOffsets(slice: PartitionSlice): number[] {
  const offsets = new Set<number>();
  for (const raw of slice.raw) {
    const offset = readableOffset(raw);
    if (offset !== undefined) offsets.add(offset);
  }
  return [...offsets].sort((a, b) => a - b);
}

/**
 * Where a record without a readable offset is parked: a negative number (no real offset is negative) from a hash of
 * its entry, so the same record delivered again is parked once.
 */
function unaddressedPosition(raw: unknown): number {
  return -(1 + createHash('sha256').update(entryText(raw)).digest().readUIntBE(0, 6));
}

/** Attempt counts kept per partition item; past this the highest offsets start counting again (never lost). */
const MAX_FAILURE_COUNTS = 500;

/** The keys a claim must park behind: real keys whose letters are not all redriven (long ones by digest). */
interface ParkedKeys {
  readonly any: boolean;
  readonly keys: ReadonlySet<string>;
  readonly digests: ReadonlySet<string>;
}

function parkedKeysOf(claim: Claim): ParkedKeys {
  const keys = new Set<string>();
  const digests = new Set<string>();
  for (const entry of claim.parked.values()) {
    if (entry.synthetic || !isParked(entry)) continue;
    if (entry.truncated) digests.add(entry.digest);
    else keys.add(entry.key);
  }
  return { any: keys.size + digests.size > 0, keys, digests };
}

/** Whether a key is parked: one lookup, and a digest only for a key long enough to have been kept by digest. */
function isParkedKey(parked: ParkedKeys, key: string): boolean {
  if (parked.keys.has(key)) return true;
  return parked.digests.size > 0 && key.length * 3 > PARKED_KEY_BYTES && parked.digests.has(keyDigest(key));
}

/** One skip per range the source moved past in any cell (cells' ranges merged). */
function sourceSkips(
  perCell: ReadonlyArray<{ ranges: readonly (readonly [number, number])[] }>,
  fields: Omit<SourceSkip, 'from' | 'to'>,
): SourceSkip[] {
  return mergeRanges(perCell.flatMap((cell) => cell.ranges)).map(([from, to]) => ({ ...fields, from, to }));
}

/**
 * The partition an entry key names (`<topic>-<partition>`), read without parsing a record; undefined for a key
 * that names none (its records cannot be read and are reported).
 */
function partitionTarget(topicPartition: string): PartitionTarget | undefined {
  const target = parseTopicPartition(topicPartition);
  return target && { topicPartition, ...target };
}

/**
 * A slice for an entry of the event, before its records are parsed. When no record of the entry has a readable
 * offset, `first > last`: nothing of it can be reported back, so its records are parked (or logged) and the other
 * partitions of the event go on.
 */
function sliceOf(topicPartition: string, raw: readonly unknown[]): PartitionSlice {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let previous = Number.NEGATIVE_INFINITY;
  let ascending = true;
  for (const record of raw) {
    const offset = readableOffset(record);
    if (offset === undefined) continue;
    if (offset < previous) ascending = false;
    previous = offset;
    first = Math.min(first, offset);
    last = Math.max(last, offset);
  }
  const target = partitionTarget(topicPartition);
  return {
    topicPartition,
    // An entry key that names no partition is never claimed, so these are never written: the key itself and -1.
    topic: target?.topic ?? topicPartition,
    partition: target?.partition ?? -1,
    named: target !== undefined,
    raw,
    ascending,
    records: [],
    malformed: [],
    parsed: false,
    routed: 0,
    pending: undefined,
    claimed: undefined,
    first,
    last,
  };
}

function newCounts(): ClaimedSlice['counts'] {
  return { skipped: 0, keyErrors: 0, released: 0, duplicates: 0, replaySkipped: 0 };
}

/**
 * The newest Kafka timestamp of the records a checkpoint moves the token past (all but the unfinished ones), or the
 * claim's `lastRecordAt` when that is newer: it only moves forward, also when a redelivery brings older records.
 */
function newestCovered(
  records: readonly KafkaRecord[],
  unfinished: readonly UnfinishedRecord[],
  previous: number | null,
): number | null {
  const open = unfinished.length > 0 ? new Set(unfinished.map((u) => u.offset)) : undefined;
  let newest = previous;
  for (const { offset, timestamp } of records) {
    if (timestamp > 0 && (newest === null || timestamp > newest) && !open?.has(offset)) newest = timestamp;
  }
  return newest;
}

function abandon(slice: PartitionSlice, reason: string): PartitionReport {
  return {
    topicPartition: slice.topicPartition,
    delivered: slice.records.length + slice.malformed.length,
    handled: 0,
    skipped: 0,
    failed: 0,
    blocked: 0,
    notStarted: slice.records.length,
    draining: 0,
    released: 0,
    malformed: slice.malformed.length,
    parked: 0,
    unparkable: 0,
    skippedBySource: 0,
    replaySkipped: 0,
    lastRecordAt: null,
    oldestHandledAt: null,
    redeliverFrom: firstOffsetOf(slice),
    abandoned: reason,
  };
}
