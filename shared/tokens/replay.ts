import { LayoutError } from '../errors.js';
import type { Position } from './position.js';
import { PartitionToken } from './token.js';

/**
 * A replay under way on a partition: a reset wrote the token the partition had before it (`token`) beside the new
 * one, with the reset's id. Records that token covers were handled before the reset and now come again; once the
 * partition's token covers everything it covered, the checkpoint removes it and the replay is over.
 */
export interface Replay {
  readonly resetId: string;
  /** The token the partition had at the reset: what was already handled once. */
  readonly token: PartitionToken;
}

/**
 * The replay a partition item holds (attributes `replayToken`, binary, and `resetId`), or null when it holds none.
 * A replay token that cannot be read is a LayoutError naming the partition, like a bad token.
 */
export function readReplay(replayToken: unknown, resetId: unknown, where: string): Replay | null {
  if (replayToken === undefined || replayToken === null) return null;
  try {
    return {
      resetId: resetId === undefined || resetId === null ? '' : String(resetId),
      token: PartitionToken.read(replayToken),
    };
  } catch (error) {
    throw new LayoutError(`replay token of ${where} cannot be read: ${(error as Error).message}`, { cause: error });
  }
}

/** Whether a record (its hash and offset) was handled before the reset: the replay token covers it. */
export function isReplayed(replay: Replay | null, hash: number, offset: number): boolean {
  return replay !== null && replay.token.covers(hash, offset);
}

/** Whether a record without a hash (unreadable, unroutable) was done before the reset in every cell. */
export function isReplayedEverywhere(replay: Replay | null, offset: number): boolean {
  return replay !== null && replay.token.coversEverywhere(offset);
}

/**
 * Whether `token` has moved past everything the replay token covered: in every slice of the hash space, its next
 * offset is at or above the highest offset the replay token covered there (its next offset, or past its last
 * out-of-order range). Then no record can be a replay any more, and the replay token can go.
 */
export function replayPassed(token: PartitionToken, replayToken: PartitionToken): boolean {
  for (const cell of replayToken.cells) {
    const high = highestCovered(cell.position);
    if (high === null) continue;
    for (const current of token.cellsOverlapping(cell.segment)) {
      if (current.position.next === null || current.position.next < high) return false;
    }
  }
  return true;
}

/** The offset after the highest one a position covers, or null when it covers none. */
function highestCovered(position: Position): number | null {
  if (position.next === null) return null;
  const last = position.done.at(-1);
  return last ? Math.max(position.next, last[1] + 1) : position.next;
}
