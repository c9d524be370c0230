import { sortSegments } from '../routing/layout.js';
import { parentOf, segmentContains, segmentName, siblingOf, splitSegment, type Segment } from '../routing/segment.js';
import { mergeRanges, samePosition, type OffsetRange, type Position } from '../tokens/position.js';
import { PartitionToken, TOKEN_MAX_BYTES, type TokenCell } from '../tokens/token.js';

/**
 * The token arithmetic of a reset: which cells a scope covers, where their positions go, and the replay token (what
 * was handled before). Pure functions on {@link PartitionToken}; cells are found by hash, so none of this depends
 * on the layout beyond the segments named in the scope.
 */

/** Where one cell's position goes: an offset, or null to leave the cell as it is. */
export type CellTarget = (position: Position) => number | null;

/** What a reset does to one partition's token. */
export interface TokenReset {
  readonly token: PartitionToken;
  /** The lowest next offset of the reset cells before and after (null: never processed). */
  readonly from: number | null;
  readonly to: number | null;
  /** Offsets read again (the most over the reset cells): the old position less the new one, when it moved back. */
  readonly replay: number;
  /** Offsets passed over without handling (the most over the reset cells), when it moved forward. */
  readonly skip: number;
  /** Whether any cell changed. */
  readonly changed: boolean;
}

/**
 * Resets the cells of `token` inside `scope` (every cell when null) to `target`'s offset; cells outside keep their
 * position. Cells coarser than a scoped segment are split first, so only the scope moves.
 */
export function resetToken(token: PartitionToken, scope: readonly Segment[] | null, target: CellTarget): TokenReset {
  const cells = scope === null ? [...token.cells] : refineCells(token.cells, scope);
  let from: number | null = null;
  let to: number | null = null;
  let replay = 0;
  let skip = 0;
  let changed = false;
  const next = cells.map((cell): TokenCell => {
    if (scope !== null && !scope.some((s) => segmentContains(s, cell.segment))) return cell;
    const offset = target(cell.position);
    if (offset === null) return cell;
    const position = positionAt(cell.position, offset);
    if (cell.position.next !== null) {
      from = from === null ? cell.position.next : Math.min(from, cell.position.next);
      replay = Math.max(replay, cell.position.next - offset);
      skip = Math.max(skip, offset - cell.position.next);
    }
    to = to === null ? position.next : Math.min(to, position.next!);
    changed ||= !samePosition(position, cell.position);
    return { segment: cell.segment, position };
  });
  return { token: PartitionToken.fromCells(fold(next)), from, to, replay, skip, changed };
}

/**
 * A position moved to `offset`. Back (or a position never set): everything from `offset` on is to be handled again,
 * including what was done out of order above it. Forward: everything below `offset` counts as done, and the
 * out-of-order ranges above it stay done.
 */
export function positionAt(position: Position, offset: number): Position {
  if (position.next === null || offset <= position.next) return { next: offset, done: [] };
  let next = offset;
  const done: OffsetRange[] = [];
  for (const [from, to] of position.done) {
    if (to < next) continue;
    if (from <= next) next = to + 1;
    else done.push([from, to]);
  }
  return { next, done };
}

/**
 * Everything either token covers: the replay token of a reset made during a replay keeps what the earlier replay
 * token covered and adds what the partition has done since. Bounded like every token (dropping ranges covers less:
 * some records handled before would not be flagged as replayed).
 */
export function joinTokens(a: PartitionToken, b: PartitionToken): PartitionToken {
  // A's cells split where B's are finer: each lies inside one cell of A and one of B.
  const finest = refineCells(
    a.cells,
    b.cells.map((c) => c.segment),
  );
  const cells = finest.map((cell) => ({
    segment: cell.segment,
    // A cell's id is a hash inside it: each token's cell holding it holds the whole of this finer cell.
    position: joinPositions(a.positionFor(cell.segment.id), b.positionFor(cell.segment.id)),
  }));
  return PartitionToken.fromCells(fold(cells)).bounded(TOKEN_MAX_BYTES).token;
}

/** The offsets either position covers. */
export function joinPositions(a: Position, b: Position): Position {
  if (a.next === null) return b;
  if (b.next === null) return a;
  const below = Number.MIN_SAFE_INTEGER;
  const [head, ...rest] = mergeRanges([[below, a.next - 1], ...a.done, [below, b.next - 1], ...b.done]);
  return { next: head![1] + 1, done: rest };
}

/** Whether a token has never been advanced: no cell has a position. */
export function neverProcessed(token: PartitionToken): boolean {
  return token.cells.every((cell) => cell.position.next === null);
}

/** The cells split, where a segment of `segments` lies strictly inside one, until each segment is a union of cells. */
export function refineCells(cells: readonly TokenCell[], segments: readonly Segment[]): TokenCell[] {
  const refine = (cell: TokenCell): TokenCell[] => {
    const finer = segments.some((s) => s.mask > cell.segment.mask && segmentContains(cell.segment, s));
    if (!finer) return [cell];
    const [low, high] = splitSegment(cell.segment);
    return [
      ...refine({ segment: low, position: cell.position }),
      ...refine({ segment: high, position: cell.position }),
    ];
  };
  return cells.flatMap(refine);
}

/** Folds sibling cells with equal positions into their parent, as a checkpoint does, so the token stays small. */
function fold(cells: readonly TokenCell[]): TokenCell[] {
  const byName = new Map(cells.map((cell) => [segmentName(cell.segment), cell]));
  for (let changed = true; changed;) {
    changed = false;
    for (const cell of [...byName.values()].sort((x, y) => y.segment.mask - x.segment.mask)) {
      if (cell.segment.mask === 0 || !byName.has(segmentName(cell.segment))) continue;
      const sibling = byName.get(segmentName(siblingOf(cell.segment)));
      if (!sibling || !samePosition(cell.position, sibling.position)) continue;
      byName.delete(segmentName(cell.segment));
      byName.delete(segmentName(sibling.segment));
      const parent = parentOf(cell.segment);
      byName.set(segmentName(parent), { segment: parent, position: cell.position });
      changed = true;
    }
  }
  return sortSegments([...byName.values()].map((c) => ({ ...c.segment, cell: c }))).map((c) => c.cell);
}
