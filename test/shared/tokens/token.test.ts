import { describe, expect, it } from 'vitest';
import { LayoutError } from '../../../shared/errors.js';
import { balancedSegments, MAX_SEGMENTS, type LayoutSegment } from '../../../shared/routing/layout.js';
import { EMPTY_POSITION, positionCovers, type OffsetRange } from '../../../shared/tokens/position.js';
import { parseSegmentName, type Segment } from '../../../shared/routing/segment.js';
import {
  PartitionToken,
  TOKEN_MAX_BYTES,
  type TokenCell,
  type UnfinishedRecord,
} from '../../../shared/tokens/token.js';
import { thrownBy } from '../../support/assertions.js';

const MAX_RANGES = 100;

const seg = (name: string): Segment => parseSegmentName(name);

const cell = (name: string, next: number | null, done: OffsetRange[] = []): TokenCell => ({
  segment: seg(name),
  position: { next, done },
});

/** The live layout of four active segments, as the dispatcher passes it to advance. */
const fourActive = (): LayoutSegment[] => balancedSegments(4).map((s) => ({ ...s, state: 'active' as const }));

/** A cell as "<segment>: <next> <done>", to compare whole tokens independently of what else a segment carries. */
const describeCells = (token: PartitionToken): string[] =>
  token.cells.map(
    ({ segment, position }) =>
      `${segment.id}/${segment.mask}: ${String(position.next)} ${JSON.stringify(position.done)}`,
  );

describe('PartitionToken.initial', () => {
  it('is a single root cell with the empty position', () => {
    // Arrange: nothing. Act
    const token = PartitionToken.initial();

    // Assert
    expect(token.cells).toEqual([{ segment: { id: 0, mask: 0 }, position: { next: null, done: [] } }]);
  });

  it('covers no record', () => {
    // Arrange
    const token = PartitionToken.initial();
    const records: Array<[number, number]> = [
      [0, 0],
      [1, 0],
      [2, 5],
      [-862545276, 100],
      [0x7fffffff, 1_000_000],
    ];

    // Act
    const covered = records.map(([hash, offset]) => token.covers(hash, offset));

    // Assert
    expect(covered).toEqual([false, false, false, false, false]);
  });

  it('has no low watermark', () => {
    // Arrange
    const token = PartitionToken.initial();

    // Act
    const low = token.lowWatermark();

    // Assert
    expect(low).toBeNull();
  });
});

