import { LayoutError } from './errors.js';
import { assertCompleteCover, SegmentRouter, sortSegments } from './layout.js';
import {
  advancePosition,
  EMPTY_POSITION,
  positionCovers,
  samePosition,
  type OffsetRange,
  type Position,
} from './position.js';
import {
  parentOf,
  parseSegmentName,
  segmentContains,
  segmentName,
  segmentsOverlap,
  siblingOf,
  type Segment,
} from './segment.js';

/** The position of one slice of the hash space in one partition. */
export interface TokenCell {
  readonly segment: Segment;
  readonly position: Position;
}

/** A record the batch did not finish: it keeps its cell from moving past it. No hash: it holds back every cell. */
export interface UnfinishedRecord {
  readonly offset: number;
  readonly hash: number | undefined;
}

/** What a checkpoint changes, for logs and metrics. */
export interface TokenAdvance {
  readonly token: PartitionToken;
  /**
   * Offsets the event source moved past that were delivered before and not done, per cell: only offsets up to
   * `seenThrough` count, since offsets above everything ever delivered may never have existed.
   */
  readonly sourceSkipped: ReadonlyArray<{ segment: Segment; ranges: readonly OffsetRange[] }>;
  /** Out-of-order ranges dropped at the bound (their records will be handled again on redelivery). */
  readonly forgottenRanges: number;
}

/**
 * A partition's token: cells that cover the hash space exactly once, each with its {@link Position}. A record is
 * looked up by its hash, so the token stays right whatever the layout did since it was written: after a split
 * both halves read the parent's cell; after a merge each half keeps its own position until they are equal, and
 * then the cells fold back into one. In steady state the whole partition is a single cell.
 */
export class PartitionToken {
  private router: SegmentRouter<TokenCell & Segment> | undefined;

  private constructor(readonly cells: readonly TokenCell[]) {}

  /** The token of a partition never processed. */
  static initial(): PartitionToken {
    return new PartitionToken([{ segment: { id: 0, mask: 0 }, position: EMPTY_POSITION }]);
  }

  /** Builds a token from cells, checking they cover the hash space exactly once. */
  static fromCells(cells: readonly TokenCell[]): PartitionToken {
    assertCompleteCover(
      cells.map((c) => c.segment),
      'token',
    );
    return new PartitionToken(cells);
  }

