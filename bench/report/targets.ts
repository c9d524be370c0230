/**
 * The benchmark's targets, each with its threshold, what was measured and whether it was met. A benchmark, not a
 * test: a missed target is reported, never a failure.
 */
import type { LimitRates } from './bounds.js';
import type { BatchSizePoint } from '../scenarios/batch-size-sweep.js';
import type { ScalingPoint } from '../scenarios/partition-scaling.js';
import { round, sum } from '../stats.js';

export interface Target {
  readonly target: string;
  readonly threshold: number;
  readonly measured: number;
  readonly met: boolean;
}

export interface Targets {
  readonly keyOrderedVsPhysicalLimit: Target;
  readonly keyOrderedVsUnordered: Target;
  readonly keyOrderedOrderViolations: Target;
  readonly partitionScaling: Target;
  readonly overheadUsPerRecord: Target;
  readonly costKeyOrderedVsSequential: Target;
}

/** (c) against the limits and the other two ways of processing, on one partition. */
export interface Ratios {
  readonly keyOrderedToPhysicalLimit: number;
  readonly keyOrderedToBatchedLimit: number;
  readonly keyOrderedToSequential: number;
  readonly keyOrderedToUnordered: number;
}

type Rate = { readonly recordsPerSecond: number };

export function ratiosOf(limits: LimitRates, modes: { sequential: Rate; unordered: Rate; keyOrdered: Rate }): Ratios {
  const keyOrdered = modes.keyOrdered.recordsPerSecond;
  return {
    keyOrderedToPhysicalLimit: round(keyOrdered / limits.physical, 3),
    keyOrderedToBatchedLimit: round(keyOrdered / limits.batched, 3),
    keyOrderedToSequential: round(keyOrdered / modes.sequential.recordsPerSecond, 2),
    keyOrderedToUnordered: round(keyOrdered / modes.unordered.recordsPerSecond, 3),
  };
}

/** What the targets judge: `orderViolations` of every key-ordered run, one partition, sweep and scaling alike. */
export interface TargetInputs {
  readonly ratios: Ratios;
  readonly keyOrderedViolations: number;
  readonly sweep: readonly BatchSizePoint[];
  readonly points: readonly ScalingPoint[];
  readonly overheadUsPerRecord: number;
  readonly costRatio: number;
}

export function targetsOf(input: TargetInputs): Targets {
  const { ratios } = input;
  const minP = Math.min(...input.points.map((p) => p.partitions));
  const maxP = Math.max(...input.points.map((p) => p.partitions));
  const top = input.points.find((p) => p.partitions === maxP)!;
  // 6x at 8 partitions from 1, scaled to the partition counts run.
  const scalingThreshold = round((6 / 8) * (maxP / minP), 2);
  const violations =
    input.keyOrderedViolations +
    sum(input.sweep.map((s) => s.orderViolations)) +
    sum(input.points.map((p) => p.orderViolations));
  return {
    keyOrderedVsPhysicalLimit: atLeast(
      'key-ordered >= 90% of the physical limit min(keys, concurrency) / handler latency',
      0.9,
      ratios.keyOrderedToPhysicalLimit,
    ),
    keyOrderedVsUnordered: atLeast('key-ordered >= 90% of unordered parallel', 0.9, ratios.keyOrderedToUnordered),
    keyOrderedOrderViolations: atMost('key-ordered runs: zero order violations', 0, violations),
    partitionScaling: atLeast(
      `${maxP} partitions >= ${scalingThreshold}x ${minP} partition(s)`,
      scalingThreshold,
      top.speedup,
    ),
    overheadUsPerRecord: atMost(
      'framework overhead <= 5 µs per record (no-op handler, in-memory store)',
      5,
      input.overheadUsPerRecord,
    ),
    costKeyOrderedVsSequential: atMost(
      'cost per million records of key-ordered <= 1/5 of sequential',
      0.2,
      input.costRatio,
    ),
  };
}

function atLeast(target: string, threshold: number, measured: number): Target {
  return { target, threshold, measured, met: measured >= threshold };
}

function atMost(target: string, threshold: number, measured: number): Target {
  return { target, threshold, measured, met: measured <= threshold };
}
