import { describe, expect, it } from 'vitest';
import { parseSegmentName } from '../../shared/routing/segment.js';
import { joinTokens, positionAt, resetToken } from '../../shared/reset/reset-token.js';
import { PartitionToken } from '../../shared/tokens/token.js';

/** A token from its readable form: `{ "0/1": [next, [[from, to], …]] }`. */
function token(cells: Record<string, [number | null, Array<[number, number]>?]>): PartitionToken {
  return PartitionToken.fromCells(
    Object.entries(cells).map(([name, [next, done = []]]) => ({
      segment: parseSegmentName(name),
      position: { next, done },
    })),
  );
}

const readable = (t: PartitionToken) => JSON.parse(t.serialize()) as unknown;

describe('reset token arithmetic', () => {
  it('moves a position back to handle everything from there again, out-of-order ranges included', () => {
    expect(positionAt({ next: 100, done: [[110, 120]] }, 40)).toEqual({ next: 40, done: [] });
    expect(positionAt({ next: null, done: [] }, 40)).toEqual({ next: 40, done: [] });
  });

  it('moves a position forward keeping the ranges above done, and absorbing one it lands in', () => {
    expect(
      positionAt(
        {
          next: 100,
          done: [
            [110, 120],
            [130, 140],
          ],
        },
        105,
      ),
    ).toEqual({
      next: 105,
      done: [
        [110, 120],
        [130, 140],
      ],
    });
    expect(
      positionAt(
        {
          next: 100,
          done: [
            [110, 120],
            [130, 140],
          ],
        },
        115,
      ),
    ).toEqual({ next: 121, done: [[130, 140]] });
  });

  it('resets only the scoped segment, splitting the coarser cell it lies in, and folds what is equal again', () => {
    const before = token({ '0/1': [500], '1/1': [480] });

    const scoped = resetToken(before, [parseSegmentName('2/3')], () => 100);
    const whole = resetToken(before, null, () => 100);

    expect(readable(scoped.token)).toEqual([
      { s: '1/1', n: 480 },
      { s: '0/3', n: 500 },
      { s: '2/3', n: 100 },
    ]);
    expect(scoped).toMatchObject({ from: 500, to: 100, replay: 400, skip: 0, changed: true });
    expect(readable(whole.token)).toEqual([{ s: '0/0', n: 100 }]);
    expect(whole).toMatchObject({ from: 480, to: 100, replay: 400 });
  });

  it('shifts every cell from its own position, leaving cells never processed alone', () => {
    const shifted = resetToken(token({ '0/1': [500], '1/1': [480] }), null, (p) =>
      p.next === null ? null : p.next - 30,
    );
    const fresh = resetToken(PartitionToken.initial(), null, (p) => (p.next === null ? null : p.next - 30));

    expect(readable(shifted.token)).toEqual([
      { s: '0/1', n: 470 },
      { s: '1/1', n: 450 },
    ]);
    expect(fresh.changed).toBe(false);
  });

  it('joins an earlier replay token with the token at a second reset: what either covered is a replay', () => {
    const earlier = token({ '0/0': [300, [[400, 410]]] });
    const now = token({ '0/1': [350], '1/1': [200, [[250, 260]]] });

    const joined = joinTokens(earlier, now);

    expect(readable(joined)).toEqual([
      { s: '0/1', n: 350, d: [[400, 410]] },
      { s: '1/1', n: 300, d: [[400, 410]] },
    ]);
    expect([joined.covers(0, 349), joined.covers(1, 299), joined.covers(1, 300), joined.covers(1, 405)]).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });
});
