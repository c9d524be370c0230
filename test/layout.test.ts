import { describe, expect, it } from 'vitest';
import { LayoutError } from '../shared/errors.js';
import {
  assertCompleteCover,
  assertLayout,
  balancedSegments,
  SegmentRouter,
  sortSegments,
  type Layout,
  type LayoutSegment,
} from '../shared/layout.js';
import { segmentMatches, segmentName, type Segment } from '../shared/segment.js';
import { thrownBy } from './support/assertions.js';
import { seededRandom } from '../scripts/lib/random.js';

const seg = (id: number, mask: number): Segment => ({ id, mask });
const active = (id: number, mask: number): LayoutSegment => ({ id, mask, state: 'active' });

/** `count` int32 values from a seeded generator, so the sample is the same on every run. */
function int32Sequence(seed: number, count: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => (random() * 4_294_967_296) | 0);
}

describe('balancedSegments', () => {
  it.each<[number, Segment[]]>([
    [1, [seg(0, 0)]],
    [2, [seg(0, 1), seg(1, 1)]],
    [3, [seg(1, 1), seg(0, 3), seg(2, 3)]],
    [4, [seg(0, 3), seg(1, 3), seg(2, 3), seg(3, 3)]],
    [5, [seg(1, 3), seg(2, 3), seg(3, 3), seg(0, 7), seg(4, 7)]],
    [6, [seg(2, 3), seg(3, 3), seg(0, 7), seg(1, 7), seg(4, 7), seg(5, 7)]],
    [8, [0, 1, 2, 3, 4, 5, 6, 7].map((id) => seg(id, 7))],
  ])('splits the widest, lowest-id segment until there are %i, sorted by mask then id', (count, expected) => {
    // Arrange: the count. Act
    const segments = balancedSegments(count);

    // Assert
    expect(segments).toEqual(expected);
  });

  it('returns layouts that cover the hash space exactly once for every count up to 64', () => {
    // Arrange
    const counts = Array.from({ length: 64 }, (_, i) => i + 1);

    // Act
    const failures = counts.flatMap((count) => {
      const segments = balancedSegments(count);
      try {
        assertCompleteCover(segments);
      } catch (error) {
        return [{ count, message: (error as Error).message }];
      }
      return segments.length === count ? [] : [{ count, message: `got ${segments.length} segments` }];
    });

    // Assert
    expect(failures).toEqual([]);
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 16 + 1])('rejects the count %d', (count) => {
    // Arrange: the count. Act
    const error = thrownBy(() => balancedSegments(count));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      `segment count must be an integer from 1 to 65536, got ${String(count)}`,
    );
  });
});

describe('sortSegments', () => {
  it('orders by mask then id without touching the input', () => {
    // Arrange
    const input = [seg(6, 7), seg(1, 1), seg(2, 7), seg(0, 3)];

    // Act
    const sorted = sortSegments(input);

    // Assert
    expect({ sorted, input }).toEqual({
      sorted: [seg(1, 1), seg(0, 3), seg(2, 7), seg(6, 7)],
      input: [seg(6, 7), seg(1, 1), seg(2, 7), seg(0, 3)],
    });
  });
});

describe('assertCompleteCover', () => {
  it.each([1, 2, 3, 4, 5, 7, 16])('accepts balancedSegments(%i)', (count) => {
    // Arrange
    const segments = balancedSegments(count);

    // Act
    const act = () => assertCompleteCover(segments);

    // Assert
    expect(act).not.toThrow();
  });

  it('accepts a mixed-depth layout in any order', () => {
    // Arrange
    const segments = [seg(6, 7), seg(1, 1), seg(2, 7), seg(0, 3)];

    // Act
    const act = () => assertCompleteCover(segments);

    // Assert
    expect(act).not.toThrow();
  });

  it('rejects a gap, saying how much of the hash space is covered and listing the segments', () => {
    // Arrange
    const segments = [seg(0, 1)];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      'layout has a gap: its segments cover 0.500000 of the hash space, not all of it',
    );
    expect((error as LayoutError).context).toEqual({ segments: ['0/1'] });
  });

  it('rejects a gap left by a missing deep segment, naming the subject given', () => {
    // Arrange
    const segments = [seg(1, 1), seg(0, 3), seg(2, 7)];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments, 'token'));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      'token has a gap: its segments cover 0.875000 of the hash space, not all of it',
    );
    expect((error as LayoutError).context).toEqual({ segments: ['1/1', '0/3', '2/7'] });
  });

  it('rejects an overlap of the root with a half, naming both segments', () => {
    // Arrange
    const segments = [seg(0, 0), seg(0, 1)];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('layout overlaps: segments 0/0 and 0/1 share hashes');
  });

  it('rejects the same segment listed twice, naming it', () => {
    // Arrange
    const segments = [seg(0, 1), seg(1, 1), seg(0, 1)];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('layout overlaps: segments 0/1 and 0/1 share hashes');
  });

  it('rejects a coarse segment listed before a finer one it contains, naming both', () => {
    // Arrange
    const segments = [seg(1, 1), seg(0, 1), seg(2, 3)];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('layout overlaps: segments 0/1 and 2/3 share hashes');
  });

  it('rejects a coarse segment listed after finer ones it contains, naming the coarse one', () => {
    // Arrange
    const segments = [seg(0, 3), seg(2, 3), seg(1, 1), seg(0, 1)];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('layout overlaps: 0/1 contains finer segments');
  });

  it('rejects an empty list', () => {
    // Arrange
    const segments: Segment[] = [];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('layout has no segments');
  });

  it('rejects an invalid segment in the list', () => {
    // Arrange
    const segments = [seg(0, 1), seg(1, 5)];

    // Act
    const error = thrownBy(() => assertCompleteCover(segments));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toContain('invalid segment id=1 mask=5');
  });
});

