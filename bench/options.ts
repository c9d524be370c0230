/** What the benchmark measures and at which sizes: the full run and the smoke-test run. */

/** What to measure. */
export interface BenchOptions {
  /** Records of the one-partition scenario, and per partition in the scaling scenario. */
  readonly records: number;
  /** Keys of the one-partition scenario, and per partition in the scaling scenario. */
  readonly keys: number;
  readonly concurrency: number;
  /** Records per Lambda event (one partition's batch). */
  readonly batchSize: number;
  /** The simulated I/O each handler call awaits. */
  readonly latencyMs: number;
  /** Records the sequential baseline handles (its rate does not depend on the count; it is the slow one). */
  readonly sequentialRecords: number;
  /** Partition counts of the scaling scenario. */
  readonly partitions: readonly number[];
  /**
   * Records per event in the scaling scenario: the same as `batchSize` by default, so each partition gets the one-
   * partition scenario's workload. Smaller batches mean more claims and checkpoints side by side.
   */
  readonly scalingBatchSize: number;
  readonly overheadRecords: number;
  readonly overheadKeys: number;
  /** Runs of each fast scenario; the median is reported. */
  readonly repeats: number;
  /** Runs of each scaling point (the noisiest figure: several event loops share the machine's cores). */
  readonly scalingRepeats: number;
  /** Segments of the processor's layout (inline mode runs every segment in the dispatcher). */
  readonly segments: number;
  /** Batch sizes (c) is also measured at, to show the per-batch costs and key chains; empty to skip. */
  readonly batchSizeSweep: readonly number[];
  /** Lambda memory size assumed for the cost estimate. */
  readonly lambdaMemoryMb: number;
  /** Pause between timed runs, so one run's garbage is not collected during the next. */
  readonly pauseMs: number;
  readonly seed: number;
  readonly quick: boolean;
}

/** The default run: about two minutes on a 2-core machine, most of it the sequential baseline. */
export const DEFAULT_OPTIONS: BenchOptions = Object.freeze({
  records: 10_000,
  keys: 1_000,
  concurrency: 100,
  batchSize: 5_000,
  latencyMs: 5,
  sequentialRecords: 10_000,
  partitions: [1, 2, 4, 8],
  scalingBatchSize: 5_000,
  overheadRecords: 200_000,
  overheadKeys: 1_000,
  repeats: 5,
  scalingRepeats: 7,
  segments: 4,
  batchSizeSweep: [500, 1_000, 2_000, 5_000, 10_000],
  lambdaMemoryMb: 1_024,
  pauseMs: 200,
  seed: 20_251_122,
  quick: false,
});

/** `--quick`: the same scenarios at smoke-test sizes (a few seconds). */
export const QUICK_OPTIONS: BenchOptions = Object.freeze({
  ...DEFAULT_OPTIONS,
  records: 2_000,
  keys: 200,
  batchSize: 500,
  scalingBatchSize: 500,
  sequentialRecords: 500,
  overheadRecords: 20_000,
  repeats: 1,
  scalingRepeats: 1,
  batchSizeSweep: [250, 1_000],
  quick: true,
});
