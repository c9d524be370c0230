import { LayoutError } from './errors.js';
import {
  assertSegment,
  MAX_SEGMENT_DEPTH,
  ROOT_SEGMENT,
  segmentDepth,
  segmentName,
  splitSegment,
  type Segment,
} from './segment.js';

/** Whether a segment takes work. A draining segment is about to be split or merged: its records wait. */
export const SegmentState = {
  Active: 'active',
  Draining: 'draining',
} as const;
export type SegmentState = (typeof SegmentState)[keyof typeof SegmentState];

/** A live segment of a processor's layout, with its persisted mask. */
export interface LayoutSegment extends Segment {
  readonly state: SegmentState;
}

/** What a layout change does to segments. */
export const LayoutOperation = { Split: 'split', Merge: 'merge' } as const;
export type LayoutOperation = (typeof LayoutOperation)[keyof typeof LayoutOperation];

/**
 * A split or merge under way, stored on the layout: at most one per processor. `from` are the segments marked
 * draining at `drainVersion`; `to` replaces them when the change is applied.
 */
export interface LayoutChange {
  /** The coordinating execution's name: a repeated step of the same execution recognises its own change. */
  readonly id: string;
  readonly operation: LayoutOperation;
  /** The segment named in the request, e.g. "2/3". */
  readonly segment: string;
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly drainVersion: number;
  readonly startedAt: number;
  /** Epoch ms: past this the change is rolled back if claims have not drained. */
  readonly deadline: number;
}

/** A processor's live segments: they cover the hash space exactly once. `version` grows with every change. */
export interface Layout {
  readonly processor: string;
  readonly version: number;
  readonly segments: readonly LayoutSegment[];
  /** The split or merge under way, if any. */
  readonly change?: LayoutChange;
}

/**
 * `count` segments as even as a binary split tree allows, like Axon's initial segments: the widest segment
 * (lowest id first) is split until there are enough.
 */
export function balancedSegments(count: number): Segment[] {
  if (!Number.isInteger(count) || count < 1 || count > 2 ** MAX_SEGMENT_DEPTH) {
    throw new LayoutError(`segment count must be an integer from 1 to ${2 ** MAX_SEGMENT_DEPTH}, got ${String(count)}`);
  }
  let segments: Segment[] = [ROOT_SEGMENT];
  while (segments.length < count) {
    const widest = segments.reduce((best, s) =>
      s.mask < best.mask || (s.mask === best.mask && s.id < best.id) ? s : best,
    );
    segments = segments.filter((s) => s !== widest).concat(splitSegment(widest));
  }
  return sortSegments(segments);
}

/** Segments ordered by mask then id, the order layouts are stored and shown in. */
export function sortSegments<T extends Segment>(segments: readonly T[]): T[] {
  return [...segments].sort((a, b) => a.mask - b.mask || a.id - b.id);
}

/**
 * Checks that the segments cover the hash space exactly once. Throws LayoutError naming the overlap or the gap:
 * processing must stop rather than guess where records belong.
 */
export function assertCompleteCover(segments: readonly Segment[], what = 'layout'): void {
  if (segments.length === 0) throw new LayoutError(`${what} has no segments`);
  // A binary trie over the low bits of the ids: a segment is a leaf at its depth.
  type Node = { leaf?: Segment; children?: [Node | undefined, Node | undefined] };
  const root: Node = {};
  let covered = 0;
  for (const segment of segments) {
    assertSegment(segment);
    const depth = segmentDepth(segment);
    let node = root;
    for (let bit = 0; bit < depth; bit++) {
      if (node.leaf) throw overlap(what, node.leaf, segment);
      node.children ??= [undefined, undefined];
      const side = (segment.id >>> bit) & 1;
      node = node.children[side] ??= {};
    }
    if (node.leaf) throw overlap(what, node.leaf, segment);
    if (node.children) throw new LayoutError(`${what} overlaps: ${segmentName(segment)} contains finer segments`);
    node.leaf = segment;
    covered += 2 ** (MAX_SEGMENT_DEPTH - depth);
  }
  if (covered !== 2 ** MAX_SEGMENT_DEPTH) {
    const share = (covered / 2 ** MAX_SEGMENT_DEPTH).toFixed(6);
    throw new LayoutError(`${what} has a gap: its segments cover ${share} of the hash space, not all of it`, {
      context: { segments: segments.map(segmentName) },
    });
  }
}

function overlap(what: string, a: Segment, b: Segment): LayoutError {
  return new LayoutError(`${what} overlaps: segments ${segmentName(a)} and ${segmentName(b)} share hashes`);
}

/** Checks a whole layout: version, states and complete cover. */
export function assertLayout(layout: Layout): void {
  if (!Number.isSafeInteger(layout.version) || layout.version < 1) {
    throw new LayoutError(`layout of "${layout.processor}" has an invalid version ${String(layout.version)}`);
  }
  for (const segment of layout.segments) {
    if (segment.state !== SegmentState.Active && segment.state !== SegmentState.Draining) {
      throw new LayoutError(
        `layout of "${layout.processor}": segment ${segmentName(segment)} has unknown state "${String(segment.state)}"`,
      );
    }
  }
  assertCompleteCover(layout.segments, `layout of "${layout.processor}" v${layout.version}`);
}

/**
 * Finds a record's segment in a checked layout: one map lookup per distinct mask (at most 17).
 * Build one per layout version and reuse it for the whole batch.
 */
export class SegmentRouter<T extends Segment = LayoutSegment> {
  private readonly byMask: Array<{ mask: number; ids: Map<number, T> }>;

  constructor(segments: readonly T[]) {
    assertCompleteCover(segments);
    const groups = new Map<number, Map<number, T>>();
    for (const segment of segments) {
      let ids = groups.get(segment.mask);
      if (!ids) groups.set(segment.mask, (ids = new Map()));
      ids.set(segment.id, segment);
    }
    this.byMask = [...groups].map(([mask, ids]) => ({ mask, ids }));
  }

  /** The segment a hash belongs to. */
  segmentFor(hash: number): T {
    for (const { mask, ids } of this.byMask) {
      const segment = ids.get(hash & mask);
      if (segment) return segment;
    }
    // Unreachable for a complete cover, which the constructor checked.
    throw new LayoutError(`no segment matches hash ${hash}`);
  }
}
