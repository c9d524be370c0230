/**
 * The best the one-partition workload allows, from the handler latency (a) measured: the physical limit, the
 * batched limit of any key-ordered processing one batch at a time, and what two scheduling policies would reach.
 * Computed, not measured: they are what (c) is judged against.
 */
import type { BenchOptions } from '../options.js';
import { round } from '../stats.js';
import { criticalPathRounds, modelRounds, type PartitionLog } from '../workload.js';

export interface ThroughputBounds {
  readonly physicalLimit: {
    recordsPerSecond: number;
    parallelism: number;
    formula: string;
    /** The same limit with the mean handler latency seen inside run (c), where the event loop is busier. */
    atKeyOrderedLatencyRecordsPerSecond: number;
  };
  readonly batchedLimit: {
    recordsPerSecond: number;
    rounds: number;
    longestKeyChainInABatch: number;
    formula: string;
  };
  readonly schedulingModel: {
    description: string;
    fifoRounds: number;
    longestRemainingFirstRounds: number;
    lowerBoundRounds: number;
    fifoRecordsPerSecond: number;
    longestRemainingFirstRecordsPerSecond: number;
    /** Handler phase of one batch under each model, to compare with keyOrdered.batchPhases.handlersMs. */
    handlersMsPerBatch: { lowerBound: number; fifo: number; longestRemainingFirst: number };
  };
}

/** The two limits unrounded, for the ratios: the report's rounded figures would shift the third decimal. */
export interface LimitRates {
  readonly physical: number;
  readonly batched: number;
}

const BATCHED_FORMULA =
  'records / (sum over batches of max(ceil(batch records / concurrency), longest key chain in the batch) x mean handler latency): ' +
  'the best any key-ordered processing can do one batch at a time';

const MODEL_DESCRIPTION =
  'unit-time model of one batch at a time (one round = one handler latency): fifo = ready records in one first-come queue, ' +
  "a key's next record joining the back when its previous one ends; " +
  'longestRemainingFirst = start the keys with the most records left first (what runInKeyOrder does)';

/** `latencyMs`: the mean handler latency of (a); `keyOrderedLatencyMs`: that of (c). */
export function throughputBounds(
  log: PartitionLog,
  options: BenchOptions,
  latencyMs: number,
  keyOrderedLatencyMs: number,
): { bounds: ThroughputBounds; rates: LimitRates } {
  const { batchSize, concurrency } = options;
  const perRound = latencyMs / 1000;
  const parallelism = Math.min(log.distinctKeys, concurrency);
  const physical = parallelism / perRound;
  const path = criticalPathRounds(log, batchSize, concurrency);
  const batched = log.records.length / (path.rounds * perRound);
  const batchCount = Math.ceil(log.records.length / batchSize);
  const fifoRounds = modelRounds(log, batchSize, concurrency, 'fifo');
  const lrfRounds = modelRounds(log, batchSize, concurrency, 'longestRemainingFirst');
  const bounds: ThroughputBounds = {
    physicalLimit: {
      recordsPerSecond: round(physical, 1),
      parallelism,
      formula: 'min(distinct keys, concurrency) / mean handler latency',
      atKeyOrderedLatencyRecordsPerSecond: round(parallelism / (keyOrderedLatencyMs / 1000), 1),
    },
    batchedLimit: {
      recordsPerSecond: round(batched, 1),
      rounds: path.rounds,
      longestKeyChainInABatch: path.longestChain,
      formula: BATCHED_FORMULA,
    },
    schedulingModel: {
      description: MODEL_DESCRIPTION,
      fifoRounds,
      longestRemainingFirstRounds: lrfRounds,
      lowerBoundRounds: path.rounds,
      fifoRecordsPerSecond: round(log.records.length / (fifoRounds * perRound), 1),
      longestRemainingFirstRecordsPerSecond: round(log.records.length / (lrfRounds * perRound), 1),
      handlersMsPerBatch: {
        lowerBound: round((path.rounds * latencyMs) / batchCount, 2),
        fifo: round((fifoRounds * latencyMs) / batchCount, 2),
        longestRemainingFirst: round((lrfRounds * latencyMs) / batchCount, 2),
      },
    },
  };
  return { bounds, rates: { physical, batched } };
}
