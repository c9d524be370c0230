import { describeError } from '../observability/logger.js';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store.js';
import { isParked } from '../dead-letters/dead-letter.js';
import type { KafkaAdmin, PartitionWatermarks } from '../kafka/kafka-admin.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import type { EventSourceControl, EventSourceMappingState } from '../operations/event-source-control.js';
import { treeOrder } from '../routing/layout.js';
import { segmentName, type Segment } from '../routing/segment.js';
import type { PartitionToken } from '../tokens/token.js';
import type { PartitionState, TokenStore } from '../tokens/token-store.js';
import { DEFAULT_STALL_WINDOW_MS, isStalled, partitionLag } from './lag.js';
import type { LagSample, PartitionStatus, ProcessorStatus, SegmentStatus } from './status-view.js';

/** Where a status view is read from: DynamoDB for everything, Kafka (optional) for the partitions' ends. */
export interface StatusSources {
  readonly tokens: Pick<TokenStore, 'readState'>;
  readonly deadLetters: Pick<DeadLetterStore, 'listSkips' | 'readLetters'>;
  readonly lagHistory: { since(processor: string, from: number): Promise<LagSample[]> };
  /** The cluster, for high-water marks; without it lag in records is unavailable. */
  readonly kafka?: Pick<KafkaAdmin, 'watermarks'>;
  readonly eventSources?: EventSourceControl;
  /** The processor's topics: partitions never processed yet still show, with the backlog Kafka keeps. */
  readonly topics: readonly string[];
  readonly clock?: () => number;
}

/** Fields the dispatch path adds to a partition's state: the newest record checkpointed and a replay under way. */
type PartitionExtras = {
  readonly lastRecordAt?: number | null;
  readonly replay?: { readonly resetId: string; readonly token: PartitionToken } | null;
};

/** What the status view reads of Kafka: the ends of every partition, or why they are missing. */
export interface KafkaEnds {
  readonly watermarks: ReadonlyMap<string, PartitionWatermarks>;
  readonly unavailable: string | null;
}

/** The last handler errors shown: the newest parked keys' first letters. */
const LAST_ERRORS = 10;
const HOUR_MS = 3_600_000;

/** Reads the ends of every partition of the topics; a cluster that does not answer makes lag unavailable, not an error. */
export async function readKafkaEnds(
  kafka: Pick<KafkaAdmin, 'watermarks'> | undefined,
  topics: readonly string[],
): Promise<KafkaEnds> {
  if (!kafka) return { watermarks: new Map(), unavailable: 'no Kafka access is configured for the admin side' };
  const watermarks = new Map<string, PartitionWatermarks>();
  try {
    for (const topic of topics) {
      for (const w of await kafka.watermarks(topic)) watermarks.set(topicPartitionId(topic, w.partition), w);
    }
    return { watermarks, unavailable: null };
  } catch (error) {
    const { name, message } = describeError(error);
    return { watermarks: new Map(), unavailable: `the cluster did not answer (${name}: ${message})` };
  }
}

/**
 * A processor's status: layout, claims, positions, lag in records and seconds, stalled partitions, parked keys,
 * skips, last errors, the last hour of lag samples and warnings. DynamoDB reads are key lookups and queries; Kafka
 * is asked only for high-water marks.
 */
