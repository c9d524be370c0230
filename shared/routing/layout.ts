import { LayoutError } from '../errors.js';
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
 * The most segments a layout may have. Below it every guarantee holds without loss: the layout item stays one
 * read unit (one character per segment: 2,048 segments are about 2.3 KB, under DynamoDB's 4 KB read unit), and a
 * partition token's cell structure fits its byte budget even in the worst case (2,048 cells of at most 9 bytes are
 * 18.4 KB of {@link TOKEN_MAX_BYTES}' 32 KB, leaving the rest for out-of-order ranges). Segments still nest up to
 * {@link MAX_SEGMENT_DEPTH} deep; the cap is on how many there are. Initialise, split and scale refuse to pass it;
 * a stored layout with more is still read.
 */
export const MAX_SEGMENTS = 2_048;

/** The error for a layout that would pass {@link MAX_SEGMENTS}: names the cap and why it exists. */
export function tooManySegments(what: string): LayoutError {
  return new LayoutError(
    `${what}: a layout may have at most ${MAX_SEGMENTS} segments (MAX_SEGMENTS), so its item stays one DynamoDB read unit and every partition token fits its byte budget`,
    { context: { maxSegments: MAX_SEGMENTS } },
  );
}

/**
 * `count` segments as even as a binary split tree allows, like Axon's initial segments: the widest segment
 * (lowest id first) is split until there are enough.
 */
export function balancedSegments(count: number): Segment[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SEGMENTS) {
    throw new LayoutError(`segment count must be an integer from 1 to ${MAX_SEGMENTS}, got ${String(count)}`, {
      context: { maxSegments: MAX_SEGMENTS },
    });
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

/**
 * Segments in the order of a depth-first walk of the split tree that takes hash bit 0 first, then bit 1, ...: the
 * order in which a complete cover is told by its segments' depths alone (see {@link segmentsFromDepths}).
 */
export function treeOrder<T extends Segment>(segments: readonly T[]): T[] {
  return [...segments].sort((a, b) => treeKey(a) - treeKey(b) || a.mask - b.mask);
}

/** The id's bits, lowest first, read as the high bits of a MAX_SEGMENT_DEPTH-bit number. */
function treeKey(segment: Segment): number {
  const depth = segmentDepth(segment);
  let key = 0;
  for (let bit = 0; bit < depth; bit++) {
    if ((segment.id >>> bit) & 1) key |= 1 << (MAX_SEGMENT_DEPTH - 1 - bit);
  }
  return key;
}

/**
 * The complete cover whose segments, in {@link treeOrder}, have these depths. Every depth sequence that is read
 * to its end gives a complete cover, so a stored one needs no other check; a malformed one throws LayoutError.
 */
export function segmentsFromDepths(depths: ArrayLike<number>, what: string): Segment[] {
  const out: Segment[] = [];
  let next = 0;
  // Nodes still to visit, the next one last: child 0 (bit clear) before child 1.
  const stack: Array<[id: number, depth: number]> = [[0, 0]];
  while (stack.length > 0) {
    const [id, depth] = stack.pop()!;
    const leaf = depths[next];
    if (leaf === undefined) throw new LayoutError(`${what} ends before its segments cover the hash space`);
    if (leaf === depth) {
      out.push({ id, mask: 2 ** depth - 1 });
      next++;
      continue;
    }
    if (!Number.isInteger(leaf) || leaf < depth || leaf > MAX_SEGMENT_DEPTH) {
      throw new LayoutError(`${what} has an invalid segment depth ${String(leaf)} at position ${next}`);
    }
    stack.push([id + 2 ** depth, depth + 1], [id, depth + 1]);
  }
  if (next !== depths.length) throw new LayoutError(`${what} has segments past a complete cover`);
  return out;
}

/**
 * The compact stored form of a layout's segments: one character per segment, its depth in base 36 (`0`-`g`), in
 * {@link treeOrder}; the draining ones are listed by name beside it (a change drains at most two). 1,024 segments
 * take about 1 KB instead of about 40 KB as a list of `{id, mask, state}` maps.
 */
export function encodeSegmentTree(segments: readonly LayoutSegment[]): { tree: string; draining: string[] } {
  const ordered = treeOrder(segments);
  return {
    tree: ordered.map((s) => segmentDepth(s).toString(36)).join(''),
    draining: ordered.filter((s) => s.state === SegmentState.Draining).map(segmentName),
  };
}

/** Reads {@link encodeSegmentTree}'s form back (segments sorted by mask then id, as layouts are kept). */
export function decodeSegmentTree(tree: string, draining: readonly string[], what: string): LayoutSegment[] {
  const depths = Array.from(tree, (c) => (/^[0-9a-g]$/.test(c) ? parseInt(c, 36) : Number.NaN));
  const names = new Set(draining);
  const segments = segmentsFromDepths(depths, what).map((s) => ({
    ...s,
    state: names.delete(segmentName(s)) ? SegmentState.Draining : SegmentState.Active,
  }));
  if (names.size > 0) throw new LayoutError(`${what} marks unknown segments draining: ${[...names].join(', ')}`);
  return sortSegments(segments);
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
