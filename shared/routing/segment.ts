import { LayoutError } from '../errors.js';

/**
 * A slice of the sequencing-key hash space, as in Axon Framework: a record belongs to the segment when
 * `(hash & mask) === id`. Masks are always `2^depth - 1`.
 */
export interface Segment {
  readonly id: number;
  readonly mask: number;
}

/** The whole hash space. */
export const ROOT_SEGMENT: Segment = Object.freeze({ id: 0, mask: 0 });

/** The deepest split allowed: 2^16 = 65,536 segments, far beyond any sane Lambda fan-out. */
export const MAX_SEGMENT_DEPTH = 16;

/** Whether a record with this hash belongs to the segment. */
export function segmentMatches(segment: Segment, hash: number): boolean {
  return (hash & segment.mask) === segment.id;
}

/** How many times the root was split to get this segment (the number of bits in its mask). */
export function segmentDepth(segment: Segment): number {
  return 32 - Math.clz32(segment.mask);
}

/** `"<id>/<mask>"`, the segment's name in logs, keys and the CLI. */
export function segmentName(segment: Segment): string {
  return `${segment.id}/${segment.mask}`;
}

/** Checks a segment's shape: mask `2^d - 1` with `d <= MAX_SEGMENT_DEPTH`, id within the mask. */
export function assertSegment(segment: Segment): void {
  const { id, mask } = segment;
  const valid =
    Number.isInteger(id) &&
    Number.isInteger(mask) &&
    mask >= 0 &&
    (mask & (mask + 1)) === 0 &&
    segmentDepth(segment) <= MAX_SEGMENT_DEPTH &&
    id >= 0 &&
    (id & mask) === id;
  if (!valid) {
    throw new LayoutError(
      `invalid segment id=${String(id)} mask=${String(mask)}: the mask must be 2^d-1 with d <= ${MAX_SEGMENT_DEPTH} and the id within the mask`,
      { context: { segment } },
    );
  }
}

/** Parses `"<id>/<mask>"`; throws LayoutError naming the text when it is not a valid segment. */
export function parseSegmentName(text: string): Segment {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new LayoutError(`invalid segment "${text}": expected "<id>/<mask>", e.g. "2/3"`);
  const segment = { id: Number(match[1]), mask: Number(match[2]) };
  assertSegment(segment);
  return segment;
}

/** Whether two segments are the same. */
export function sameSegment(a: Segment, b: Segment): boolean {
  return a.id === b.id && a.mask === b.mask;
}

/** Splits a segment in two halves: new mask `(mask << 1) | 1`, ids `id` and `id + mask + 1`. */
export function splitSegment(segment: Segment): [Segment, Segment] {
  assertSegment(segment);
  if (segmentDepth(segment) >= MAX_SEGMENT_DEPTH) {
    throw new LayoutError(
      `segment ${segmentName(segment)} is at the maximum depth ${MAX_SEGMENT_DEPTH} and cannot be split further`,
      { context: { segment } },
    );
  }
  const mask = (segment.mask << 1) | 1;
  return [
    { id: segment.id, mask },
    { id: segment.id + segment.mask + 1, mask },
  ];
}

/** The segment this one would merge with: its id with the highest mask bit flipped. The root has none. */
export function siblingOf(segment: Segment): Segment {
  assertSegment(segment);
  if (segment.mask === 0) throw new LayoutError('the root segment 0/0 has no sibling to merge with');
  return { id: segment.id ^ highestBit(segment.mask), mask: segment.mask };
}

/** The segment this one was split from. */
export function parentOf(segment: Segment): Segment {
  assertSegment(segment);
  if (segment.mask === 0) throw new LayoutError('the root segment 0/0 has no parent');
  const mask = segment.mask >>> 1;
  return { id: segment.id & mask, mask };
}

/** Merges two sibling halves back into their parent `(min id, mask >>> 1)`. */
export function mergeSegments(a: Segment, b: Segment): Segment {
  if (a.mask === 0 || !sameSegment(siblingOf(a), b)) {
    throw new LayoutError(`segments ${segmentName(a)} and ${segmentName(b)} are not siblings and cannot be merged`);
  }
  return parentOf(a);
}

/** Whether every hash of `inner` is also in `outer`. */
export function segmentContains(outer: Segment, inner: Segment): boolean {
  return (inner.mask & outer.mask) === outer.mask && (inner.id & outer.mask) === outer.id;
}

/** Whether two segments share any hash. In a binary split tree that means one contains the other. */
export function segmentsOverlap(a: Segment, b: Segment): boolean {
  const common = a.mask & b.mask;
  return (a.id & common) === (b.id & common);
}

function highestBit(mask: number): number {
  return 1 << (31 - Math.clz32(mask));
}