export async function readProcessorStatus(
  sources: StatusSources,
  processor: string,
  options: { stallWindowMs?: number; ends?: KafkaEnds } = {},
): Promise<ProcessorStatus> {
  const now = (sources.clock ?? Date.now)();
  const stallWindowMs = options.stallWindowMs ?? DEFAULT_STALL_WINDOW_MS;
  const [state, skips, history, ends, mappings] = await Promise.all([
    sources.tokens.readState(processor),
    sources.deadLetters.listSkips(processor),
    sources.lagHistory.since(processor, now - HOUR_MS),
    options.ends ?? readKafkaEnds(sources.kafka, sources.topics),
    readMappings(sources.eventSources),
  ]);
  const { layout } = state;
  const known = new Map(state.partitions.map((p) => [topicPartitionId(p.topic, p.partition), p]));
  const ids = new Set([...known.keys(), ...ends.watermarks.keys()]);
  const partitions: PartitionStatus[] = [...ids]
    .map((id) => partitionStatus(id, known.get(id), ends, history, layout.segments, now, stallWindowMs))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);

  let start = 0;
  const segments: SegmentStatus[] = treeOrder(layout.segments).map((segment) => {
    const fraction = 1 / (segment.mask + 1);
    const view: SegmentStatus = {
      name: segmentName(segment),
      id: segment.id,
      mask: segment.mask,
      fraction,
      state: segment.state,
      start,
      recordLag: segmentLag(segment, known, ends),
    };
    start += fraction;
    return view;
  });

  const parkedKeys = state.partitions
    .flatMap((p) =>
      p.parked.filter(isParked).map((entry) => ({
        topic: p.topic,
        partition: p.partition,
        key: entry.key,
        digest: entry.digest,
        parked: entry.parked,
        resolved: entry.resolved,
        since: entry.since,
        nextAttemptAt: entry.nextAttemptAt,
      })),
    )
    .sort((a, b) => b.since - a.since);
  const lastErrors = (
    await Promise.all(
      parkedKeys.slice(0, LAST_ERRORS).map(async (key) => {
        const [letter] = await sources.deadLetters.readLetters({ processor, ...key }, { limit: 1 });
        return letter
          ? {
              topic: key.topic,
              partition: key.partition,
              offset: letter.offset,
              key: key.key,
              at: letter.lastFailureAt,
              error: { name: letter.error.name, message: letter.error.message },
            }
          : undefined;
      }),
    )
  ).filter((e) => e !== undefined);

  const paused = mappings.length > 0 && mappings.every((m) => m.state === 'Disabled' || m.state === 'Disabling');
  const warnings: Array<ProcessorStatus['warnings'][number]> = [];
  for (const p of partitions) {
    if (p.stalled) {
      warnings.push({
        kind: 'stalled',
        message: `${p.id} is stalled: position ${String(p.position)} has not moved for ${Math.round(stallWindowMs / 1000)} s with ${String(p.recordLag)} records of lag`,
        topic: p.topic,
        partition: p.partition,
      });
    }
    if (p.owner && p.leaseUntil > 0 && p.leaseUntil < now) {
      warnings.push({
        kind: 'expiredLease',
        message: `${p.id}: the lease of ${p.owner} (epoch ${p.epoch}) ran out ${Math.round((now - p.leaseUntil) / 1000)} s ago without a release; the invocation likely died, and the next batch takes over`,
        topic: p.topic,
        partition: p.partition,
      });
    }
  }
  const cover = layout.segments.reduce((sum, s) => sum + 1 / (s.mask + 1), 0);
  if (Math.abs(cover - 1) > 1e-9) {
    warnings.push({ kind: 'coverage', message: `the segments cover ${(cover * 100).toFixed(2)}% of the hash space` });
  }
  if (layout.change) {
    warnings.push({
      kind: 'pendingChange',
      message: `${layout.change.operation} ${layout.change.segment} under way since ${new Date(layout.change.startedAt).toISOString()} (${layout.change.id})`,
    });
  }
  if (paused)
    warnings.push({ kind: 'paused', message: 'the event source mappings are disabled: nothing is delivered' });
  if (ends.unavailable)
    warnings.push({ kind: 'lagUnavailable', message: `lag in records is unavailable: ${ends.unavailable}` });

  const lags = partitions.map((p) => p.recordLag);
  const timeLags = partitions.map((p) => p.timeLagSeconds).filter((t) => t !== null);
  return {
    processor,
    at: now,
    layout: {
      version: layout.version,
      segments,
      change: layout.change
        ? {
            id: layout.change.id,
            operation: layout.change.operation,
            segment: layout.change.segment,
            startedAt: layout.change.startedAt,
          }
        : null,
    },
    eventSource: {
      paused,
      mappings: mappings.map(({ topic, id, state, lastModified }) => ({ topic, id, state, lastModified })),
    },
    partitions,
    parkedKeys,
    skips: skips.map(({ topic, partition, from, to, at }) => ({ topic, partition, from, to, at })),
    lastErrors,
    lagHistory: history,
    warnings,
    totals: {
      recordLag: ends.unavailable ? null : lags.reduce<number>((sum, lag) => sum + (lag ?? 0), 0),
      maxTimeLagSeconds: timeLags.length ? Math.max(...timeLags) : null,
      stalledPartitions: partitions.filter((p) => p.stalled).length,
      parkedKeys: parkedKeys.length,
    },
    lagUnavailable: ends.unavailable,
  };
}

