import { isParked } from '../dead-letters/dead-letter.js';
import type { KafkaAdmin, PartitionWatermarks } from '../kafka/kafka-admin.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import { segmentName } from '../routing/segment.js';
import { assertProcessorName } from '../settings.js';
import { PartitionToken } from '../tokens/token.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';
import { ResetConflictError, ResetRequestError } from './reset-errors.js';
import { readPartitionItems, type PartitionItem, type TokenTable } from './reset-items.js';
import { parsePartitionScope, parseSegmentScope } from './reset-scope.js';
import { formatResetTarget, parseResetSpec, type ResetTarget } from './reset-spec.js';
import { resetToken, type CellTarget } from './reset-token.js';

/** What a reset is asked to do. */
export interface ResetRequest {
  readonly processor: string;
  /** `earliest | latest | <ISO date-time> | offset:<n> | shift:<±n>` (see {@link parseResetSpec}). */
  readonly to: string;
  /** `orders-0,orders-3`, or `0,3` with one topic. @default every partition of the processor's topics */
  readonly partitions?: string | readonly string[] | null;
  /** Live segments as the layout names them, e.g. `0/1,3/3`. @default every segment */
  readonly segments?: string | readonly string[] | null;
  /** Whether the scoped partitions' parked letters are deleted (audited). @default false: they stay parked */
  readonly clearParked?: boolean;
  /** The reset's id: partitions it already wrote are planned as done. */
  readonly resetId?: string;
}

/** What a reset reads to plan: the token table, the layout, the cluster's offsets and the processor's topics. */
export interface ResetPlanSources {
  readonly table: TokenTable;
  readonly layouts: Pick<TokenStore, 'readLayout'>;
  readonly kafka: Pick<KafkaAdmin, 'watermarks' | 'offsetsAt'>;
  /** The topics the processor reads (its event sources'). */
  readonly topics: readonly string[];
  readonly clock?: Clock;
}

/** One partition of a plan: where its token is and where the reset puts it. */
export interface PartitionResetPlan {
  readonly topic: string;
  readonly partition: number;
  /** `"<topic>-<partition>"`. */
  readonly id: string;
  /** The earliest offset Kafka keeps and the partition's end, when planned: targets are clamped to them. */
  readonly low: number;
  readonly high: number;
  /** The partition item's epoch when planned (null: never claimed). The write is conditional on it. */
  readonly epoch: number | null;
  /** The absolute offset the scoped cells move to; null for a shift (each cell moves from its own position). */
  readonly target: number | null;
  /** The lowest position of the scoped cells now (null: never processed) and after the reset. */
  readonly from: number | null;
  readonly to: number | null;
  /** Offsets read again (the most over the scoped cells; compaction and transaction markers make fewer records). */
  readonly replay: number;
  /** Offsets passed over unhandled (the most over the scoped cells), for a reset forward. */
  readonly skip: number;
  /** Per scoped segment, when the reset is scoped by segments. */
  readonly segments: ReadonlyArray<{
    readonly segment: string;
    readonly from: number | null;
    readonly to: number | null;
    readonly replay: number;
    readonly skip: number;
  }> | null;
  /** Where the event source reads this partition from after the reset: the new token's lowest position. */
  readonly groupOffset: number | null;
  /** Parked keys with letters pending, and whether the reset deletes their letters. */
  readonly parkedKeys: number;
  readonly clearsParked: boolean;
  /** Already written by this reset (same id): skipped. */
  readonly done: boolean;
  /** Whether the reset writes this partition. */
  readonly pending: boolean;
}

/** A reset, planned: per partition from → to, and what is read again or passed over. */
export interface ResetPlan {
  readonly processor: string;
  readonly resetId: string | null;
  /** The spec in canonical form (a date-time as UTC ISO). */
  readonly spec: string;
  readonly target: ResetTarget;
  /** The layout the plan was made on; the writes are conditional on it and on no change being under way. */
  readonly layoutVersion: number;
  readonly scope: { readonly partitions: readonly string[] | null; readonly segments: readonly string[] | null };
  /** Stated in every plan, so no reset deletes letters silently. */
  readonly clearParked: boolean;
  readonly topics: readonly string[];
  readonly partitions: readonly PartitionResetPlan[];
  readonly totals: {
    readonly partitions: number;
    readonly pending: number;
    readonly done: number;
    readonly replay: number;
    readonly skip: number;
    readonly parkedKeys: number;
  };
  readonly plannedAt: number;
}

/**
 * Plans a reset: checks the request (spec, scope, processor), reads the layout, every scoped partition's token
 * (the truth about what was handled, whatever the group's committed offset says) and the cluster's watermarks, and
 * works out per partition where its scoped cells go (clamped to what Kafka keeps), how many offsets that reads again
 * or passes over, and where the event source must read from. Changes nothing.
 */
