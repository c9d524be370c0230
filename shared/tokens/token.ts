import { LayoutError } from '../errors.js';
import { assertCompleteCover, SegmentRouter, segmentsFromDepths, sortSegments, treeOrder } from '../routing/layout.js';
import {
  advancePosition,
  EMPTY_POSITION,
  meetPositions,
  positionCovers,
  samePosition,
  type OffsetRange,
  type Position,
} from './position.js';
import {
  parentOf,
  parseSegmentName,
  segmentContains,
  segmentDepth,
  segmentName,
  segmentsOverlap,
  siblingOf,
  type Segment,
} from '../routing/segment.js';

/**
 * The most bytes a stored token may take (its binary form, {@link PartitionToken.encode}). `advance` keeps every
 * token under it: past it the highest out-of-order ranges are forgotten first, across cells (their records were
 * handled but will be handled again: at-least-once, never lost), and only if the cells alone do not fit are the
 * deepest sibling cells merged into their parent at the offsets both had done. With {@link MAX_SEGMENTS} segments the
 * cells alone take at most 18.4 KB, so merging happens only for cells finer than the live segments (a recent merge)
 * with offsets far apart. 32 KB keeps a partition item with keys blocked in all of 1,024 cells under 64 KB: the token,
 * 500 attempt counts (about 19 KB at most) and 100 parked keys (about 10 KB).
 */
export const TOKEN_MAX_BYTES = 32 * 1024;

/** The first byte of the binary token form; other values are refused, so a later form can be told apart. */
const TOKEN_FORMAT = 1;
/** Cell flags beside the depth (bits 0-4) in a cell's first byte. */
const NO_NEXT = 0x20;
const HAS_DONE = 0x40;

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
  /**
   * Out-of-order ranges dropped at a bound: `maxRanges` per cell, then {@link TOKEN_MAX_BYTES} for the whole token
   * (their records will be handled again on redelivery).
   */
  readonly forgottenRanges: number;
  /** Cells merged into their parents because the cells alone passed the byte bound (0 below MAX_SEGMENTS cells). */
  readonly mergedCells: number;
}

/** A token cut to a byte bound, and what that cost. */
export interface BoundedToken {
  readonly token: PartitionToken;
  readonly forgottenRanges: number;
  readonly mergedCells: number;
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

  /**
   * Reads a token as stored in the token table: the binary form of {@link PartitionToken.encode}, or the JSON form
   * of {@link PartitionToken.serialize} that items written before the binary form hold.
   */
  static read(stored: unknown): PartitionToken {
    if (stored instanceof Uint8Array) return PartitionToken.decode(stored);
    if (typeof stored === 'string') return PartitionToken.parse(stored);
    throw new LayoutError(`stored token is neither binary nor text (${typeof stored})`);
  }

  /** Reads the binary form written by {@link PartitionToken.encode}. */
  static decode(bytes: Uint8Array): PartitionToken {
    const reader = new VarintReader(bytes);
    const format = reader.byte();
    if (format !== TOKEN_FORMAT) throw new LayoutError(`stored token has unknown format ${format}`);
    const count = reader.varint();
    if (count < 1 || count > bytes.length) throw new LayoutError(`stored token has a bad cell count ${count}`);
    const base = reader.varint();
    const depths: number[] = [];
    const positions: Position[] = [];
    for (let i = 0; i < count; i++) {
      const head = reader.byte();
      depths.push(head & 0x1f);
      const next = head & NO_NEXT ? null : base + reader.varint();
      const done: OffsetRange[] = [];
      if (head & HAS_DONE) {
        if (next === null) throw new LayoutError('stored token has out-of-order ranges in a cell with no next offset');
        const ranges = reader.varint();
        let cursor = next;
        for (let r = 0; r < ranges; r++) {
          const from = cursor + 1 + reader.varint();
          const to = from + reader.varint();
          done.push([from, to]);
          cursor = to + 1;
        }
      }
      positions.push({ next, done });
    }
    if (!reader.atEnd()) throw new LayoutError('stored token has bytes past its last cell');
    const segments = segmentsFromDepths(depths, 'stored token');
    const cells = segments.map((segment, i) => ({ segment, position: positions[i]! }));
    return new PartitionToken(sortSegments(cells.map((c) => ({ ...c.segment, cell: c }))).map((c) => c.cell));
  }