function partitionStatus(
  id: string,
  state: (PartitionState & PartitionExtras) | undefined,
  ends: KafkaEnds,
  history: readonly LagSample[],
  segments: readonly Segment[],
  now: number,
  stallWindowMs: number,
): PartitionStatus {
  const w = ends.watermarks.get(id);
  const [topic, partition] = state
    ? [state.topic, state.partition]
    : [id.slice(0, id.lastIndexOf('-')), Number(id.slice(id.lastIndexOf('-') + 1))];
  const position = state ? state.token.lowWatermark() : null;
  const lastRecordAt = state?.lastRecordAt ?? null;
  const lag = partitionLag({ position, low: w?.low ?? null, high: w?.high ?? null, lastRecordAt, now });
  const replay = state?.replay ?? null;
  return {
    topic,
    partition,
    id,
    owner: state?.owner ?? null,
    epoch: state?.epoch ?? 0,
    leaseUntil: state?.leaseUntil ?? 0,
    leaseLive: state !== undefined && state.leaseUntil > now,
    layoutVersion: state?.layoutVersion ?? 0,
    updatedAt: state?.updatedAt ?? 0,
    position,
    segments: treeOrder(segments).map((segment) => {
      const cells = state ? state.token.cellsOverlapping(segment) : [];
      return {
        segment: segmentName(segment),
        next: state ? state.token.lowWatermark(segment) : null,
        outOfOrderRanges: cells.reduce((sum, c) => sum + c.position.done.length, 0),
      };
    }),
    highWater: w?.high ?? null,
    recordLag: lag.recordLag,
    timeLagSeconds: lag.timeLagSeconds,
    lastRecordAt,
    stalled: isStalled(history, id, { position, recordLag: lag.recordLag }, now, stallWindowMs),
    replay: replay ? { resetId: replay.resetId, until: highestNext(replay.token) } : null,
    parkedKeys: state ? state.parked.filter(isParked).length : 0,
  };
}

/** The highest next offset of any cell: below it the replay still runs somewhere. */
function highestNext(token: PartitionToken): number | null {
  let high: number | null = null;
  for (const { position } of token.cells)
    if (position.next !== null && (high === null || position.next > high)) high = position.next;
  return high;
}

/**
 * An estimate of a segment's record lag: per partition, the records after the segment's position times its share of
 * the hash space (Kafka cannot count one segment's records without reading them; keys hash evenly).
 */
function segmentLag(segment: Segment, known: ReadonlyMap<string, PartitionState>, ends: KafkaEnds): number | null {
  if (ends.unavailable) return null;
  let lag = 0;
  for (const [id, w] of ends.watermarks) {
    const next = known.get(id)?.token.lowWatermark(segment) ?? null;
    lag += Math.max(0, w.high - Math.max(next ?? w.low, w.low));
  }
  return Math.round(lag / (segment.mask + 1));
}

async function readMappings(control: EventSourceControl | undefined): Promise<EventSourceMappingState[]> {
  if (!control) return [];
  try {
    return await control.describe();
  } catch {
    // The view still shows what DynamoDB holds; the mappings' state is then unknown.
    return [];
  }
}
