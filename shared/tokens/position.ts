/** An inclusive range of offsets `[from, to]`. */
export type OffsetRange = readonly [from: number, to: number];

/**
 * How far one slice of the hash space has processed one partition: every offset below `next` is done, plus the
 * offsets in `done` (sorted, disjoint, not touching, all above `next`) that finished out of order while an
 * earlier record was blocked. `next` is `null` before the first batch.
 */
export interface Position {
  readonly next: number | null;
  readonly done: readonly OffsetRange[];
}

/** No offset done yet. */
export const EMPTY_POSITION: Position = Object.freeze({
  next: null,
  done: Object.freeze([]) as readonly OffsetRange[],
});

/** Whether the position says this offset is done. */
export function positionCovers(position: Position, offset: number): boolean {
  if (position.next === null) return false;
  if (offset < position.next) return true;
  // Binary search over the out-of-order ranges.
  let low = 0;
  let high = position.done.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const [from, to] = position.done[middle]!;
    if (offset < from) high = middle - 1;
    else if (offset > to) low = middle + 1;
    else return true;
  }
  return false;
}

/** Whether two positions say the same thing. */
export function samePosition(a: Position, b: Position): boolean {
  if (a.next !== b.next || a.done.length !== b.done.length) return false;
  return a.done.every(([from, to], i) => from === b.done[i]![0] && to === b.done[i]![1]);
}

/** What {@link advancePosition} did besides moving the position. */
export interface AdvanceReport {
  /**
   * Offsets below the batch the event source moved past without their being done (its retries or record age ran
   * out); empty when the batch starts at or below `next`.
   */
  readonly sourceSkipped: readonly OffsetRange[];
  /** Out-of-order ranges dropped at the bound; their records were handled but will be delivered again. */
  readonly forgottenRanges: number;
}

/**
 * Applies a delivered slice `[first, last]` of the partition: every offset in it is done except `unfinished`
 * (sorted ascending). Offsets missing from a batch do not exist (compaction, transaction markers), so they count
 * as done. A batch that starts above `next` means the event source moved past those offsets; the position
 * follows it. At most `maxRanges` out-of-order ranges are kept: the highest are forgotten beyond that (their
 * records were handled but are not recorded, so they are delivered and handled again: at-least-once, never
 * lost).
 */
export function advancePosition(
  position: Position,
  first: number,
  last: number,
  unfinished: readonly number[],
  maxRanges: number,
): { position: Position; report: AdvanceReport } {
  const sourceSkipped: OffsetRange[] = [];
  let next = position.next;
  if (next === null) {
    next = first;
  } else if (first > next) {
    // The gaps between the done ranges below the batch start.
    let from = next;
    for (const [doneFrom, doneTo] of position.done) {
      if (doneFrom >= first) break;
      if (doneFrom > from) sourceSkipped.push([from, doneFrom - 1]);
      from = Math.max(from, doneTo + 1);
    }
    if (from < first) sourceSkipped.push([from, first - 1]);
    next = first;
  }
  const delivered: OffsetRange[] = [];
  let from = first;
  for (const offset of unfinished) {
    if (offset < first || offset > last) continue;
    if (offset > from) delivered.push([from, offset - 1]);
    from = Math.max(from, offset + 1);
  }
  if (from <= last) delivered.push([from, last]);

  const merged = mergeRanges([...position.done, ...delivered]);
  const done: OffsetRange[] = [];
  for (const [rangeFrom, rangeTo] of merged) {
    if (rangeTo < next) continue;
    if (rangeFrom <= next) next = rangeTo + 1;
    else done.push([rangeFrom, rangeTo]);
  }
  const forgottenRanges = Math.max(0, done.length - maxRanges);
  if (forgottenRanges > 0) done.length = maxRanges;
  return { position: { next, done }, report: { sourceSkipped, forgottenRanges } };
}

/**
 * A position that says done only what both say done: the lower next offset and the out-of-order ranges (or parts of
 * them) both share. A token that merges two cells into one at the byte bound uses it: it covers less, never more.
 */
export function meetPositions(a: Position, b: Position): Position {
  if (a.next === null || b.next === null) return EMPTY_POSITION;
  const below = Number.MIN_SAFE_INTEGER;
  const left: OffsetRange[] = [[below, a.next - 1], ...a.done];
  const right: OffsetRange[] = [[below, b.next - 1], ...b.done];
  const both: OffsetRange[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    const [leftFrom, leftTo] = left[i]!;
    const [rightFrom, rightTo] = right[j]!;
    const from = Math.max(leftFrom, rightFrom);
    const to = Math.min(leftTo, rightTo);
    if (from <= to) both.push([from, to]);
    if (leftTo < rightTo) i++;
    else j++;
  }
  // The first shared range is everything below the lower next offset, extended by what both did just above it.
  let next = both[0]![1] + 1;
  const done: OffsetRange[] = [];
  for (const [from, to] of mergeRanges(both.slice(1))) {
    if (from <= next) next = Math.max(next, to + 1);
    else done.push([from, to]);
  }
  return { next, done };
}

/** Sorts ranges and joins those that overlap or touch. */
export function mergeRanges(ranges: readonly OffsetRange[]): OffsetRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const tail = out[out.length - 1];
    if (tail && from <= tail[1] + 1) tail[1] = Math.max(tail[1], to);
    else out.push([from, to]);
  }
  return out;
}
