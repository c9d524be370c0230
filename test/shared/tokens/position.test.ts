import { describe, expect, it } from 'vitest';
import {
  advancePosition,
  EMPTY_POSITION,
  meetPositions,
  positionCovers,
  samePosition,
  type Position,
} from '../../../shared/tokens/position.js';

const MAX_RANGES = 100;

const position = (next: number | null, done: Array<[number, number]> = []): Position => ({ next, done });

describe('advancePosition', () => {
  it('sets next past the first batch on EMPTY_POSITION when every record is done', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    const result = advancePosition(start, 10, 20, [], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: { next: 21, done: [] },
      report: { sourceSkipped: [], forgottenRanges: 0 },
    });
  });

  it('leaves EMPTY_POSITION itself untouched', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    advancePosition(start, 10, 20, [12], MAX_RANGES);

    // Assert
    expect(start).toEqual({ next: null, done: [] });
  });

  it('keeps next at the first unfinished offset and records later done offsets as ranges', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    const result = advancePosition(start, 10, 20, [12, 15], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: {
        next: 12,
        done: [
          [13, 14],
          [16, 20],
        ],
      },
      report: { sourceSkipped: [], forgottenRanges: 0 },
    });
  });

  it('folds the ranges into next when a redelivery from the first unfinished offset completes everything', () => {
    // Arrange
    const start = position(12, [
      [13, 14],
      [16, 20],
    ]);

    // Act
    const result = advancePosition(start, 12, 20, [], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: { next: 21, done: [] },
      report: { sourceSkipped: [], forgottenRanges: 0 },
    });
  });

  it('moves next up to the next unfinished offset when a redelivery completes only the first', () => {
    // Arrange
    const start = position(12, [
      [13, 14],
      [16, 20],
    ]);

    // Act
    const result = advancePosition(start, 12, 25, [15], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: { next: 15, done: [[16, 25]] },
      report: { sourceSkipped: [], forgottenRanges: 0 },
    });
  });

  it('keeps next on an unfinished first offset and does not move it for an unfinished last offset', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    const results = [
      advancePosition(start, 10, 20, [10], MAX_RANGES),
      advancePosition(start, 10, 20, [20], MAX_RANGES),
    ];

    // Assert
    expect(results.map((r) => r.position)).toEqual([
      { next: 10, done: [[11, 20]] },
      { next: 20, done: [] },
    ]);
  });

  it('moves next to the start of a batch above it and reports the gap as skipped by the source', () => {
    // Arrange
    const start = position(21);

    // Act
    const result = advancePosition(start, 30, 40, [], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: { next: 41, done: [] },
      report: { sourceSkipped: [[21, 29]], forgottenRanges: 0 },
    });
  });

  it('reports the gap and keeps next at an unfinished first offset of a batch above next', () => {
    // Arrange
    const start = position(21);

    // Act
    const result = advancePosition(start, 30, 40, [30, 35], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: {
        next: 30,
        done: [
          [31, 34],
          [36, 40],
        ],
      },
      report: { sourceSkipped: [[21, 29]], forgottenRanges: 0 },
    });
  });

  it('drops done ranges that fall below a batch above next, which ends next past them', () => {
    // Arrange
    const start = position(12, [
      [13, 14],
      [16, 20],
    ]);

    // Act
    const result = advancePosition(start, 21, 30, [], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: { next: 31, done: [] },
      report: {
        sourceSkipped: [
          [12, 12],
          [15, 15],
        ],
        forgottenRanges: 0,
      },
    });
  });

  it('reports only the offsets below the batch that were not done as skipped by the source', () => {
    // Arrange
    const start = position(10, [[15, 20]]);

    // Act
    const result = advancePosition(start, 25, 30, [], MAX_RANGES);

    // Assert
    expect(result.report.sourceSkipped).toEqual([
      [10, 14],
      [21, 24],
    ]);
  });

  it('changes nothing for a batch entirely below next, even with unfinished records in it', () => {
    // Arrange
    const start = position(21, [[25, 30]]);

    // Act
    const result = advancePosition(start, 5, 15, [8], MAX_RANGES);

    // Assert
    expect(result).toEqual({
      position: { next: 21, done: [[25, 30]] },
      report: { sourceSkipped: [], forgottenRanges: 0 },
    });
  });

  it('counts offsets missing inside a batch as done', () => {
    // Arrange: a compacted slice 10..20 where only offsets 10, 14 and 20 exist and 14 is unfinished
    const start = EMPTY_POSITION;

    // Act
    const result = advancePosition(start, 10, 20, [14], MAX_RANGES);

    // Assert: 11..13 and 15..19 never existed, so they are done with 10 and 20
    expect(result.position).toEqual({ next: 14, done: [[15, 20]] });
    expect([11, 12, 13, 14, 15, 19].map((offset) => positionCovers(result.position, offset))).toEqual([
      true,
      true,
      true,
      false,
      true,
      true,
    ]);
  });

  it('ignores unfinished offsets outside the batch', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    const result = advancePosition(start, 10, 20, [5, 25], MAX_RANGES);

    // Assert
    expect(result.position).toEqual({ next: 21, done: [] });
  });

  it('joins a new range to an existing one it touches', () => {
    // Arrange
    const start = position(12, [[13, 14]]);

    // Act
    const result = advancePosition(start, 12, 18, [12, 17], MAX_RANGES);

    // Assert: 15..16 touches 13..14, 18 stands alone past the unfinished 17
    expect(result.position).toEqual({
      next: 12,
      done: [
        [13, 16],
        [18, 18],
      ],
    });
  });

  it('keeps the lowest ranges at the bound, drops the highest and reports how many it forgot', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    const result = advancePosition(start, 10, 20, [11, 13, 15, 17], 2);

    // Assert
    expect(result).toEqual({
      position: {
        next: 11,
        done: [
          [12, 12],
          [14, 14],
        ],
      },
      report: { sourceSkipped: [], forgottenRanges: 2 },
    });
  });

  it('forgets every range with a bound of zero but still moves next', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    const result = advancePosition(start, 10, 20, [13, 15], 0);

    // Assert
    expect(result).toEqual({
      position: { next: 13, done: [] },
      report: { sourceSkipped: [], forgottenRanges: 2 },
    });
  });

  it('forgets nothing when the ranges fit the bound exactly', () => {
    // Arrange
    const start = EMPTY_POSITION;

    // Act
    const result = advancePosition(start, 10, 20, [11, 13], 2);

    // Assert
    expect(result).toEqual({
      position: {
        next: 11,
        done: [
          [12, 12],
          [14, 20],
        ],
      },
      report: { sourceSkipped: [], forgottenRanges: 0 },
    });
  });
});