describe('PartitionToken.advance', () => {
  it('folds a batch done in all four segments back into a single root cell', () => {
    // Arrange
    const token = PartitionToken.initial();

    // Act
    const advance = token.advance({ segments: fourActive(), first: 0, last: 9, unfinished: [], maxRanges: MAX_RANGES });

    // Assert
    expect({
      cells: advance.token.cells,
      sourceSkipped: advance.sourceSkipped,
      forgottenRanges: advance.forgottenRanges,
    }).toEqual({
      cells: [{ segment: { id: 0, mask: 0 }, position: { next: 10, done: [] } }],
      sourceSkipped: [],
      forgottenRanges: 0,
    });
  });

  it('keeps the failing segment 2/3 behind, folds 1/3 and 3/3 into 1/1 and leaves 0/3 on its own', () => {
    // Arrange: hash 2 belongs to 2/3
    const token = PartitionToken.initial();

    // Act
    const advance = token.advance({
      segments: fourActive(),
      first: 0,
      last: 9,
      unfinished: [{ offset: 5, hash: 2 }],
      maxRanges: MAX_RANGES,
    });

    // Assert: 0/3 cannot fold with its sibling 2/3, whose position differs
    expect(describeCells(advance.token)).toEqual(['1/1: 10 []', '0/3: 10 []', '2/3: 5 [[6,9]]']);
  });

  it('keeps the failing segment 1/3 behind, folds 0/3 and 2/3 into 0/1 and leaves 3/3 on its own', () => {
    // Arrange: hash 1 belongs to 1/3
    const token = PartitionToken.initial();

    // Act
    const advance = token.advance({
      segments: fourActive(),
      first: 0,
      last: 9,
      unfinished: [{ offset: 5, hash: 1 }],
      maxRanges: MAX_RANGES,
    });

    // Assert
    expect(describeCells(advance.token)).toEqual(['0/1: 10 []', '1/3: 5 [[6,9]]', '3/3: 10 []']);
  });

  it('keeps only id and mask in the cells it refines from live layout segments, so it equals its stored form', () => {
    // Arrange: the dispatcher passes layout segments, which carry a state
    const token = PartitionToken.initial();
    const advanced = token.advance({
      segments: fourActive(),
      first: 0,
      last: 9,
      unfinished: [{ offset: 5, hash: 2 }],
      maxRanges: MAX_RANGES,
    }).token;

    // Act
    const reread = PartitionToken.parse(advanced.serialize());

    // Assert
    expect(advanced.cells).toEqual(reread.cells);
    expect(advanced.cells).toEqual([cell('1/1', 10), cell('0/3', 10), cell('2/3', 5, [[6, 9]])]);
  });

  it('holds back every cell for an unfinished record without a hash', () => {
    // Arrange
    const token = PartitionToken.initial();

    // Act
    const advance = token.advance({
      segments: balancedSegments(4),
      first: 0,
      last: 9,
      unfinished: [{ offset: 5, hash: undefined }],
      maxRanges: MAX_RANGES,
    });

    // Assert: all four cells end equal and fold back into the root
    expect(advance.token.cells).toEqual([cell('0/0', 5, [[6, 9]])]);
  });

  it('sorts the unfinished records of a cell before applying them', () => {
    // Arrange
    const token = PartitionToken.initial();

    // Act
    const advance = token.advance({
      segments: balancedSegments(2),
      first: 10,
      last: 20,
      unfinished: [
        { offset: 15, hash: 0 },
        { offset: 12, hash: 2 },
      ],
      maxRanges: MAX_RANGES,
    });

    // Assert
    expect(advance.token.cells).toEqual([
      cell('0/1', 12, [
        [13, 14],
        [16, 20],
      ]),
      cell('1/1', 21),
    ]);
  });

  it('reports the offsets the source skipped, per cell', () => {
    // Arrange
    const token = PartitionToken.fromCells([cell('0/1', 5), cell('1/1', 10)]);

    // Act
    const advance = token.advance({
      segments: balancedSegments(2),
      first: 10,
      last: 12,
      unfinished: [],
      maxRanges: MAX_RANGES,
    });

    // Assert
    expect({ cells: advance.token.cells, sourceSkipped: advance.sourceSkipped }).toEqual({
      cells: [cell('0/0', 13)],
      sourceSkipped: [{ segment: { id: 0, mask: 1 }, ranges: [[5, 9]] }],
    });
  });

  it('adds up the ranges every cell forgot at the bound', () => {
    // Arrange: hash 0 → 0/1, hash 1 → 1/1
    const token = PartitionToken.initial();

    // Act
    const advance = token.advance({
      segments: balancedSegments(2),
      first: 10,
      last: 20,
      unfinished: [
        { offset: 11, hash: 0 },
        { offset: 13, hash: 0 },
        { offset: 15, hash: 0 },
        { offset: 12, hash: 1 },
        { offset: 14, hash: 1 },
      ],
      maxRanges: 1,
    });

    // Assert: 0/1 had [12], [14], [16..20] and keeps one; 1/1 had [13], [15..20] and keeps one
    expect({ cells: advance.token.cells, forgottenRanges: advance.forgottenRanges }).toEqual({
      cells: [cell('0/1', 11, [[12, 12]]), cell('1/1', 12, [[13, 13]])],
      forgottenRanges: 3,
    });
  });

  it('leaves the token it was called on unchanged', () => {
    // Arrange
    const token = PartitionToken.fromCells([cell('0/1', 5), cell('1/1', 10)]);

    // Act
    token.advance({ segments: balancedSegments(4), first: 5, last: 20, unfinished: [], maxRanges: MAX_RANGES });

    // Assert
    expect(token.cells).toEqual([cell('0/1', 5), cell('1/1', 10)]);
  });
});

