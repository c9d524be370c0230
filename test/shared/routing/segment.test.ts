import { describe, expect, it } from 'vitest';
import { LayoutError } from '../../../shared/errors.js';
import {
  assertSegment,
  MAX_SEGMENT_DEPTH,
  mergeSegments,
  parentOf,
  parseSegmentName,
  ROOT_SEGMENT,
  sameSegment,
  segmentContains,
  segmentDepth,
  segmentMatches,
  segmentName,
  segmentsOverlap,
  siblingOf,
  splitSegment,
  type Segment,
} from '../../../shared/routing/segment.js';
import { thrownBy } from '../../support/assertions.js';

const seg = (id: number, mask: number): Segment => ({ id, mask });

describe("Axon's worked example", () => {
  it('splits the root 0/0 into 0/1 and 1/1', () => {
    // Arrange
    const root = seg(0, 0);

    // Act
    const halves = splitSegment(root);

    // Assert
    expect(halves).toEqual([seg(0, 1), seg(1, 1)]);
  });

  it('splits 0/1 into 0/3 and 2/3', () => {
    // Arrange
    const segment = seg(0, 1);

    // Act
    const halves = splitSegment(segment);

    // Assert
    expect(halves).toEqual([seg(0, 3), seg(2, 3)]);
  });

  it('splits 2/3 into 2/7 and 6/7', () => {
    // Arrange
    const segment = seg(2, 3);

    // Act
    const halves = splitSegment(segment);

    // Assert
    expect(halves).toEqual([seg(2, 7), seg(6, 7)]);
  });

  it('names 2/7 as the merge partner of 6/7 and 6/7 as the partner of 2/7', () => {
    // Arrange
    const right = seg(6, 7);
    const left = seg(2, 7);

    // Act
    const partners = [siblingOf(right), siblingOf(left)];

    // Assert
    expect(partners).toEqual([seg(2, 7), seg(6, 7)]);
  });

  it('merges 6/7 with 2/7 back into 2/3, in either order', () => {
    // Arrange
    const right = seg(6, 7);
    const left = seg(2, 7);

    // Act
    const merged = [mergeSegments(right, left), mergeSegments(left, right)];

    // Assert
    expect(merged).toEqual([seg(2, 3), seg(2, 3)]);
  });

  it('splits 1/1 into 1/3 and 3/3, putting the new high bit on the second half', () => {
    // Arrange
    const segment = seg(1, 1);

    // Act
    const halves = splitSegment(segment);

    // Assert
    expect(halves).toEqual([seg(1, 3), seg(3, 3)]);
  });
});

describe('parentOf', () => {
  it.each([
    [seg(0, 1), seg(0, 0)],
    [seg(1, 1), seg(0, 0)],
    [seg(0, 3), seg(0, 1)],
    [seg(2, 3), seg(0, 1)],
    [seg(3, 3), seg(1, 1)],
    [seg(2, 7), seg(2, 3)],
    [seg(6, 7), seg(2, 3)],
    [seg(5, 7), seg(1, 3)],
  ])('returns the segment %o was split from: %o', (child, expected) => {
    // Arrange: the child. Act
    const parent = parentOf(child);

    // Assert
    expect(parent).toEqual(expected);
  });

  it('undoes a split for both halves', () => {
    // Arrange
    const segment = seg(5, 7);
    const halves = splitSegment(segment);

    // Act
    const parents = halves.map(parentOf);

    // Assert
    expect(parents).toEqual([seg(5, 7), seg(5, 7)]);
  });

  it('rejects the root, which has no parent', () => {
    // Arrange
    const root = ROOT_SEGMENT;

    // Act
    const error = thrownBy(() => parentOf(root));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('the root segment 0/0 has no parent');
  });
});

