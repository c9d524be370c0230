import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DispatchResult, PartitionReport } from '../processing/dispatcher.js';
import { takeEffectCounts } from '../effects/effect-metrics.js';
import { silentLogger, type Logger } from './logger.js';
import { powertoolsMetrics } from './powertools.js';

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
  /** Records a reset brought again that a `replay: 'skip'` processor did not hand to its handler. */
  readonly RecordsReplaySkipped: number;
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

/** How far behind one partition is, from the Kafka timestamps of the records its batch checkpointed. */
export interface PartitionLag {
  readonly topicPartition: string;
  /**
   * Age of the newest record the partition's token covers after the checkpoint (`lastRecordAt`): how old the
   * newest data the processor has reflected is. Undefined when the partition was not checkpointed or no timestamp
   * is known.
   */
  readonly TimeLagSeconds?: number;
  /** Age of the oldest record handled in this batch; undefined when none was handled. */
  readonly OldestRecordAgeSeconds?: number;
}

/** The per-call metric of the handler, in milliseconds (p50/p99 on the dashboard). */
export const HANDLER_DURATION = 'HandlerDuration';

/** Sums a dispatch result into batch metrics. */
export function batchMetrics(result: Pick<DispatchResult, 'partitions'>): BatchMetrics {
  const sum = (pick: (p: PartitionReport) => number) => result.partitions.reduce((total, p) => total + pick(p), 0);
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
    RecordsReplaySkipped: sum((p) => p.replaySkipped),
  };
}

/** Each partition's lag at `now` (ms), from the timestamps its report carries; partitions with neither are left out. */
export function partitionLags(result: Pick<DispatchResult, 'partitions'>, now: number): PartitionLag[] {
  const age = (timestamp: number) => Math.max(0, now - timestamp) / 1000;
  const lags: PartitionLag[] = [];
  for (const p of result.partitions) {
    if (p.lastRecordAt === null && p.oldestHandledAt === null) continue;
    lags.push({
      topicPartition: p.topicPartition,
      ...(p.lastRecordAt === null ? {} : { TimeLagSeconds: age(p.lastRecordAt) }),
      ...(p.oldestHandledAt === null ? {} : { OldestRecordAgeSeconds: age(p.oldestHandledAt) }),
    });
  }
  return lags;
}

/**
 * The metrics as one CloudWatch Embedded Metric Format line (Powertools' serialisation): printed to stdout in Lambda,
 * CloudWatch turns it into metrics with no API call and no extra latency.
 */
export function embeddedMetrics(
  processor: string,
  metrics: BatchMetrics | DeadLetterMetrics,
  timestamp = Date.now(),
): string {
  const emf = powertoolsMetrics(METRICS_NAMESPACE, processor, silentLogger);
  emf.setTimestamp(timestamp);
  for (const [name, value] of Object.entries(metrics) as Array<[string, number]>)
    emf.addMetric(name, unitOf(name), value);
  const line = JSON.stringify(emf.serializeMetrics());
  emf.clearMetrics();
  return line;
}

/** Options of {@link ProcessorMetrics}. */
export interface ProcessorMetricsOptions {
  readonly processor: string;
  /**
   * Also publish each partition's counts and lags with the dimensions `Processor` and `Partition` (`<topic>-<n>`).
   * Off by default: one metric series per partition costs per partition. @default false
   */
  readonly partitionDimension?: boolean;
  /** Where Powertools' own warnings go. @default none */
  readonly logger?: Logger;
}

/**
 * A processor's metrics, published as EMF through Powertools Metrics in the `Tidemark` namespace. Every metric has
 * the dimension `Processor`; with `partitionDimension`, each partition's counts and lags are also published with
 * `Processor` and `Partition`. Handler durations are kept until the next publish; Powertools flushes a line early
 * whenever one metric reaches EMF's 100 values, so every call is counted (p50 and p99 are exact).
 */
export class ProcessorMetrics {
  private readonly emf;
  private readonly partitionDimension: boolean;
  private readonly processor: string;

  constructor(options: ProcessorMetricsOptions) {
    this.processor = options.processor;
    this.emf = powertoolsMetrics(METRICS_NAMESPACE, options.processor, options.logger ?? silentLogger);
    this.partitionDimension = options.partitionDimension ?? false;
  }

  /** One handler call's duration in ms; published with the next batch, or at 100 values. */
  handlerDuration(ms: number): void {
    this.emf.addMetric(HANDLER_DURATION, MetricUnit.Milliseconds, ms);
  }

  /**
   * A batch: its counts summed, each partition's `TimeLagSeconds` and `OldestRecordAgeSeconds` (one value per
   * partition), and the handler durations kept so far, in one line; then, with `partitionDimension`, one line per
   * partition with its own counts and lags.
   */
  batch(result: Pick<DispatchResult, 'partitions'>, now: number): void {
    const lags = partitionLags(result, now);
    this.add(batchMetrics(result));
    this.addLags(lags);
    this.publish();
    if (!this.partitionDimension) return;
    const byPartition = new Map(lags.map((lag) => [lag.topicPartition, lag]));
    for (const report of result.partitions) {
      // Published at once: the dimension applies to what is stored, so nothing else may be stored meanwhile.
      this.emf.addDimension('Partition', report.topicPartition);
      this.add(batchMetrics({ partitions: [report] }));
      const lag = byPartition.get(report.topicPartition);
      if (lag) this.addLags([lag]);
      this.publish();
    }
  }

  /** The dead-letter gauges of a scheduled redrive. */
  deadLetters(metrics: DeadLetterMetrics): void {
    this.add(metrics);
    this.publish();
  }

  /** Publishes what is kept (the handler durations of a segment worker's run). */
  flush(): void {
    this.publish();
  }

  private add(metrics: BatchMetrics | DeadLetterMetrics): void {
    for (const [name, value] of Object.entries(metrics) as Array<[string, number]>) {
      this.emf.addMetric(name, unitOf(name), value);
    }
  }

  private addLags(lags: readonly PartitionLag[]): void {
    for (const lag of lags) {
      if (lag.TimeLagSeconds !== undefined)
        this.emf.addMetric('TimeLagSeconds', MetricUnit.Seconds, lag.TimeLagSeconds);
      if (lag.OldestRecordAgeSeconds !== undefined) {
        this.emf.addMetric('OldestRecordAgeSeconds', MetricUnit.Seconds, lag.OldestRecordAgeSeconds);
      }
    }
  }

  private publish(): void {
    // What the effect helpers (shared/effects) counted since the last line goes with this one.
    for (const [name, value] of takeEffectCounts(this.processor)) this.emf.addMetric(name, MetricUnit.Count, value);
    if (this.emf.hasStoredMetrics()) this.emf.publishStoredMetrics();
    // A dimension added for a partition with nothing to publish must not stick to the next line.
    this.emf.clearDimensions();
  }
}

function unitOf(name: string) {
  return name.endsWith('Seconds') ? MetricUnit.Seconds : MetricUnit.Count;
}
