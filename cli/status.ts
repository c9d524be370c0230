import { isParked, type SourceSkip } from '../shared/dead-letters/dead-letter.js';
import { topicPartitionId } from '../shared/kafka/kafka-record.js';
import { segmentName } from '../shared/routing/segment.js';
import type { ProcessorState } from '../shared/tokens/token-store.js';
import { ago as agoAt, count, iso, shownKey } from './format.js';

/** Parked keys listed per partition before the rest are only counted. */
const KEYS_LISTED = 10;

/**
 * A processor's status as text: layout, pending change, each partition's claim, its parked keys, the ranges the
 * event source skipped (when `skips` are given) and per segment the position in every partition.
 */
export function formatStatus(
  state: ProcessorState,
  now = Date.now(),
  deadLetters: { skips?: readonly SourceSkip[] } = {},
): string {
  const { layout, partitions } = state;
  const lines = [`Processor ${layout.processor}: layout v${layout.version}, ${layout.segments.length} segment(s)`];
  if (layout.change) {
    const c = layout.change;
    lines.push(
      `Change under way: ${c.operation} ${c.segment} (${c.from.join(', ')} -> ${c.to.join(', ')}), id ${c.id}, started ${ago(now - c.startedAt)} ago, rolls back in ${Math.max(0, Math.round((c.deadline - now) / 1000))}s`,
    );
  }
  lines.push('', 'Partitions:');
  if (partitions.length === 0) lines.push('  (none seen yet)');
  for (const p of partitions) {
    const live = p.leaseUntil > now;
    const holder = live
      ? `claimed by ${p.owner} (epoch ${p.epoch}), lease ends in ${Math.round((p.leaseUntil - now) / 1000)}s`
      : `free (last epoch ${p.epoch})`;
    lines.push(`  ${topicPartitionId(p.topic, p.partition)}: ${holder}, routed with layout v${p.layoutVersion}`);
  }
  lines.push(...parkedLines(state, now));
  if (deadLetters.skips) lines.push(...skipLines(deadLetters.skips, now));
  lines.push('', 'Segments (next offset per partition; +n = offsets done out of order):');
  for (const segment of layout.segments) {
    const positions = partitions.map((p) => {
      const ahead = p.token
        .cellsOverlapping(segment)
        .reduce((n, c) => n + c.position.done.reduce((m, [a, b]) => m + b - a + 1, 0), 0);
      return `${topicPartitionId(p.topic, p.partition)}=${p.token.lowWatermark(segment) ?? '-'}${ahead ? ` +${ahead}` : ''}`;
    });
    lines.push(`  ${segmentName(segment).padEnd(9)} ${segment.state.padEnd(8)} ${positions.join('  ') || '-'}`);
  }
  return lines.join('\n');
}

function ago(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms / 60_000)}m`;
}

/** Parked keys per partition: count and letters pending, the first keys by name. */
function parkedLines(state: ProcessorState, now: number): string[] {
  const lines = ['', 'Parked keys (their records wait as dead letters; tidemark dead-letters list shows them):'];
  let any = false;
  for (const p of state.partitions) {
    const parked = p.parked.filter(isParked).sort((a, b) => a.since - b.since || a.key.localeCompare(b.key));
    if (parked.length === 0) continue;
    any = true;
    const letters = parked.reduce((n, entry) => n + entry.parked - entry.resolved, 0);
    const oldest = parked[0]!.since;
    lines.push(
      `  ${topicPartitionId(p.topic, p.partition)}: ${count(parked.length, 'parked key')}, ${count(letters, 'letter')} pending, oldest parked ${agoAt(oldest, now)}`,
    );
    const listed = parked
      .slice(0, KEYS_LISTED)
      .map((entry) => `${shownKey(entry.key, entry.synthetic)} (${entry.parked - entry.resolved})`);
    const more = parked.length - KEYS_LISTED;
    lines.push(`    ${listed.join(', ')}${more > 0 ? ` …and ${more} more` : ''}`);
  }
  if (!any) lines.push('  (none)');
  return lines;
}

/** Ranges the event source moved past although they were delivered and not done. */
function skipLines(skips: readonly SourceSkip[], now: number): string[] {
  const lines = [
    '',
    'Skipped by the event source (Lambda gave up on these offsets; they are in the on-failure destination):',
  ];
  if (skips.length === 0) lines.push('  (none)');
  for (const skip of skips) {
    lines.push(
      `  ${topicPartitionId(skip.topic, skip.partition)}: offsets ${skip.from}–${skip.to} (${count(skip.to - skip.from + 1, 'offset')}), ${iso(skip.at)} (${agoAt(skip.at, now)}), request ${skip.requestId}`,
    );
  }
  return lines;
}