  /**
   * The binary form stored in the token table: a format byte, the cell count and the lowest next offset (`base`),
   * then per cell, in the split tree's depth-first order (so its depth alone names its segment), one byte of depth
   * and flags, its next offset above `base`, and its out-of-order ranges as gaps and lengths: unsigned LEB128
   * varints throughout. A steady-state token is 5 to 12 bytes; a cell without ranges at most 9.
   */
  encode(): Uint8Array {
    const writer = new VarintWriter(encodedSize(this.cells));
    writeCells(writer, this.cells);
    return writer.bytes;
  }

  /** The length of {@link PartitionToken.encode}'s form, without building it. */
  encodedSize(): number {
    return encodedSize(this.cells);
  }

  /**
   * This token in at most `maxBytes` encoded: the highest out-of-order ranges, across cells, are forgotten first;
   * if the cells alone are still too big, the deepest sibling cells are merged into their parent with the offsets
   * both had done. Either way it only covers less, so what it drops is handled again, never lost.
   */
  bounded(maxBytes: number): BoundedToken {
    if (encodedSize(this.cells) <= maxBytes) return { token: this, forgottenRanges: 0, mergedCells: 0 };
    const dropped = dropHighestRanges(this.cells, maxBytes);
    let cells = dropped.cells;
    let mergedCells = 0;
    while (encodedSize(cells) > maxBytes && cells.length > 1) {
      const merged = mergeDeepest(cells);
      mergedCells += cells.length - merged.length;
      cells = merged;
    }
    return { token: new PartitionToken(fold(cells)), forgottenRanges: dropped.forgotten, mergedCells };
  }

  /** A readable JSON form, for status output: `[{"s":"0/1","n":120,"d":[[130,140]]}, ...]`. */
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
    /** Out-of-order ranges kept per cell; the byte bound below applies as well. */
    maxRanges: number;
    /** The most bytes the encoded token may take. @default TOKEN_MAX_BYTES */
    maxBytes?: number;
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
    const bounded = new PartitionToken(fold(advanced)).bounded(input.maxBytes ?? TOKEN_MAX_BYTES);
    return {
      token: bounded.token,
      sourceSkipped,
      forgottenRanges: forgottenRanges + bounded.forgottenRanges,
      mergedCells: bounded.mergedCells,
    };
  }
}

/** Bytes of an unsigned LEB128 varint. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

class VarintWriter {
  readonly bytes: Uint8Array;
  private at = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  byte(value: number): void {
    this.bytes[this.at++] = value;
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new LayoutError(`token cannot be encoded: ${value} is not an offset (out-of-order ranges must be sorted)`);
    }
    while (value >= 128) {
      this.bytes[this.at++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.at++] = value;
  }
}

class VarintReader {
  private at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw new LayoutError('stored token ends early');
    return this.bytes[this.at++]!;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 56) throw new LayoutError('stored token has an offset past 2^56');
    }
    return value;
  }

  atEnd(): boolean {
    return this.at === this.bytes.length;
  }
}

/** The lowest next offset: cells store theirs above it, so equal or close offsets take a byte or two. */
function baseOf(cells: readonly TokenCell[]): number {
  let base: number | null = null;
  for (const { position } of cells)
    if (position.next !== null && (base === null || position.next < base)) base = position.next;
  return base ?? 0;
}

/** A cell's bytes after its head byte and next offset: its ranges. */
function rangesSize(position: Position, count = position.done.length): number {
  if (count === 0) return 0;
  let size = varintSize(count);
  let cursor = position.next!;
  for (let i = 0; i < count; i++) {
    const [from, to] = position.done[i]!;
    size += varintSize(Math.max(0, from - cursor - 1)) + varintSize(Math.max(0, to - from));
    cursor = to + 1;
  }
  return size;
}