  /** Reads the stored form written by {@link PartitionToken.serialize}. */
  static parse(text: string): PartitionToken {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new LayoutError('stored token is not valid JSON', { cause: error });
    }
    if (!Array.isArray(raw)) throw new LayoutError('stored token is not a list of cells');
    const cells = raw.map((entry: unknown): TokenCell => {
      const cell = entry as { s?: unknown; n?: unknown; d?: unknown };
      const segment = parseSegmentName(String(cell.s));
      const next = cell.n === undefined || cell.n === null ? null : Number(cell.n);
      const done = Array.isArray(cell.d)
        ? (cell.d as Array<[number, number]>).map(([a, b]) => [Number(a), Number(b)] as const)
        : [];
      if (next !== null && !Number.isSafeInteger(next))
        throw new LayoutError(`stored token cell ${String(cell.s)} has a bad next offset`);
      return { segment, position: { next, done } };
    });
    return PartitionToken.fromCells(cells);
  }

  /** A compact JSON form: `[{"s":"0/1","n":120,"d":[[130,140]]}, ...]`. */
  serialize(): string {
    return JSON.stringify(
      this.cells.map(({ segment, position }) => ({
        s: segmentName(segment),
        ...(position.next === null ? {} : { n: position.next }),
        ...(position.done.length ? { d: position.done } : {}),
      })),
    );
  }

  /** The position that applies to records with this hash. */
  positionFor(hash: number): Position {
    this.router ??= new SegmentRouter(this.cells.map((cell) => ({ ...cell.segment, ...cell })));
    return this.router.segmentFor(hash).position;
  }

  /** Whether a record with this hash and offset is already done: it must not be handled again. */
  covers(hash: number, offset: number): boolean {
    return positionCovers(this.positionFor(hash), offset);
  }

  /** The cells that overlap a segment: the positions a status view shows for it. */
  cellsOverlapping(segment: Segment): TokenCell[] {
    return this.cells.filter((cell) => segmentsOverlap(cell.segment, segment));
  }

  /** Whether every cell covers the offset: a record with no hash (unreadable, unroutable) is done only then. */
  coversEverywhere(offset: number): boolean {
    return this.cells.every((cell) => positionCovers(cell.position, offset));
  }

  /** The lowest offset any cell (of `segment`, when given) still waits for, or `null` before the first batch. */
  lowWatermark(segment?: Segment): number | null {
    let low: number | null = null;
    for (const { position } of segment ? this.cellsOverlapping(segment) : this.cells) {
      if (position.next !== null && (low === null || position.next < low)) low = position.next;
    }
    return low;
  }

  /**
   * Applies one delivered slice `[first, last]` of this partition, processed under the live `segments`: every
   * offset in it is done except the `unfinished` records. Cells are refined to the live segments first, so each
   * segment moves on its own, then siblings with equal positions fold together.
   */
  advance(input: {
    segments: readonly Segment[];
    first: number;
    last: number;
    unfinished: readonly UnfinishedRecord[];
    maxRanges: number;
    /** The highest offset delivered before this batch (null: none known, so no skip can be told). @default no bound */
    seenThrough?: number | null;
  }): TokenAdvance {
    const fine = refine(this, input.segments);
    const router = new SegmentRouter(fine.map((cell) => ({ ...cell.segment, cell })));
    const heldEverywhere: number[] = [];
    const held = new Map<TokenCell, number[]>();
    for (const record of input.unfinished) {
      if (record.hash === undefined) {
        heldEverywhere.push(record.offset);
        continue;
      }
      const cell = router.segmentFor(record.hash).cell;
      const offsets = held.get(cell);
      if (offsets) offsets.push(record.offset);
      else held.set(cell, [record.offset]);
    }
    const sourceSkipped: Array<{ segment: Segment; ranges: readonly OffsetRange[] }> = [];
    let forgottenRanges = 0;
    const advanced = fine.map((cell): TokenCell => {
      const offsets = [...heldEverywhere, ...(held.get(cell) ?? [])].sort((a, b) => a - b);
      const { position, report } = advancePosition(cell.position, input.first, input.last, offsets, input.maxRanges);
      const ranges = clipRanges(report.sourceSkipped, input.seenThrough);
      if (ranges.length > 0) sourceSkipped.push({ segment: cell.segment, ranges });
      forgottenRanges += report.forgottenRanges;
      return { segment: cell.segment, position };
    });
    return { token: new PartitionToken(fold(advanced)), sourceSkipped, forgottenRanges };
  }
}

/** The parts of the ranges at or below `bound`; all of them when there is no bound, none when it is null. */
function clipRanges(ranges: readonly OffsetRange[], bound: number | null | undefined): OffsetRange[] {
  if (bound === undefined) return [...ranges];
  if (bound === null) return [];
  return ranges.filter(([from]) => from <= bound).map(([from, to]) => [from, Math.min(to, bound)] as const);
}

/** The common refinement of the token's cells and the live segments: in a split tree, the finer of each overlap. */
function refine(token: PartitionToken, segments: readonly Segment[]): TokenCell[] {
  const out: TokenCell[] = [];
  for (const cell of token.cells) {
    const inside = segments.filter((s) => segmentContains(cell.segment, s));
    if (inside.length > 0 && !inside.some((s) => s.mask === cell.segment.mask)) {
      for (const { id, mask } of inside) out.push({ segment: { id, mask }, position: cell.position });
    } else {
      out.push(cell);
    }
  }
  return out;
}

/** Folds sibling cells with equal positions into their parent until none are left: a token as small as it can be. */
function fold(cells: TokenCell[]): TokenCell[] {
  const byName = new Map(cells.map((cell) => [segmentName(cell.segment), cell]));
  let changed = true;
  while (changed) {
    changed = false;
    const deepestFirst: TokenCell[] = sortSegments([...byName.values()].map((c) => ({ ...c.segment, cell: c })))
      .reverse()
      .map((entry) => entry.cell);
    for (const candidate of deepestFirst) {
      const current = byName.get(segmentName(candidate.segment));
      if (!current || current.segment.mask === 0) continue;
      const siblingName = segmentName(siblingOf(current.segment));
      const sibling = byName.get(siblingName);
      if (!sibling || !samePosition(current.position, sibling.position)) continue;
      byName.delete(segmentName(current.segment));
      byName.delete(siblingName);
      const parent = parentOf(current.segment);
      byName.set(segmentName(parent), { segment: parent, position: current.position });
      changed = true;
    }
  }
  return sortSegments([...byName.values()].map((c) => ({ ...c.segment, cell: c }))).map((c) => c.cell);
}