describe('PartitionToken.covers', () => {
  const behind = PartitionToken.fromCells([cell('1/1', 10), cell('0/3', 10), cell('2/3', 5, [[6, 9]])]);

  it.each([
    [2, 5, false],
    [6, 5, false],
    [-2, 5, false],
    [2, 6, true],
    [2, 9, true],
    [2, 10, false],
    [0, 5, true],
    [4, 9, true],
    [0, 10, false],
    [1, 5, true],
    [3, 9, true],
    [-1, 9, true],
    [-1, 10, false],
    [-862545276, 9, true],
  ])('looks up hash %i at offset %i in its own cell: %s', (hash, offset, expected) => {
    // Arrange: the token. Act
    const covered = behind.covers(hash, offset);

    // Assert
    expect(covered).toBe(expected);
  });

  it('returns the position of the cell a hash falls in', () => {
    // Arrange: 2 and -2 fall in 2/3, 0 and 4 in 0/3, 1 and -1 in 1/1
    const hashes = [2, -2, 0, 4, 1, -1];

    // Act
    const positions = hashes.map((hash) => behind.positionFor(hash));

    // Assert
    expect(positions).toEqual([
      { next: 5, done: [[6, 9]] },
      { next: 5, done: [[6, 9]] },
      { next: 10, done: [] },
      { next: 10, done: [] },
      { next: 10, done: [] },
      { next: 10, done: [] },
    ]);
  });
});

describe('PartitionToken serialize and parse', () => {
  it('writes the compact form, leaving out an empty next and empty ranges', () => {
    // Arrange
    const token = PartitionToken.fromCells([cell('1/1', 10), cell('0/3', null), cell('2/3', 5, [[6, 9]])]);

    // Act
    const text = token.serialize();

    // Assert
    expect(text).toBe('[{"s":"1/1","n":10},{"s":"0/3"},{"s":"2/3","n":5,"d":[[6,9]]}]');
  });

  it.each([
    ['the initial token', PartitionToken.initial()],
    ['a single cell', PartitionToken.fromCells([cell('0/0', 42)])],
    [
      'a mixed-depth token',
      PartitionToken.fromCells([
        cell('1/1', 10),
        cell('0/3', null),
        cell('2/7', 5, [[6, 9]]),
        cell('6/7', 3, [
          [5, 5],
          [8, 12],
        ]),
      ]),
    ],
  ])('reads back %s equal to what was written', (_, token) => {
    // Arrange: the token. Act
    const reread = PartitionToken.parse(token.serialize());

    // Assert
    expect(reread.cells).toEqual(token.cells);
  });

  it.each([
    ['not json', 'stored token is not valid JSON'],
    ['{"s":"0/0"}', 'stored token is not a list of cells'],
    ['[]', 'token has no segments'],
    ['[{"s":"0/1","n":5}]', 'token has a gap: its segments cover 0.500000 of the hash space, not all of it'],
    ['[{"s":"0/0"},{"s":"0/1"}]', 'token overlaps: segments 0/0 and 0/1 share hashes'],
    ['[{"s":"abc"}]', 'invalid segment "abc": expected "<id>/<mask>", e.g. "2/3"'],
    ['[{"n":5}]', 'invalid segment "undefined": expected "<id>/<mask>", e.g. "2/3"'],
    ['[{"s":"0/0","n":"x"}]', 'stored token cell 0/0 has a bad next offset'],
    ['[{"s":"0/0","n":1.5}]', 'stored token cell 0/0 has a bad next offset'],
  ])('rejects %j with a LayoutError', (text, message) => {
    // Arrange: the text. Act
    const error = thrownBy(() => PartitionToken.parse(text));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(message);
  });

  it('keeps the JSON error as the cause of an invalid-JSON rejection', () => {
    // Arrange
    const text = '[{"s":';

    // Act
    const error = thrownBy(() => PartitionToken.parse(text));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).cause).toBeInstanceOf(SyntaxError);
  });
});

describe('PartitionToken.fromCells', () => {
  it('rejects cells that leave a gap', () => {
    // Arrange
    const cells = [cell('1/1', 10), cell('0/3', 10)];

    // Act
    const error = thrownBy(() => PartitionToken.fromCells(cells));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      'token has a gap: its segments cover 0.750000 of the hash space, not all of it',
    );
  });
});