export async function planReset(request: ResetRequest, sources: ResetPlanSources): Promise<ResetPlan> {
  assertProcessorName(request.processor);
  const target = parseResetSpec(request.to);
  const clearParked = request.clearParked === true;
  if (clearParked && request.segments !== undefined && request.segments !== null && request.segments.length > 0) {
    throw new ResetRequestError(
      'clearParked',
      'clearing parked letters applies to whole partitions, not segments: scope the reset by --partitions, or leave the letters parked (they are redriven as usual)',
    );
  }
  const layout = await sources.layouts.readLayout(request.processor);
  if (layout.change) {
    throw new ResetConflictError(
      `a ${layout.change.operation} of segment ${layout.change.segment} of "${request.processor}" is under way (${layout.change.id}): reset once it has ended`,
      { retriable: true, context: { processor: request.processor, change: layout.change.id } },
    );
  }
  if (sources.topics.length === 0) {
    throw new ResetRequestError('topics', `no topics to reset for "${request.processor}": its event sources name none`);
  }
  const watermarks = new Map<string, PartitionWatermarks[]>();
  for (const topic of [...new Set(sources.topics)].sort()) watermarks.set(topic, await sources.kafka.watermarks(topic));
  const partitionScope = parsePartitionScope(
    request.partitions,
    new Map([...watermarks].map(([topic, list]) => [topic, list.map((w) => w.partition)])),
  );
  const segments = parseSegmentScope(request.segments, layout);
  const offsetsAt = new Map<string, number>();
  if (target.kind === 'datetime') {
    for (const topic of watermarks.keys()) {
      for (const { partition, offset } of await sources.kafka.offsetsAt(topic, target.timestampMs)) {
        offsetsAt.set(topicPartitionId(topic, partition), offset);
      }
    }
  }
  const scoped = [...watermarks].flatMap(([topic, list]) =>
    list
      .filter(
        (w) => partitionScope === null || partitionScope.some((p) => p.topic === topic && p.partition === w.partition),
      )
      .map((w) => ({ topic, ...w })),
  );
  const items = await readPartitionItems(sources.table, request.processor, scoped);
  const partitions = scoped.map((w) =>
    planPartition(w, items.get(topicPartitionId(w.topic, w.partition)), {
      target,
      offsetAt: offsetsAt.get(topicPartitionId(w.topic, w.partition)),
      segments,
      clearParked,
      resetId: request.resetId,
    }),
  );
  return {
    processor: request.processor,
    resetId: request.resetId ?? null,
    spec: formatResetTarget(target),
    target,
    layoutVersion: layout.version,
    scope: {
      partitions: partitionScope === null ? null : partitionScope.map((p) => topicPartitionId(p.topic, p.partition)),
      segments: segments === null ? null : segments.map(segmentName),
    },
    clearParked,
    topics: [...watermarks.keys()],
    partitions,
    totals: {
      partitions: partitions.length,
      pending: partitions.filter((p) => p.pending).length,
      done: partitions.filter((p) => p.done).length,
      replay: sum(partitions.filter((p) => p.pending).map((p) => p.replay)),
      skip: sum(partitions.filter((p) => p.pending).map((p) => p.skip)),
      parkedKeys: sum(partitions.map((p) => p.parkedKeys)),
    },
    plannedAt: (sources.clock ?? Date.now)(),
  };
}

/**
 * Where one cell goes for a partition's plan: the absolute target clamped to `[low, high]`, or for a shift the cell's
 * own position moved and clamped (a cell never processed stays as it is: it has nothing to shift from).
 */
export function cellTargetOf(
  plan: Pick<PartitionResetPlan, 'target' | 'low' | 'high'>,
  target: ResetTarget,
): CellTarget {
  const clamp = (offset: number) => Math.min(Math.max(offset, plan.low), plan.high);
  if (target.kind === 'shift') return (position) => (position.next === null ? null : clamp(position.next + target.by));
  const offset = plan.target!;
  return () => offset;
}

function planPartition(
  w: PartitionWatermarks & { topic: string },
  item: PartitionItem | undefined,
  options: {
    target: ResetTarget;
    offsetAt: number | undefined;
    segments: Parameters<typeof resetToken>[1];
    clearParked: boolean;
    resetId: string | undefined;
  },
): PartitionResetPlan {
  const clamp = (offset: number) => Math.min(Math.max(offset, w.low), w.high);
  const { target } = options;
  const absolute =
    target.kind === 'earliest'
      ? w.low
      : target.kind === 'latest'
        ? w.high
        : target.kind === 'offset'
          ? clamp(target.offset)
          : target.kind === 'datetime'
            ? clamp(options.offsetAt ?? w.high)
            : null;
  const bounds = { target: absolute, low: w.low, high: w.high };
  const cellTarget = cellTargetOf(bounds, target);
  const token = item?.token ?? PartitionToken.initial();
  const reset = resetToken(token, options.segments, cellTarget);
  const done = options.resetId !== undefined && item?.lastResetId === options.resetId;
  const parkedKeys = item ? item.parked.filter(isParked).length : 0;
  const clearsParked = options.clearParked && parkedKeys > 0;
  const after = done ? token : reset.token;
  const low = after.lowWatermark();
  const pending = !done && (reset.changed || clearsParked);
  return {
    topic: w.topic,
    partition: w.partition,
    id: topicPartitionId(w.topic, w.partition),
    low: w.low,
    high: w.high,
    epoch: item ? item.epoch : null,
    target: absolute,
    from: reset.from,
    to: reset.to,
    replay: reset.replay,
    skip: reset.skip,
    segments:
      options.segments === null
        ? null
        : options.segments.map((segment) => {
            const one = resetToken(token, [segment], cellTarget);
            return { segment: segmentName(segment), from: one.from, to: one.to, replay: one.replay, skip: one.skip };
          }),
    groupOffset: low === null ? null : clamp(low),
    parkedKeys,
    clearsParked,
    done,
    pending,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
