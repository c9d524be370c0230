import type { DispatchResult } from './dispatcher.js';

/** The CloudWatch namespace of Tidemark's own metrics. */
export const METRICS_NAMESPACE = 'Tidemark';

/** Per-batch counts, as CloudWatch metrics (dimension `Processor`). */
export interface BatchMetrics {
  /** Handled successfully in this invocation. */
  readonly RecordsHandled: number;
  /** Delivered again and skipped: the token already covered them. */
  readonly RecordsSkipped: number;
  /** Failed after their retries, or could not be read or routed: reported back to Lambda. */
  readonly RecordsFailed: number;
  /** Every record reported back for redelivery (failed, blocked behind a failure, draining, not started). */
  readonly RecordsHandedBack: number;
  /** Partitions handed back whole (claim held too long, fenced, checkpoint failed). */
  readonly PartitionsAbandoned: number;
}

/** Sums a dispatch result into batch metrics. */
export function batchMetrics(result: DispatchResult): BatchMetrics {
  const sum = (pick: (p: DispatchResult['partitions'][number]) => number) =>
    result.partitions.reduce((total, p) => total + pick(p), 0);
  return {
    RecordsHandled: sum((p) => p.handled),
    RecordsSkipped: sum((p) => p.skipped),
    RecordsFailed: sum((p) => p.failed + p.malformed),
    RecordsHandedBack: sum((p) =>
      p.abandoned ? p.delivered : p.failed + p.malformed + p.blocked + p.notStarted + p.draining,
    ),
    PartitionsAbandoned: sum((p) => (p.abandoned ? 1 : 0)),
  };
}

/**
 * The metrics as one CloudWatch Embedded Metric Format line: printed to stdout in Lambda, CloudWatch turns it
 * into metrics with no API call and no extra latency.
 */
export function embeddedMetrics(processor: string, metrics: BatchMetrics, timestamp = Date.now()): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['Processor']],
          Metrics: Object.keys(metrics).map((name) => ({ Name: name, Unit: 'Count' })),
        },
      ],
    },
    Processor: processor,
    ...metrics,
  });
}
