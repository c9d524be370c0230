import { LayoutError } from '../errors.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import type { Layout } from '../routing/layout.js';
import { parseSegmentName, sameSegment, segmentName, type Segment } from '../routing/segment.js';
import { ResetRequestError } from './reset-errors.js';

/** What a reset covers: some partitions (all when null) and, within them, some segments (all when null). */
export interface ResetScope {
  readonly partitions: ReadonlyArray<{ readonly topic: string; readonly partition: number }> | null;
  readonly segments: readonly Segment[] | null;
}

/** A comma-separated list, or the items already split; null (or empty) when nothing is given. */
export function listOf(value: string | readonly string[] | null | undefined): string[] | null {
  const items = (typeof value === 'string' ? value.split(',') : [...(value ?? [])])
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length === 0 ? null : items;
}

/**
 * The partitions named as `orders-0,orders-3`, or as `0,3` when the processor has one topic, checked against the
 * partitions Kafka has (`partitionsByTopic`). A {@link ResetRequestError} names what does not exist and what does.
 */
export function parsePartitionScope(
  value: string | readonly string[] | null | undefined,
  partitionsByTopic: ReadonlyMap<string, readonly number[]>,
): ResetScope['partitions'] {
  const items = listOf(value);
  if (items === null) return null;
  const topics = [...partitionsByTopic.keys()];
  const seen = new Set<string>();
  const out: Array<{ topic: string; partition: number }> = [];
  for (const item of items) {
    let topic: string;
    let partition: number;
    if (/^\d+$/.test(item)) {
      if (topics.length !== 1) {
        throw new ResetRequestError(
          'partitions',
          `partition "${item}" names no topic, and the processor reads ${topics.length} topics (${topics.join(', ')}): write <topic>-<partition>, e.g. ${topics[0] ?? 'orders'}-${item}`,
          { partition: item },
        );
      }
      topic = topics[0]!;
      partition = Number(item);
    } else {
      const match = /^(.+)-(\d+)$/.exec(item);
      if (!match) {
        throw new ResetRequestError(
          'partitions',
          `partition ${JSON.stringify(item)} is not <topic>-<partition> (e.g. orders-3) or a partition number`,
          { partition: item },
        );
      }
      topic = match[1]!;
      partition = Number(match[2]);
    }
    const existing = partitionsByTopic.get(topic);
    if (!existing) {
      throw new ResetRequestError(
        'partitions',
        `partition ${JSON.stringify(item)}: topic "${topic}" is not one of the processor's topics (${topics.join(', ')})`,
        { partition: item },
      );
    }
    if (!existing.includes(partition)) {
      throw new ResetRequestError(
        'partitions',
        `partition ${topicPartitionId(topic, partition)} does not exist: "${topic}" has partitions ${describeNumbers(existing)}`,
        { partition: item },
      );
    }
    const id = topicPartitionId(topic, partition);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ topic, partition });
  }
  return out;
}

/**
 * The segments named as in the layout (`0/1,3/3`), each a live segment of `layout`; an unknown one is a
 * {@link ResetRequestError} naming the live segments.
 */
export function parseSegmentScope(
  value: string | readonly string[] | null | undefined,
  layout: Layout,
): ResetScope['segments'] {
  const items = listOf(value);
  if (items === null) return null;
  const live = layout.segments.map((s) => segmentName(s)).join(', ');
  const out: Segment[] = [];
  for (const item of items) {
    let segment: Segment;
    try {
      segment = parseSegmentName(item);
    } catch (error) {
      if (!(error instanceof LayoutError)) throw error;
      throw new ResetRequestError(
        'segments',
        `segment ${JSON.stringify(item)} is not "<id>/<mask>"; the live segments of "${layout.processor}" are ${live}`,
        { segment: item },
      );
    }
    if (!layout.segments.some((s) => sameSegment(s, segment))) {
      throw new ResetRequestError(
        'segments',
        `segment ${item} is not a live segment of "${layout.processor}" (layout v${layout.version}); the live segments are ${live}`,
        { segment: item },
      );
    }
    if (!out.some((s) => sameSegment(s, segment))) out.push(segment);
  }
  return out;
}

/** `0-11` or `0, 2, 5`: partition numbers as a person reads them. */
function describeNumbers(numbers: readonly number[]): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const contiguous = sorted.every((n, i) => n === sorted[0]! + i);
  if (sorted.length > 2 && contiguous) return `${sorted[0]}-${sorted[sorted.length - 1]}`;
  return sorted.join(', ') || 'none';
}