describe('a token read and advanced across a split', () => {
  // Written under [0/1, 1/1]: 0/1 is behind at 5 with 7..9 done out of order.
  const written = () => PartitionToken.fromCells([cell('0/1', 5, [[7, 9]]), cell('1/1', 10)]);
  const afterSplit = [seg('0/3'), seg('2/3'), seg('1/1')];

  it("lets the hashes of both new halves 0/3 and 2/3 read 0/1's position", () => {
    // Arrange
    const token = written();

    // Act
    const positions = [token.positionFor(0), token.positionFor(2), token.positionFor(1)];

    // Assert
    expect(positions).toEqual([
      { next: 5, done: [[7, 9]] },
      { next: 5, done: [[7, 9]] },
      { next: 10, done: [] },
    ]);
  });

  it('covers the same offsets for a hash of 0/3 and a hash of 2/3', () => {
    // Arrange
    const token = written();
    const offsets = [4, 5, 6, 7, 9, 10];

    // Act
    const covered = [0, 2].map((hash) => offsets.map((offset) => token.covers(hash, offset)));

    // Assert
    expect(covered).toEqual([
      [true, false, false, true, true, false],
      [true, false, false, true, true, false],
    ]);
  });

  it('refines the parent cell into the new halves when advancing under the new layout', () => {
    // Arrange: the record at 6 with hash 2 (in 2/3) is unfinished
    const token = written();

    // Act
    const advance = token.advance({
      segments: afterSplit,
      first: 5,
      last: 12,
      unfinished: [{ offset: 6, hash: 2 }],
      maxRanges: MAX_RANGES,
    });

    // Assert
    expect(advance.token.cells).toEqual([cell('1/1', 13), cell('0/3', 13), cell('2/3', 6, [[7, 12]])]);
  });

  it('folds the halves and then the whole token back into the root once 2/3 catches up', () => {
    // Arrange
    const refined = written().advance({
      segments: afterSplit,
      first: 5,
      last: 12,
      unfinished: [{ offset: 6, hash: 2 }],
      maxRanges: MAX_RANGES,
    }).token;

    // Act
    const advance = refined.advance({
      segments: afterSplit,
      first: 6,
      last: 12,
      unfinished: [],
      maxRanges: MAX_RANGES,
    });

    // Assert
    expect(advance.token.cells).toEqual([cell('0/0', 13)]);
  });
});

describe('a token advanced across a merge, without handling records again', () => {
  // Written under [0/1, 1/1]: 0/1 is at 100, 1/1 already at 200.
  const written = () => PartitionToken.fromCells([cell('0/1', 100), cell('1/1', 200)]);
  const merged = [seg('0/0')];

  it('says which redelivered records are already done before advancing', () => {
    // Arrange: hash 1 and 3 fall in 1/1, hash 0 and 2 in 0/1
    const token = written();
    const records: Array<[number, number]> = [
      [1, 150],
      [3, 199],
      [3, 200],
      [0, 150],
      [2, 99],
      [2, 100],
    ];

    // Act
    const covered = records.map(([hash, offset]) => token.covers(hash, offset));

    // Assert
    expect(covered).toEqual([true, true, false, false, true, false]);
  });

  it('ends as a single root cell at 251 when the whole batch 100..250 is done', () => {
    // Arrange
    const token = written();

    // Act
    const advance = token.advance({ segments: merged, first: 100, last: 250, unfinished: [], maxRanges: MAX_RANGES });

    // Assert
    expect({ cells: advance.token.cells, sourceSkipped: advance.sourceSkipped }).toEqual({
      cells: [cell('0/0', 251)],
      sourceSkipped: [],
    });
  });

  it('keeps the halves apart while one of them is still behind', () => {
    // Arrange
    const token = written();

    // Act
    const advance = token.advance({
      segments: merged,
      first: 100,
      last: 250,
      unfinished: [{ offset: 120, hash: 0 }],
      maxRanges: MAX_RANGES,
    });

    // Assert
    expect(advance.token.cells).toEqual([cell('0/1', 120, [[121, 250]]), cell('1/1', 251)]);
  });
});

