import type { DynamoDbLagHistory } from './lag-history.js';
import { readProcessorStatus, type StatusSources } from './read-status.js';
import type { LagSample, ProcessorStatus } from './status-view.js';

/** The gauges one sample gives, published as metrics (dimension `Processor`) by the admin function. */
export interface LagGauges {
  /** Σ record lag over the partitions; null when Kafka could not be read. */
  readonly RecordLag: number | null;
  readonly MaxTimeLagSeconds: number | null;
  readonly StalledPartitions: number;
  /**
   * How long every mapping has been disabled (0 while any is enabled): past the group offsets' retention
   * (`offsets.retention.minutes`, 7 days by default) the broker drops them and the mapping restarts at its
   * starting position. The offset-expiry alarm watches it.
   */
  readonly EventSourceDisabledSeconds: number;
}

/**
 * Takes one lag sample: reads the status (token positions against Kafka's ends), writes the sample for the charts and
 * the stall rule, and returns the gauges. Runs every minute on AWS (an EventBridge schedule), more often locally.
 */
export async function sampleLag(
  sources: StatusSources & { readonly lagHistory: DynamoDbLagHistory },
  processor: string,
  options: { stallWindowMs?: number } = {},
): Promise<{ status: ProcessorStatus; gauges: LagGauges }> {
  const status = await readProcessorStatus(sources, processor, options);
  const sample: LagSample = {
    at: status.at,
    partitions: Object.fromEntries(
      status.partitions.map((p) => [
        p.id,
        { position: p.position, recordLag: p.recordLag, timeLagSeconds: p.timeLagSeconds },
      ]),
    ),
  };
  await sources.lagHistory.write(processor, sample);
  const { mappings } = status.eventSource;
  const disabledSince = status.eventSource.paused ? Math.max(...mappings.map((m) => m.lastModified)) : undefined;
  return {
    status,
    gauges: {
      RecordLag: status.totals.recordLag,
      MaxTimeLagSeconds: status.totals.maxTimeLagSeconds,
      StalledPartitions: status.totals.stalledPartitions,
      EventSourceDisabledSeconds:
        disabledSince === undefined ? 0 : Math.max(0, Math.round((status.at - disabledSince) / 1000)),
    },
  };
}
