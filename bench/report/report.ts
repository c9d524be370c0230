/**
 * The JSON report `npm run bench -- --json` prints, assembled from what the scenarios measured. Its shape is
 * what docs/benchmarks.md describes; test/bench/benchmark.test.ts checks every field of it.
 */
import type { BatchPhaseReport } from '../instruments/batch-phases.js';
import type { LatencyReport } from '../instruments/latency.js';
import { ORDER_VIOLATION_DEFINITION } from '../instruments/order-tracker.js';
import type { ModeReport } from '../mode-report.js';
import type { BenchOptions } from '../options.js';
import type { BatchSizePoint } from '../scenarios/batch-size-sweep.js';
import type { LimitsReport } from '../scenarios/limits.js';
import type { OnePartitionRuns } from '../scenarios/one-partition.js';
import type { DecodersReport } from '../scenarios/decoders.js';
import type { OverheadReport } from '../scenarios/overhead.js';
import type { EffectsCost } from '../scenarios/effects.js';
import type { ParkingCost } from '../scenarios/parking-cost.js';
import type { PartitionScalingReport } from '../scenarios/partition-scaling.js';
import type { LimitRates, ThroughputBounds } from './bounds.js';
import { costReport, type CostReport } from './cost.js';
import { dynamoDbReport, type DynamoDbReport } from './dynamodb.js';
import type { MachineReport } from './machine.js';
import { ratiosOf, targetsOf, type Ratios, type Targets } from './targets.js';

export interface OnePartitionReport extends ThroughputBounds {
  readonly handlerLatency: LatencyReport & { source: string };
  readonly sequential: ModeReport;
  readonly unordered: OnePartitionRuns['unordered'];
  readonly keyOrdered: OnePartitionRuns['keyOrdered'] & { batchPhases: BatchPhaseReport };
  /** (b) and (c) at other batch sizes, interleaved: what the per-batch costs (claim, checkpoint) weigh. */
  readonly batchSizeSweep: readonly BatchSizePoint[];
  readonly ratios: Ratios;
}

/** Everything the benchmark prints with `--json`. */
export interface BenchReport {
  readonly benchmark: 'tidemark';
  readonly schemaVersion: 1;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineReport;
  readonly config: BenchOptions & { store: string; distinctKeys: number; orderViolationDefinition: string };
  readonly onePartition: OnePartitionReport;
  readonly partitionScaling: PartitionScalingReport;
  readonly overhead: OverheadReport;
  /** What each record format costs per record, schema cached. */
  readonly decoders: DecodersReport;
  readonly dynamoDb: DynamoDbReport;
  readonly cost: CostReport;
  readonly targets: Targets;
  /** On DynamoDB only: what parking dead letters costs. */
  readonly parking?: ParkingCost;
  /** On DynamoDB only: what the exactly-once effects helper costs per record. */
  readonly effects?: EffectsCost;
  /** On DynamoDB only: item sizes and layout reads at 1,024 segments. */
  readonly limits?: LimitsReport;
}

/** What the scenarios measured, and the bounds the sweep was judged against while it ran. */
export interface Measurements {
  readonly distinctKeys: number;
  readonly sequential: ModeReport;
  readonly runs: OnePartitionRuns;
  readonly batchPhases: BatchPhaseReport;
  readonly bounds: ThroughputBounds;
  readonly rates: LimitRates;
  readonly batchSizeSweep: readonly BatchSizePoint[];
  readonly partitionScaling: PartitionScalingReport;
  readonly overhead: OverheadReport;
  readonly decoders: DecodersReport;
  readonly parking?: ParkingCost;
  readonly effects?: EffectsCost;
  readonly limits?: LimitsReport;
}

/** The run itself: when, how long, where, with what. */
export interface RunFacts {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineReport;
  readonly options: BenchOptions;
  readonly storeKind: string;
  /** Whether requests were counted on a DynamoDB client (else mapped from token store calls). */
  readonly onDynamoDb: boolean;
}

/** The report, in its documented order: the measured sections and those derived from them. */
export function buildReport(run: RunFacts, measured: Measurements): BenchReport {
  const { options } = run;
  const { runs, overhead, parking, effects, limits } = measured;
  const dynamoDb = dynamoDbReport(options, runs, run.onDynamoDb);
  const cost = costReport(options, run.storeKind, {
    sequential: measured.sequential,
    keyOrderedRuns: runs.keyOrderedRuns,
    requests: runs.requests.warm.requests,
  });
  const onePartition = onePartitionReport(options, measured);
  const targets = targetsOf({
    ratios: onePartition.ratios,
    keyOrderedViolations: runs.keyOrdered.orderViolations,
    sweep: measured.batchSizeSweep,
    points: measured.partitionScaling.points,
    overheadUsPerRecord: overhead.overheadUsPerRecord,
    costRatio: cost.keyOrderedToSequential,
  });
  return {
    benchmark: 'tidemark',
    schemaVersion: 1,
    startedAt: run.startedAt,
    durationSeconds: run.durationSeconds,
    machine: run.machine,
    config: {
      ...options,
      partitions: [...options.partitions],
      batchSizeSweep: [...options.batchSizeSweep],
      store: run.storeKind,
      distinctKeys: measured.distinctKeys,
      orderViolationDefinition: ORDER_VIOLATION_DEFINITION,
    },
    onePartition,
    partitionScaling: measured.partitionScaling,
    overhead,
    decoders: measured.decoders,
    dynamoDb,
    cost,
    targets,
    ...(parking ? { parking } : {}),
    ...(effects ? { effects } : {}),
    ...(limits ? { limits } : {}),
  };
}

function onePartitionReport(options: BenchOptions, measured: Measurements): OnePartitionReport {
  const { sequential, runs, bounds } = measured;
  return {
    handlerLatency: {
      ...sequential.handlerLatency,
      source: `measured around the ${options.latencyMs} ms await in the sequential run (a)`,
    },
    physicalLimit: bounds.physicalLimit,
    batchedLimit: bounds.batchedLimit,
    schedulingModel: bounds.schedulingModel,
    sequential,
    unordered: runs.unordered,
    keyOrdered: { ...runs.keyOrdered, batchPhases: measured.batchPhases },
    batchSizeSweep: measured.batchSizeSweep,
    ratios: ratiosOf(measured.rates, { sequential, unordered: runs.unordered, keyOrdered: runs.keyOrdered }),
  };
}
