import { describe, expect, it } from 'vitest';
import { LayoutError } from '../../../shared/errors.js';
import { isReplayed, isReplayedEverywhere, readReplay, replayPassed } from '../../../shared/tokens/replay.js';
import { PartitionToken } from '../../../shared/tokens/token.js';

/** A token from cells written as `segment: [next, ...out-of-order ranges]`. */
const token = (cells: Record<string, [number | null, ...Array<[number, number]>]>) =>
  PartitionToken.parse(
    JSON.stringify(
      Object.entries(cells).map(([s, [n, ...d]]) => ({ s, ...(n === null ? {} : { n }), ...(d.length ? { d } : {}) })),
    ),
  );

// Hash 0 falls in 0/1, hash 1 in 1/1.
const replay = { resetId: 'reset-1', token: token({ '0/1': [10, [12, 14]], '1/1': [20] }) };

describe('a replay', () => {
  it('covers exactly the records the token had done at the reset, per slice of the hash space', () => {
    expect([9, 10, 11, 12, 14, 15].map((offset) => isReplayed(replay, 0, offset))).toEqual([
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
    expect([19, 20].map((offset) => isReplayed(replay, 1, offset))).toEqual([true, false]);
    expect(isReplayed(null, 0, 0)).toBe(false);
  });

  it('covers a record without a hash only where every slice had it done', () => {
    expect([9, 10, 12, 19].map((offset) => isReplayedEverywhere(replay, offset))).toEqual([true, false, true, false]);
    expect(isReplayedEverywhere(null, 0)).toBe(false);
  });

  it('is passed once every slice is at or past the highest offset the replay token covered there', () => {
    expect(replayPassed(token({ '0/0': [15] }), replay.token)).toBe(false);
    expect(replayPassed(token({ '0/0': [20] }), replay.token)).toBe(true);
    expect(replayPassed(token({ '0/1': [15], '1/1': [20] }), replay.token)).toBe(true);
    expect(replayPassed(token({ '0/1': [14, [15, 30]], '1/1': [25] }), replay.token)).toBe(false);
    // A finer cell of the current token must be past it too.
    expect(replayPassed(token({ '0/3': [15], '2/3': [12], '1/1': [20] }), replay.token)).toBe(false);
    expect(replayPassed(token({ '0/1': [null], '1/1': [30] }), replay.token)).toBe(false);
  });

  it('of a partition that had nothing done is passed at once', () => {
    expect(replayPassed(PartitionToken.initial(), PartitionToken.initial())).toBe(true);
    expect(replayPassed(token({ '0/1': [null], '1/1': [3] }), token({ '0/1': [null], '1/1': [3] }))).toBe(true);
  });

  it('is read from the item attributes, binary or text, and a bad one is refused naming the partition', () => {
    expect(readReplay(undefined, undefined, 'orders-0')).toBeNull();
    expect(readReplay(replay.token.encode(), 'reset-1', 'orders-0')?.token.serialize()).toBe(replay.token.serialize());
    expect(readReplay(replay.token.serialize(), 'reset-2', 'orders-0')?.resetId).toBe('reset-2');
    expect(() => readReplay(new Uint8Array([9, 9]), 'r', 'orders-3 of "p"')).toThrow(LayoutError);
    expect(() => readReplay(new Uint8Array([9, 9]), 'r', 'orders-3 of "p"')).toThrow(
      /replay token of orders-3 of "p" cannot be read/,
    );
  });
});
