import { describe, expect, it } from 'vitest';
import { ratiosOf, targetsOf, type TargetInputs } from '../../../bench/report/targets.js';
import type { ScalingPoint } from '../../../bench/scenarios/partition-scaling.js';

const point = (partitions: number, speedup: number, orderViolations = 0) =>
  ({ partitions, speedup, orderViolations }) as ScalingPoint;

const inputs = (changes: Partial<TargetInputs> = {}): TargetInputs => ({
  ratios: ratiosOf(
    { physical: 20_000, batched: 19_000 },
    {
      sequential: { recordsPerSecond: 200 },
      unordered: { recordsPerSecond: 19_000 },
      keyOrdered: { recordsPerSecond: 18_000 },
    },
  ),
  keyOrderedViolations: 0,
  sweep: [],
  points: [point(1, 1), point(8, 6.5)],
  overheadUsPerRecord: 1.2,
  costRatio: 0.014,
  ...changes,
});

describe('targets', () => {
  it('judge (c) against the limits, the other ways, scaling, overhead and cost', () => {
    const targets = targetsOf(inputs());

    expect(inputs().ratios).toEqual({
      keyOrderedToPhysicalLimit: 0.9,
      keyOrderedToBatchedLimit: 0.947,
      keyOrderedToSequential: 90,
      keyOrderedToUnordered: 0.947,
    });
    expect(Object.values(targets).map((t) => t.met)).toEqual([true, true, true, true, true, true]);
    expect(targets.partitionScaling).toEqual({
      target: '8 partitions >= 6x 1 partition(s)',
      threshold: 6,
      measured: 6.5,
      met: true,
    });
  });

  it('scale the scaling threshold to the partition counts run, and count violations of every key-ordered run', () => {
    const targets = targetsOf(
      inputs({
        points: [point(1, 1), point(2, 1.4, 1)],
        sweep: [{ orderViolations: 2 } as TargetInputs['sweep'][number]],
        keyOrderedViolations: 3,
        overheadUsPerRecord: 5.1,
        costRatio: 0.25,
      }),
    );

    expect(targets.partitionScaling).toMatchObject({ threshold: 1.5, measured: 1.4, met: false });
    expect(targets.keyOrderedOrderViolations).toMatchObject({ measured: 6, met: false });
    expect(targets.overheadUsPerRecord.met).toBe(false);
    expect(targets.costKeyOrderedVsSequential.met).toBe(false);
  });
});