describe('PartitionToken.lowWatermark', () => {
  it.each([
    ['the lowest next of any cell', [cell('1/1', 10), cell('0/3', 7), cell('2/3', 9, [[11, 12]])], 7],
    ['the next of a cell when the others have none yet', [cell('0/1', null), cell('1/1', 42)], 42],
    ['null when no cell has a next', [cell('0/1', null), cell('1/1', null)], null],
    ['zero when a cell waits for offset 0', [cell('0/1', 0), cell('1/1', 5)], 0],
  ])('is %s', (_, cells, expected) => {
    // Arrange
    const token = PartitionToken.fromCells(cells);

    // Act
    const low = token.lowWatermark();

    // Assert
    expect(low).toBe(expected);
  });
});

describe('PartitionToken.cellsOverlapping', () => {
  const token = PartitionToken.fromCells([cell('1/1', 10), cell('0/3', 10), cell('2/3', 5, [[6, 9]])]);

  it.each([
    ['0/0', [cell('1/1', 10), cell('0/3', 10), cell('2/3', 5, [[6, 9]])]],
    ['0/1', [cell('0/3', 10), cell('2/3', 5, [[6, 9]])]],
    ['2/3', [cell('2/3', 5, [[6, 9]])]],
    ['6/7', [cell('2/3', 5, [[6, 9]])]],
    ['3/3', [cell('1/1', 10)]],
    ['1/1', [cell('1/1', 10)]],
  ])('returns the cells that share hashes with %s', (name, expected) => {
    // Arrange: the token. Act
    const cells = token.cellsOverlapping(seg(name));

    // Assert
    expect(cells).toEqual(expected);
  });
});

describe('EMPTY_POSITION in a token', () => {
  it('is what a fresh token reads for any hash', () => {
    // Arrange
    const token = PartitionToken.initial();

    // Act
    const positions = [0, 1, -1].map((hash) => token.positionFor(hash));

    // Assert
    expect(positions).toEqual([EMPTY_POSITION, EMPTY_POSITION, EMPTY_POSITION]);
  });
});

describe('PartitionToken encode and decode (the stored binary form)', () => {
  it.each([
    ['the initial token', PartitionToken.initial()],
    ['a single cell', PartitionToken.fromCells([cell('0/0', 42)])],
    ['a cell at the largest safe offset', PartitionToken.fromCells([cell('0/0', Number.MAX_SAFE_INTEGER)])],
    [
      'a mixed-depth token',
      PartitionToken.fromCells([
        cell('1/1', 10),
        cell('0/3', null),
        cell('2/7', 5, [[6, 9]]),
        cell('6/7', 3, [
          [5, 5],
          [8, 12],
        ]),
      ]),
    ],
    [
      'offsets far apart',
      PartitionToken.fromCells([
        cell('0/1', 0, [[2, 2 ** 40]]),
        cell('1/1', Number.MAX_SAFE_INTEGER - 10, [[Number.MAX_SAFE_INTEGER - 5, Number.MAX_SAFE_INTEGER - 1]]),
      ]),
    ],
  ])('reads back %s equal to what was written, also through read()', (_, token) => {
    // Arrange: the token. Act
    const bytes = token.encode();

    // Assert
    expect(bytes).toHaveLength(token.encodedSize());
    expect(PartitionToken.decode(bytes).cells).toEqual(token.cells);
    expect(PartitionToken.read(bytes).cells).toEqual(token.cells);
  });

  it('still reads the JSON form items written before the binary form hold', () => {
    // Arrange
    const text = '[{"s":"1/1","n":10},{"s":"0/3"},{"s":"2/3","n":5,"d":[[6,9]]}]';

    // Act
    const token = PartitionToken.read(text);

    // Assert
    expect(token.cells).toEqual([cell('1/1', 10), cell('0/3', null), cell('2/3', 5, [[6, 9]])]);
  });

  it('takes a few bytes in steady state instead of about 20', () => {
    // Arrange
    const token = PartitionToken.fromCells([cell('0/0', 1_234_567_890)]);

    // Act / Assert: format, count, base (5 bytes), cell head, next above base
    expect(token.encode()).toHaveLength(9);
    expect(token.serialize().length).toBeGreaterThan(20);
  });

  it.each([
    ['an unknown format', new Uint8Array([2, 1, 0, 0, 0]), 'stored token has unknown format 2'],
    ['no bytes', new Uint8Array([]), 'stored token ends early'],
    ['a cut cell', new Uint8Array([1, 2, 0, 1, 0]), 'stored token ends early'],
    ['bytes past the last cell', new Uint8Array([1, 1, 0, 0, 0, 7]), 'stored token has bytes past its last cell'],
    ['a gap', new Uint8Array([1, 1, 0, 1, 0]), 'stored token ends before its segments cover the hash space'],
    ['no cells', new Uint8Array([1, 0, 0]), 'stored token has a bad cell count 0'],
  ])('rejects %s with a LayoutError', (_, bytes, message) => {
    // Arrange: the bytes. Act
    const error = thrownBy(() => PartitionToken.decode(bytes));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(message);
  });

  it('rejects a stored value that is neither binary nor text', () => {
    expect(() => PartitionToken.read(42)).toThrow('stored token is neither binary nor text (number)');
  });
});