function cellSize(position: Position, base: number): number {
  return 1 + (position.next === null ? 0 : varintSize(position.next - base)) + rangesSize(position);
}

function encodedSize(cells: readonly TokenCell[]): number {
  const base = baseOf(cells);
  let size = 1 + varintSize(cells.length) + varintSize(base);
  for (const { position } of cells) size += cellSize(position, base);
  return size;
}

function writeCells(writer: VarintWriter, cells: readonly TokenCell[]): void {
  const base = baseOf(cells);
  writer.byte(TOKEN_FORMAT);
  writer.varint(cells.length);
  writer.varint(base);
  for (const { cell } of treeOrder(cells.map((c) => ({ id: c.segment.id, mask: c.segment.mask, cell: c })))) {
    const { segment, position } = cell;
    const { next, done } = position;
    const ranges = next !== null && done.length > 0;
    writer.byte(segmentDepth(segment) | (next === null ? NO_NEXT : 0) | (ranges ? HAS_DONE : 0));
    if (next === null) continue;
    writer.varint(next - base);
    if (!ranges) continue;
    writer.varint(done.length);
    let cursor = next;
    for (const [from, to] of done) {
      writer.varint(from - cursor - 1);
      writer.varint(to - from);
      cursor = to + 1;
    }
  }
}

/**
 * Forgets the fewest highest out-of-order ranges, across all cells, that bring the token to `maxBytes` (or all of
 * them): every range that starts at or above some offset goes, in every cell.
 */
function dropHighestRanges(cells: readonly TokenCell[], maxBytes: number): { cells: TokenCell[]; forgotten: number } {
  const base = baseOf(cells);
  // Ranges by start, highest first; each cell keeps a prefix of its ranges, so removing one changes no other's bytes.
  const ranges = cells.flatMap((cell, c) => cell.position.done.map(([from], r) => ({ from, c, r })));
  ranges.sort((a, b) => b.from - a.from || b.c - a.c);
  const keptWith = (drop: number): number[] => {
    const kept = cells.map((cell) => cell.position.done.length);
    for (let i = 0; i < drop; i++) kept[ranges[i]!.c] = Math.min(kept[ranges[i]!.c]!, ranges[i]!.r);
    return kept;
  };
  const sizeWith = (kept: readonly number[]): number => {
    let size = 1 + varintSize(cells.length) + varintSize(base);
    cells.forEach(({ position }, c) => {
      size += 1 + (position.next === null ? 0 : varintSize(position.next - base)) + rangesSize(position, kept[c]);
    });
    return size;
  };
  // The fewest ranges to drop: the size only falls as more are dropped.
  let low = 0;
  let high = ranges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sizeWith(keptWith(middle)) <= maxBytes) high = middle;
    else low = middle + 1;
  }
  const kept = keptWith(low);
  return {
    cells: cells.map((cell, c) =>
      kept[c] === cell.position.done.length
        ? cell
        : { segment: cell.segment, position: { next: cell.position.next, done: cell.position.done.slice(0, kept[c]) } },
    ),
    forgotten: low,
  };
}

/**
 * Merges every pair of sibling cells at the deepest level into their parent, at the offsets both had done: the
 * lower next offset and the out-of-order ranges both share. A token with more than one cell always has such a pair.
 */
function mergeDeepest(cells: readonly TokenCell[]): TokenCell[] {
  const deepest = Math.max(...cells.map((c) => segmentDepth(c.segment)));
  const byName = new Map(cells.map((c) => [segmentName(c.segment), c]));
  const out: TokenCell[] = [];
  for (const cell of cells) {
    if (!byName.has(segmentName(cell.segment))) continue;
    const sibling =
      segmentDepth(cell.segment) === deepest ? byName.get(segmentName(siblingOf(cell.segment))) : undefined;
    if (!sibling) {
      out.push(cell);
      continue;
    }
    byName.delete(segmentName(cell.segment));
    byName.delete(segmentName(sibling.segment));
    out.push({ segment: parentOf(cell.segment), position: meetPositions(cell.position, sibling.position) });
  }
  return out;
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