describe('positionCovers', () => {
  const start = position(12, [
    [13, 14],
    [16, 20],
  ]);

  it.each([
    [0, true],
    [11, true],
    [12, false],
    [13, true],
    [14, true],
    [15, false],
    [16, true],
    [18, true],
    [20, true],
    [21, false],
    [1000, false],
  ])('says whether offset %i is done: %s', (offset, expected) => {
    // Arrange: the position. Act
    const covered = positionCovers(start, offset);

    // Assert
    expect(covered).toBe(expected);
  });

  it('finds every offset in many ranges and none between them', () => {
    // Arrange
    const many = position(5, [
      [7, 7],
      [9, 10],
      [14, 20],
      [25, 25],
      [30, 31],
    ]);

    // Act
    const covered = Array.from({ length: 40 }, (_, offset) => offset).filter((offset) => positionCovers(many, offset));

    // Assert
    expect(covered).toEqual([0, 1, 2, 3, 4, 7, 9, 10, 14, 15, 16, 17, 18, 19, 20, 25, 30, 31]);
  });

  it('never covers an offset on EMPTY_POSITION', () => {
    // Arrange
    const offsets = [-1, 0, 1, 42, Number.MAX_SAFE_INTEGER];

    // Act
    const covered = offsets.map((offset) => positionCovers(EMPTY_POSITION, offset));

    // Assert
    expect(covered).toEqual([false, false, false, false, false]);
  });
});

describe('samePosition', () => {
  it('compares next and every range', () => {
    // Arrange
    const base = position(12, [
      [13, 14],
      [16, 20],
    ]);
    const others = [
      position(12, [
        [13, 14],
        [16, 20],
      ]),
      position(11, [
        [13, 14],
        [16, 20],
      ]),
      position(12, [[13, 14]]),
      position(12, [
        [13, 14],
        [16, 21],
      ]),
      position(12, [
        [13, 15],
        [16, 20],
      ]),
      position(null, [
        [13, 14],
        [16, 20],
      ]),
    ];

    // Act
    const same = others.map((other) => samePosition(base, other));

    // Assert
    expect(same).toEqual([true, false, false, false, false, false]);
  });

  it('treats EMPTY_POSITION as the same as a fresh empty position only', () => {
    // Arrange
    const others = [position(null), position(0)];

    // Act
    const same = others.map((other) => samePosition(EMPTY_POSITION, other));

    // Assert
    expect(same).toEqual([true, false]);
  });
});

describe('meetPositions', () => {
  it('says done only what both say done: the lower next and the shared parts of the ranges', () => {
    // Arrange
    const a = position(10, [
      [12, 20],
      [30, 31],
    ]);
    const b = position(15, [
      [18, 25],
      [31, 40],
    ]);

    // Act
    const meet = meetPositions(a, b);

    // Assert: a covers ..9, 12..20, 30..31; b covers ..14, 18..25, 31..40
    expect(meet).toEqual({
      next: 10,
      done: [
        [12, 14],
        [18, 20],
        [31, 31],
      ],
    });
  });

  it('moves next up when both did the offsets just above the lower one', () => {
    // Arrange
    const a = position(10, [[11, 30]]);
    const b = position(20);

    // Act
    const meet = meetPositions(a, b);

    // Assert: a covers 0..9 and 11..30, b covers 0..19: both cover 0..9 and 11..19
    expect(meet).toEqual({ next: 10, done: [[11, 19]] });
    expect(meetPositions(position(10, [[10, 30]]), b)).toEqual({ next: 20, done: [] });
  });

  it('is empty when either is empty', () => {
    expect(meetPositions(EMPTY_POSITION, position(5))).toEqual(EMPTY_POSITION);
    expect(meetPositions(position(5, [[7, 9]]), EMPTY_POSITION)).toEqual(EMPTY_POSITION);
  });

  it('never covers an offset one of them does not', () => {
    // Arrange
    const a = position(3, [
      [5, 8],
      [20, 22],
    ]);
    const b = position(7, [
      [9, 21],
      [40, 41],
    ]);

    // Act
    const meet = meetPositions(a, b);

    // Assert
    for (let offset = 0; offset < 50; offset++) {
      expect(positionCovers(meet, offset)).toBe(positionCovers(a, offset) && positionCovers(b, offset));
    }
  });
});