/**
 * One batch `[0, cells * 2 * blockedPerCell - 1]` over `cells` live segments in which every cell has a blocked key:
 * offset o has hash o % (2 * cells), and hashes below `cells` are the blocked keys, so every other record of a cell
 * is unfinished and the records between them are done out of order: `blockedPerCell` ranges per cell.
 */
function blockedBatch(cells: number, blockedPerCell: number) {
  const segments = balancedSegments(cells).map((s) => ({ ...s, state: 'active' as const }));
  const last = cells * 2 * blockedPerCell - 1;
  const unfinished: UnfinishedRecord[] = [];
  for (let offset = 0; offset <= last; offset++) {
    const hash = offset % (2 * cells);
    if (hash < cells) unfinished.push({ offset, hash });
  }
  return { segments, first: 0, last, unfinished, maxRanges: 200 };
}

describe('the byte bound of a token', () => {
  it('is 32 KB', () => {
    expect(TOKEN_MAX_BYTES).toBe(32 * 1024);
  });

  it('keeps 256 cells of 200 ranges each (over 400 KB as JSON before) under the bound, forgetting the highest ranges', () => {
    // Arrange: 256 cells, each with a blocked key and 200 ranges done above it
    const batch = blockedBatch(256, 200);
    const unbounded = PartitionToken.initial().advance({ ...batch, maxBytes: Number.MAX_SAFE_INTEGER });

    // Act
    const advance = PartitionToken.initial().advance(batch);

    // Assert: it fits, it forgot ranges, and only the highest ones
    expect(unbounded.token.serialize().length).toBeGreaterThan(400 * 1024);
    expect(unbounded.forgottenRanges).toBe(0);
    expect(advance.token.encodedSize()).toBeLessThanOrEqual(TOKEN_MAX_BYTES);
    expect(advance.forgottenRanges).toBeGreaterThan(0);
    expect(advance.mergedCells).toBe(0);
    const keptFroms = advance.token.cells.flatMap((c) => c.position.done.map(([from]) => from));
    const allFroms = unbounded.token.cells.flatMap((c) => c.position.done.map(([from]) => from));
    const kept = new Set(keptFroms);
    const lowestForgotten = Math.min(...allFroms.filter((from) => !kept.has(from)));
    expect(Math.max(...keptFroms)).toBeLessThan(lowestForgotten);
    expect(allFroms.length - keptFroms.length).toBe(advance.forgottenRanges);
    // Never covers a record the unbounded token does not, and keeps every cell's next
    expect(advance.token.cells.map((c) => c.position.next)).toEqual(unbounded.token.cells.map((c) => c.position.next));
    for (let offset = 0; offset <= batch.last; offset += 7) {
      for (const hash of [0, 1, 255, 300, 511]) {
        if (advance.token.covers(hash, offset)) expect(unbounded.token.covers(hash, offset)).toBe(true);
      }
    }
  });

  it('takes a smaller bound when given one', () => {
    // Arrange
    const token = PartitionToken.initial().advance(blockedBatch(16, 50)).token;

    // Act
    const bounded = token.bounded(200);

    // Assert
    expect(token.encodedSize()).toBeGreaterThan(200);
    expect(bounded.token.encodedSize()).toBeLessThanOrEqual(200);
    expect(bounded.forgottenRanges).toBeGreaterThan(0);
  });

  it('fits the cells alone at 1,024 segments in the worst case: offsets as far apart as they can be', () => {
    // Arrange: one cell at 0, the others near 2^53, so each next takes the longest varint (8 bytes)
    const segments = balancedSegments(1_024);
    const cells = segments.map((segment, i) => ({
      segment,
      position: { next: i === 0 ? 0 : Number.MAX_SAFE_INTEGER - i, done: [] },
    }));

    // Act
    const size = PartitionToken.fromCells(cells).encodedSize();

    // Assert: format, count (2), base (1), then a head byte and at most 8 bytes per cell
    expect(size).toBe(4 + 1 + 1 + 1_023 * 9);
    expect(size).toBeLessThan(TOKEN_MAX_BYTES / 3);
  });

  it(`fits the cells alone at MAX_SEGMENTS (${MAX_SEGMENTS}) in the worst case`, () => {
    // Arrange
    const cells = balancedSegments(MAX_SEGMENTS).map((segment, i) => ({
      segment,
      position: { next: i === 0 ? 0 : Number.MAX_SAFE_INTEGER - i, done: [] },
    }));

    // Act
    const advance = PartitionToken.fromCells(cells).bounded(TOKEN_MAX_BYTES);

    // Assert
    expect(advance.token.encodedSize()).toBeLessThanOrEqual(4 + 2 + MAX_SEGMENTS * 9);
    expect(advance.mergedCells).toBe(0);
  });

  it('merges the deepest cells at the offsets both did when the cells alone pass the bound', () => {
    // Arrange: 4,096 cells (finer than any live layout may be) with far-apart offsets: 36 KB of cells
    const cells = balancedSegments(2_048)
      .flatMap((s) => [
        { id: s.id, mask: (s.mask << 1) | 1 },
        { id: s.id + s.mask + 1, mask: (s.mask << 1) | 1 },
      ])
      .map((segment, i) => ({
        segment,
        position: {
          next: i === 0 ? 0 : Number.MAX_SAFE_INTEGER - 1_000 - i,
          done: [[Number.MAX_SAFE_INTEGER - 10, Number.MAX_SAFE_INTEGER - 9]] as OffsetRange[],
        },
      }));
    const token = PartitionToken.fromCells(cells);

    // Act
    const bounded = token.bounded(TOKEN_MAX_BYTES);

    // Assert
    expect(token.encodedSize()).toBeGreaterThan(TOKEN_MAX_BYTES);
    expect(bounded.token.encodedSize()).toBeLessThanOrEqual(TOKEN_MAX_BYTES);
    expect(bounded.mergedCells).toBeGreaterThan(0);
    expect(bounded.forgottenRanges).toBe(4_096);
    for (const hash of [0, 1, 2, 4_095, 123_456, -1]) {
      const position = bounded.token.positionFor(hash);
      for (const offset of [0, 1, Number.MAX_SAFE_INTEGER - 3_000, Number.MAX_SAFE_INTEGER - 10]) {
        if (positionCovers(position, offset)) expect(token.covers(hash, offset)).toBe(true);
      }
    }
  });

  it('keeps a token with keys blocked in every one of 1,024 cells under the bound, every cell kept', () => {
    // Arrange: 409,600 records, 200 blocked in each cell with done ranges between them
    const batch = blockedBatch(1_024, 200);

    // Act
    const advance = PartitionToken.initial().advance(batch);

    // Assert
    expect(advance.token.cells).toHaveLength(1_024);
    expect(advance.token.encodedSize()).toBeLessThanOrEqual(TOKEN_MAX_BYTES);
    expect(advance.token.cells.every((c) => c.position.next !== null && c.position.next < 1_024)).toBe(true);
    expect(advance.mergedCells).toBe(0);
  });
});
