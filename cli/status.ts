import { segmentName } from '../shared/segment.js';
import type { ProcessorState } from '../shared/token-store.js';

/** A processor's status as text: layout, pending change, and per segment the position and owner in every partition. */
export function formatStatus(state: ProcessorState, now = Date.now()): string {
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
    lines.push(`  ${p.topic}-${p.partition}: ${holder}, routed with layout v${p.layoutVersion}`);
  }
  lines.push('', 'Segments (next offset per partition; +n = offsets done out of order):');
  for (const segment of layout.segments) {
    const positions = partitions.map((p) => {
      const ahead = p.token
        .cellsOverlapping(segment)
        .reduce((n, c) => n + c.position.done.reduce((m, [a, b]) => m + b - a + 1, 0), 0);
      return `${p.topic}-${p.partition}=${p.token.lowWatermark(segment) ?? '-'}${ahead ? ` +${ahead}` : ''}`;
    });
    lines.push(`  ${segmentName(segment).padEnd(9)} ${segment.state.padEnd(8)} ${positions.join('  ') || '-'}`);
  }
  return lines.join('\n');
}

function ago(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms / 60_000)}m`;
}