describe('segmentMatches', () => {
  // Expected ids worked out by hand from two's complement: -x = ~x + 1, so the low bits of -x are the low bits
  // of (~x + 1). 862545276 = 8 * 107818159 + 4 (low bits 100), ~ gives 011, + 1 gives 100: id 4 under mask 7.
  it.each([
    [0, seg(0, 0)],
    [0, seg(0, 7)],
    [1, seg(1, 1)],
    [2, seg(2, 3)],
    [6, seg(6, 7)],
    [13, seg(5, 7)],
    [-1, seg(7, 7)],
    [-1, seg(1, 1)],
    [-5, seg(3, 3)],
    [-6, seg(2, 7)],
    [-862545276, seg(4, 7)],
    [-862545276, seg(0, 3)],
    [-2147483648, seg(0, 65535)],
    [0x7fffffff, seg(65535, 65535)],
    // -2147483055 = -2^31 + 593 and 593 = 0x251: the low nibble is 1.
    [-2147483055, seg(1, 15)],
  ])('places hash %i in segment %o', (hash, segment) => {
    // Arrange: the hash and its segment. Act
    const matches = segmentMatches(segment, hash);

    // Assert
    expect(matches).toBe(true);
  });

  it('places -862545276 in 4/7 and in no other segment of depth 3', () => {
    // Arrange
    const depthThree = [0, 1, 2, 3, 4, 5, 6, 7].map((id) => seg(id, 7));

    // Act
    const matching = depthThree.filter((segment) => segmentMatches(segment, -862545276));

    // Assert
    expect(matching).toEqual([seg(4, 7)]);
  });

  it('places every hash in the root', () => {
    // Arrange
    const hashes = [0, 1, -1, 12345, -862545276, 0x7fffffff, -2147483648];

    // Act
    const matches = hashes.map((hash) => segmentMatches(ROOT_SEGMENT, hash));

    // Assert
    expect(matches).toEqual([true, true, true, true, true, true, true]);
  });

  it('places a hash in exactly one half of a split', () => {
    // Arrange
    const hashes = [0, 1, 2, 3, 6, -1, -6, -862545276, 0x7fffffff, -2147483648];
    const [left, right] = splitSegment(seg(2, 3));

    // Act
    const sides = hashes
      .filter((hash) => segmentMatches(seg(2, 3), hash))
      .map((hash) => [hash, segmentMatches(left, hash), segmentMatches(right, hash)]);

    // Assert: the hashes of 2/3 are 2 (…010), 6 (…110) and -6 (…11010); by their third bit 2 and -6 go to 2/7, 6 to 6/7
    expect(sides).toEqual([
      [2, true, false],
      [6, false, true],
      [-6, true, false],
    ]);
  });

  it('leaves a hash out of segments whose id differs in the masked bits', () => {
    // Arrange
    const cases: Array<[number, Segment]> = [
      [1, seg(0, 1)],
      [2, seg(0, 3)],
      [-862545276, seg(0, 7)],
      [-1, seg(0, 1)],
      [0x7fffffff, seg(0, 1)],
    ];

    // Act
    const matches = cases.map(([hash, segment]) => segmentMatches(segment, hash));

    // Assert
    expect(matches).toEqual([false, false, false, false, false]);
  });
});

describe('segmentContains', () => {
  it.each([
    [seg(0, 0), seg(6, 7), true],
    [seg(0, 1), seg(2, 3), true],
    [seg(0, 1), seg(6, 7), true],
    [seg(2, 3), seg(6, 7), true],
    [seg(2, 3), seg(2, 3), true],
    [seg(1, 1), seg(2, 3), false],
    [seg(0, 3), seg(6, 7), false],
    [seg(2, 3), seg(0, 1), false],
    [seg(6, 7), seg(0, 0), false],
  ])('says whether %o contains %o: %s', (outer, inner, expected) => {
    // Arrange: the two segments. Act
    const contains = segmentContains(outer, inner);

    // Assert
    expect(contains).toBe(expected);
  });
});

describe('segmentsOverlap', () => {
  it.each([
    [seg(0, 0), seg(5, 7), true],
    [seg(0, 1), seg(2, 3), true],
    [seg(2, 3), seg(0, 1), true],
    [seg(2, 3), seg(6, 7), true],
    [seg(0, 3), seg(4, 7), true],
    [seg(1, 1), seg(1, 1), true],
    [seg(0, 1), seg(1, 1), false],
    [seg(0, 1), seg(1, 3), false],
    [seg(2, 3), seg(0, 3), false],
    [seg(2, 7), seg(6, 7), false],
    [seg(6, 7), seg(1, 1), false],
  ])('says whether %o and %o share hashes: %s', (a, b, expected) => {
    // Arrange: the two segments. Act
    const both = [segmentsOverlap(a, b), segmentsOverlap(b, a)];

    // Assert: overlap is symmetric
    expect(both).toEqual([expected, expected]);
  });
});

describe('segmentDepth', () => {
  it('counts the splits from the root', () => {
    // Arrange
    const segments = [seg(0, 0), seg(1, 1), seg(2, 3), seg(6, 7), seg(9, 15), seg(0, 65535)];

    // Act
    const depths = segments.map(segmentDepth);

    // Assert
    expect(depths).toEqual([0, 1, 2, 3, 4, 16]);
  });
});

