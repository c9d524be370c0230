import type { DispatchResult } from '../processing/dispatcher.js';

/** The CloudWatch namespace of Tidemark's own metrics. */
export const METRICS_NAMESPACE = 'Tidemark';

/** Per-batch counts, as CloudWatch metrics (dimension `Processor`). */
export interface BatchMetrics {
  /** Handled successfully in this invocation. */
  readonly RecordsHandled: number;
  /** Delivered again and skipped: the token already covered them. */
  readonly RecordsSkipped: number;
  /** Failed in this delivery and reported back to Lambda (not yet parked). */
  readonly RecordsFailed: number;
  /** Every record reported back for redelivery (failed, blocked behind a failure, draining, not started). */
  readonly RecordsHandedBack: number;
  /** Partitions handed back whole (claim held too long, fenced, checkpoint failed). */
  readonly PartitionsAbandoned: number;
  /** Parked as dead letters: failed for good, behind a parked key, malformed or unroutable. */
  readonly RecordsParked: number;
  /** Could not be parked (parked-key bound, letter too large): the partition cannot pass them. Alarmed. */
  readonly RecordsUnparkable: number;
  /** Offsets the event source moved past although they were delivered and not done. Alarmed. */
  readonly RecordsSkippedBySource: number;
}

/** Gauges of a processor's dead letters, emitted by the scheduled redrive (dimension `Processor`). */
export interface DeadLetterMetrics {
  /** Keys with letters not yet redriven, over all partitions. */
  readonly ParkedKeys: number;
  /** Age of the oldest parked key, in seconds (0 when none). */
  readonly OldestParkedAgeSeconds: number;
  /** Letters handled successfully by redrives in this run. */
  readonly RecordsRedriven: number;
}

/** Sums a dispatch result into batch metrics. */
export function batchMetrics(result: DispatchResult): BatchMetrics {
  const sum = (pick: (p: DispatchResult['partitions'][number]) => number) =>
    result.partitions.reduce((total, p) => total + pick(p), 0);
  return {
    RecordsHandled: sum((p) => p.handled),
    RecordsSkipped: sum((p) => p.skipped),
    RecordsFailed: sum((p) => p.failed + p.unparkable),
    RecordsHandedBack: sum((p) =>
      p.abandoned ? p.delivered : p.failed + p.unparkable + p.blocked + p.notStarted + p.draining,
    ),
    PartitionsAbandoned: sum((p) => (p.abandoned ? 1 : 0)),
    RecordsParked: sum((p) => p.parked),
    RecordsUnparkable: sum((p) => p.unparkable),
    RecordsSkippedBySource: sum((p) => p.skippedBySource),
  };
}

/**
 * The metrics as one CloudWatch Embedded Metric Format line: printed to stdout in Lambda, CloudWatch turns it
 * into metrics with no API call and no extra latency.
 */
export function embeddedMetrics(
  processor: string,
  metrics: BatchMetrics | DeadLetterMetrics,
  timestamp = Date.now(),
): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['Processor']],
          Metrics: Object.keys(metrics).map((name) => ({
            Name: name,
            Unit: name.endsWith('Seconds') ? 'Seconds' : 'Count',
          })),
        },
      ],
    },
    Processor: processor,
    ...metrics,
  });
}