describe('assertLayout', () => {
  const layout = (overrides: Partial<Layout> = {}): Layout => ({
    processor: 'orders',
    version: 3,
    segments: [active(0, 1), active(1, 1)],
    ...overrides,
  });

  it('accepts a checked layout with active and draining segments', () => {
    // Arrange
    const valid = layout({ segments: [active(0, 1), { id: 1, mask: 1, state: 'draining' }] });

    // Act
    const act = () => assertLayout(valid);

    // Assert
    expect(act).not.toThrow();
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects the version %d', (version) => {
    // Arrange
    const invalid = layout({ version });

    // Act
    const error = thrownBy(() => assertLayout(invalid));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(`layout of "orders" has an invalid version ${String(version)}`);
  });

  it('rejects an unknown segment state, naming the segment and the state', () => {
    // Arrange
    const invalid = layout({
      segments: [active(0, 1), { id: 1, mask: 1, state: 'paused' as unknown as LayoutSegment['state'] }],
    });

    // Act
    const error = thrownBy(() => assertLayout(invalid));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe('layout of "orders": segment 1/1 has unknown state "paused"');
  });

  it('rejects a layout whose segments leave a gap, naming processor and version', () => {
    // Arrange
    const invalid = layout({ segments: [active(0, 1)] });

    // Act
    const error = thrownBy(() => assertLayout(invalid));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      'layout of "orders" v3 has a gap: its segments cover 0.500000 of the hash space, not all of it',
    );
  });
});

describe('SegmentRouter', () => {
  const mixed = [active(1, 1), active(0, 3), active(2, 7), active(6, 7)];

  it('routes every hash of a seeded sample to the one segment that matches it', () => {
    // Arrange
    const router = new SegmentRouter(mixed);
    const hashes = [0, 1, -1, 2, 6, 0x7fffffff, -2147483648, -862545276, ...int32Sequence(20240601, 10_000)];

    // Act
    const wrong = hashes.flatMap((hash) => {
      const matching = mixed.filter((segment) => segmentMatches(segment, hash));
      const routed = router.segmentFor(hash);
      return matching.length === 1 && matching[0] === routed
        ? []
        : [{ hash, routed: segmentName(routed), matching: matching.map(segmentName) }];
    });

    // Assert
    expect(wrong).toEqual([]);
  });

  it('uses a sample that reaches every segment, with negative and positive hashes', () => {
    // Arrange
    const hashes = int32Sequence(20240601, 10_000);
    const router = new SegmentRouter(mixed);

    // Act
    const reached = new Set(hashes.map((hash) => segmentName(router.segmentFor(hash))));
    const signs = [hashes.some((hash) => hash < 0), hashes.some((hash) => hash > 0)];

    // Assert
    expect({ reached: [...reached].sort(), signs }).toEqual({
      reached: ['0/3', '1/1', '2/7', '6/7'],
      signs: [true, true],
    });
  });

  it('routes hand-picked hashes to the segments worked out by hand', () => {
    // Arrange
    const router = new SegmentRouter(mixed);
    // 0 → 0/3; 1 → 1/1; 2 → 2/7; 6 → 6/7; 4 → 0/3; 10 (…1010) → 2/7; -1 → 1/1; -2 (…110) → 6/7;
    // -6 (…010) → 2/7; -862545276 (…100) → 0/3; 0x7fffffff → 1/1; -2147483648 → 0/3.
    const hashes = [0, 1, 2, 6, 4, 10, -1, -2, -6, -862545276, 0x7fffffff, -2147483648];

    // Act
    const routed = hashes.map((hash) => segmentName(router.segmentFor(hash)));

    // Assert
    expect(routed).toEqual(['0/3', '1/1', '2/7', '6/7', '0/3', '2/7', '1/1', '6/7', '2/7', '0/3', '1/1', '0/3']);
  });

  it('returns the layout segment object itself, state included', () => {
    // Arrange
    const draining: LayoutSegment = { id: 6, mask: 7, state: 'draining' };
    const router = new SegmentRouter([active(1, 1), active(0, 3), active(2, 7), draining]);

    // Act
    const routed = router.segmentFor(14);

    // Assert
    expect(routed).toBe(draining);
  });

  it('refuses segments that do not cover the hash space', () => {
    // Arrange
    const incomplete = [active(1, 1), active(0, 3)];

    // Act
    const error = thrownBy(() => new SegmentRouter(incomplete));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      'layout has a gap: its segments cover 0.750000 of the hash space, not all of it',
    );
  });
});