describe('segmentName and parseSegmentName', () => {
  it('names segments "<id>/<mask>"', () => {
    // Arrange
    const segments = [seg(0, 0), seg(1, 1), seg(2, 3), seg(6, 7), seg(65535, 65535)];

    // Act
    const names = segments.map(segmentName);

    // Assert
    expect(names).toEqual(['0/0', '1/1', '2/3', '6/7', '65535/65535']);
  });

  it('parses every name back to the segment it names', () => {
    // Arrange
    const segments = [seg(0, 0), seg(1, 1), seg(2, 3), seg(6, 7), seg(9, 15), seg(65535, 65535)];

    // Act
    const roundTripped = segments.map((segment) => parseSegmentName(segmentName(segment)));

    // Assert
    expect(roundTripped).toEqual(segments);
  });

  it('trims whitespace around a name', () => {
    // Arrange
    const text = '  2/3\n';

    // Act
    const segment = parseSegmentName(text);

    // Assert
    expect(segment).toEqual(seg(2, 3));
  });

  it.each(['abc', '', '2/', '/3', '2-3', '-1/1', '1.5/3', '2/3/7'])('rejects %j, naming the text', (text) => {
    // Arrange: the text. Act
    const error = thrownBy(() => parseSegmentName(text));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(`invalid segment "${text}": expected "<id>/<mask>", e.g. "2/3"`);
  });

  it('rejects a well-formed name whose mask is not 2^d-1', () => {
    // Arrange
    const text = '1/5';

    // Act
    const error = thrownBy(() => parseSegmentName(text));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toContain('invalid segment id=1 mask=5');
  });

  it('rejects a well-formed name whose id lies outside the mask', () => {
    // Arrange
    const text = '4/3';

    // Act
    const error = thrownBy(() => parseSegmentName(text));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toContain('invalid segment id=4 mask=3');
  });
});

describe('sameSegment', () => {
  it('compares id and mask', () => {
    // Arrange
    const pairs: Array<[Segment, Segment]> = [
      [seg(2, 3), seg(2, 3)],
      [seg(2, 3), seg(2, 7)],
      [seg(2, 3), seg(0, 3)],
    ];

    // Act
    const results = pairs.map(([a, b]) => sameSegment(a, b));

    // Assert
    expect(results).toEqual([true, false, false]);
  });
});

describe('errors', () => {
  it('refuses to split a segment at MAX_SEGMENT_DEPTH', () => {
    // Arrange
    const deepest = seg(7, 2 ** MAX_SEGMENT_DEPTH - 1);

    // Act
    const error = thrownBy(() => splitSegment(deepest));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      `segment 7/65535 is at the maximum depth ${MAX_SEGMENT_DEPTH} and cannot be split further`,
    );
  });

  it('splits a segment one level above MAX_SEGMENT_DEPTH into two segments at the maximum depth', () => {
    // Arrange
    const segment = seg(7, 2 ** (MAX_SEGMENT_DEPTH - 1) - 1);

    // Act
    const halves = splitSegment(segment);

    // Assert
    expect(halves).toEqual([seg(7, 65535), seg(7 + 32768, 65535)]);
  });

  it('refuses a sibling for the root', () => {
    // Arrange
    const root = seg(0, 0);

    // Act
    const error = thrownBy(() => siblingOf(root));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('the root segment 0/0 has no sibling to merge with');
  });

  it.each([
    [seg(0, 3), seg(1, 3)],
    [seg(0, 1), seg(0, 3)],
    [seg(2, 3), seg(6, 7)],
    [seg(2, 7), seg(2, 7)],
    [seg(0, 0), seg(0, 0)],
  ])('refuses to merge %o with %o, which are not siblings', (a, b) => {
    // Arrange: the two segments. Act
    const error = thrownBy(() => mergeSegments(a, b));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      `segments ${segmentName(a)} and ${segmentName(b)} are not siblings and cannot be merged`,
    );
  });

  it.each([seg(1, 5), seg(0, 2), seg(0, 6), seg(0, -1), seg(0, 2 ** (MAX_SEGMENT_DEPTH + 1) - 1), seg(0, 1.5)])(
    'rejects the invalid mask of %o',
    (segment) => {
      // Arrange: the segment. Act
      const errors = [
        thrownBy(() => assertSegment(segment)),
        thrownBy(() => splitSegment(segment)),
        thrownBy(() => siblingOf(segment)),
        thrownBy(() => parentOf(segment)),
      ];

      // Assert
      const message = `invalid segment id=${segment.id} mask=${segment.mask}: the mask must be 2^d-1 with d <= ${MAX_SEGMENT_DEPTH} and the id within the mask`;
      expect(errors.map((error) => [error instanceof LayoutError, (error as Error).message])).toEqual([
        [true, message],
        [true, message],
        [true, message],
        [true, message],
      ]);
    },
  );

  it.each([seg(4, 3), seg(2, 1), seg(1, 0), seg(-1, 1), seg(0.5, 1)])(
    'rejects %o, whose id lies outside its mask',
    (segment) => {
      // Arrange: the segment. Act
      const error = thrownBy(() => assertSegment(segment));

      // Assert
      expect(error).toBeInstanceOf(LayoutError);
      expect((error as LayoutError).message).toContain(`invalid segment id=${segment.id} mask=${segment.mask}`);
      expect((error as LayoutError).context).toEqual({ segment });
    },
  );

  it('accepts every segment of a valid split tree', () => {
    // Arrange
    const segments = [seg(0, 0), seg(1, 1), seg(2, 3), seg(6, 7), seg(65535, 65535)];

    // Act
    const errors = segments.map((segment) => {
      try {
        assertSegment(segment);
        return undefined;
      } catch (error) {
        return error;
      }
    });

    // Assert
    expect(errors).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});
