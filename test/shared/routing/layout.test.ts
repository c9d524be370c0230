import { describe, expect, it } from 'vitest';
import { ConfigurationError, LayoutError } from '../../../shared/errors.js';
import {
  assertCompleteCover,
  assertLayout,
  balancedSegments,
  decodeSegmentTree,
  encodeSegmentTree,
  MAX_SEGMENTS,
  SegmentRouter,
  segmentsFromDepths,
  sortSegments,
  treeOrder,
  type Layout,
  type LayoutSegment,
} from '../../../shared/routing/layout.js';
import { planChange, planScaleStep } from '../../../shared/coordination/layout-change.js';
import { segmentMatches, segmentName, type Segment } from '../../../shared/routing/segment.js';
import { thrownBy } from '../../support/assertions.js';
import { seededRandom } from '../../../local/random.js';

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

  it.each([0, -1, 1.5, Number.NaN, MAX_SEGMENTS + 1, 2 ** 16 + 1])('rejects the count %d', (count) => {
    // Arrange: the count. Act
    const error = thrownBy(() => balancedSegments(count));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(
      `segment count must be an integer from 1 to 2048, got ${String(count)}`,
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

describe('the compact segment tree of a stored layout', () => {
  const draining = (id: number, mask: number): LayoutSegment => ({ id, mask, state: 'draining' });

  it('orders segments depth first, hash bit 0 first', () => {
    // Arrange: 0/1 holds 0/3 and 2/3; 1/1 holds 1/3 and 3/3
    const segments = [seg(3, 3), seg(0, 3), seg(1, 3), seg(2, 3)];

    // Act
    const ordered = treeOrder(segments).map(segmentName);

    // Assert
    expect(ordered).toEqual(['0/3', '2/3', '1/3', '3/3']);
  });

  it.each([1, 3, 4, 64, 1_000, 1_024, MAX_SEGMENTS])('reads back %d balanced segments as written', (count) => {
    // Arrange
    const segments = balancedSegments(count).map((s) => active(s.id, s.mask));

    // Act
    const stored = encodeSegmentTree(segments);
    const reread = decodeSegmentTree(stored.tree, stored.draining, 'layout');

    // Assert: one character per segment
    expect(stored.tree).toHaveLength(count);
    expect(reread).toEqual(sortSegments(segments));
  });

  it('keeps an unbalanced layout with draining segments, down to the maximum depth', () => {
    // Arrange: 1/1, 0/3, then 2/3 split down to depth 16 on one side
    const deep: LayoutSegment[] = [active(1, 1), draining(0, 3)];
    const id = 2;
    for (let depth = 3; depth <= 16; depth++) deep.push(active(id + 2 ** (depth - 1), 2 ** depth - 1));
    deep.push(draining(id, 2 ** 16 - 1));
    assertCompleteCover(deep);

    // Act
    const stored = encodeSegmentTree(deep);

    // Assert
    expect(stored.draining.sort()).toEqual(['0/3', `2/${2 ** 16 - 1}`].sort());
    expect(decodeSegmentTree(stored.tree, stored.draining, 'layout')).toEqual(sortSegments(deep));
  });

  it.each([
    ['', 'layout ends before its segments cover the hash space'],
    ['12', 'layout ends before its segments cover the hash space'],
    ['111', 'layout has segments past a complete cover'],
    ['1x', 'layout has an invalid segment depth NaN at position 1'],
    ['h0', 'layout has an invalid segment depth NaN at position 0'],
  ])('rejects the stored tree %j', (tree, message) => {
    // Arrange: the tree. Act
    const error = thrownBy(() => decodeSegmentTree(tree, [], 'layout'));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toBe(message);
  });

  it('rejects a depth past the maximum', () => {
    // Arrange / Act
    const error = thrownBy(() => segmentsFromDepths([17], 'tree'));

    // Assert
    expect((error as LayoutError).message).toBe('tree has an invalid segment depth 17 at position 0');
  });

  it('rejects a draining segment the tree does not hold', () => {
    // Arrange / Act
    const error = thrownBy(() => decodeSegmentTree('11', ['0/3'], 'layout'));

    // Assert
    expect((error as LayoutError).message).toBe('layout marks unknown segments draining: 0/3');
  });

  it('gives a complete cover for every depth sequence it accepts', () => {
    // Arrange: depths of a random complete cover
    const random = seededRandom(7);
    let segments: Segment[] = [seg(0, 0)];
    for (let i = 0; i < 300; i++) {
      const victim = segments[Math.floor(random() * segments.length)]!;
      if (victim.mask === 2 ** 16 - 1) continue;
      const mask = (victim.mask << 1) | 1;
      segments = segments
        .filter((s) => s !== victim)
        .concat([seg(victim.id, mask), seg(victim.id + victim.mask + 1, mask)]);
    }

    // Act
    const depths = treeOrder(segments).map((s) => 32 - Math.clz32(s.mask));
    const rebuilt = segmentsFromDepths(depths, 'tree');

    // Assert
    expect(sortSegments(rebuilt)).toEqual(sortSegments(segments));
  });
});

describe('the segment cap', () => {
  const layoutOf = (count: number): Layout => ({
    processor: 'orders',
    version: 1,
    segments: balancedSegments(count).map((s) => active(s.id, s.mask)),
  });

  it('is 2,048 segments', () => {
    expect(MAX_SEGMENTS).toBe(2_048);
  });

  it('refuses a split of a layout at the cap, naming the cap', () => {
    // Arrange
    const layout = layoutOf(MAX_SEGMENTS);

    // Act
    const error = thrownBy(() => planChange(layout, 'split', segmentName(layout.segments[0]!)));

    // Assert
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).message).toMatch(
      /^cannot split \d+\/2047 of "orders": it already has 2048 segments: a layout may have at most 2048 segments \(MAX_SEGMENTS\)/,
    );
  });

  it('still splits one segment below the cap and merges at the cap', () => {
    // Arrange
    const below = layoutOf(MAX_SEGMENTS - 1);
    const at = layoutOf(MAX_SEGMENTS);

    // Act / Assert
    expect(planChange(below, 'split', segmentName(sortSegments(below.segments)[0]!)).to).toHaveLength(2);
    expect(planChange(at, 'merge', '0/2047').to).toEqual([seg(0, 1023)]);
  });

  it('refuses to scale past the cap, naming it', () => {
    // Arrange
    const layout = layoutOf(4);

    // Act
    const error = thrownBy(() => planScaleStep(layout, MAX_SEGMENTS + 1));

    // Assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toBe(
      'segment count must be an integer from 1 to 2048 (MAX_SEGMENTS), got 2049',
    );
    expect(planScaleStep(layout, MAX_SEGMENTS)).toEqual({ operation: 'split', segment: '0/3' });
  });
});
