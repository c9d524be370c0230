import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { HANDLER_DURATION, METRICS_NAMESPACE } from '../shared/observability/metrics.js';
import type { CoordinatorFunctions, LayoutStateMachines } from './layout-state-machines.js';
import type { ResolvedSettings } from './resolve-props.js';

/** What the alarms and the dashboard watch. */
export interface MonitoredResources {
  readonly dispatchFunction: NodejsFunction;
  readonly workerFunction?: NodejsFunction;
  readonly redriveFunction: NodejsFunction;
  readonly coordinatorFunctions: CoordinatorFunctions;
  readonly stateMachines: LayoutStateMachines;
  /** The token table: its throttles. */
  readonly table: dynamodb.ITable;
  /** One per topic: their EventCount, ErrorCount and KafkaMetrics groups. */
  readonly eventSourceMappings: readonly lambda.EventSourceMapping[];
}

/** The alarms and dashboard of one processor, created in the TrackingProcessor's scope. */
export class ProcessorMonitoring {
  private readonly dispatchFunction: NodejsFunction;
  private readonly workerFunction?: NodejsFunction;
  private readonly redriveFunction: NodejsFunction;
  private readonly coordinatorFunctions: CoordinatorFunctions;
  private readonly stateMachines: LayoutStateMachines;
  private readonly table: dynamodb.ITable;
  private readonly mappings: readonly lambda.EventSourceMapping[];

  constructor(
    private readonly scope: Construct,
    resources: MonitoredResources,
    private readonly settings: Pick<ResolvedSettings, 'alarms' | 'processorName' | 'topics'>,
  ) {
    this.dispatchFunction = resources.dispatchFunction;
    this.workerFunction = resources.workerFunction;
    this.redriveFunction = resources.redriveFunction;
    this.coordinatorFunctions = resources.coordinatorFunctions;
    this.stateMachines = resources.stateMachines;
    this.table = resources.table;
    this.mappings = resources.eventSourceMappings;
  }

  /** One alarm per failure an operator must see, named `<id>Alarm`. */
  createAlarms(): Record<string, cloudwatch.Alarm> {
    const { alarms: a, processorName } = this.settings;
    const alarms: Record<string, cloudwatch.Alarm> = {};
    const add = (
      id: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      evaluationPeriods = 1,
      comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) => {
      // Every alarm here watches something that is only reported when it happens (or while the processor runs):
      // silence is not a failure.
      const alarm = new cloudwatch.Alarm(this.scope, `${id}Alarm`, {
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Tidemark ${processorName}: ${description}`,
      });
      alarm.addAlarmAction(...a.actions);
      alarms[id] = alarm;
    };
    const sum = { period: a.period, statistic: cloudwatch.Stats.SUM };
    add(
      'DispatchErrors',
      this.dispatchFunction.metricErrors(sum),
      1,
      'the dispatch function failed (Lambda retries the batch)',
    );
    add('DispatchThrottles', this.dispatchFunction.metricThrottles(sum), 1, 'the dispatch function was throttled');
    if (this.workerFunction) {
      add(
        'WorkerErrors',
        this.workerFunction.metricErrors(sum),
        1,
        'a segment worker failed (its records are handed back)',
      );
      add(
        'WorkerThrottles',
        this.workerFunction.metricThrottles(sum),
        1,
        'segment workers hit their reserved concurrency',
      );
    }
    add('CoordinatorErrors', this.coordinatorErrors(), 1, 'a coordinator function failed');
    add('OffsetLag', this.offsetLag(), a.offsetLagThreshold, 'the consumer lags behind the topic', 3);
    add('RecordsFailed', this.recordsMetric('RecordsFailed'), a.recordsFailedThreshold, 'records were reported failed');
    add(
      'ParkedKeys',
      this.recordsMetric('ParkedKeys'),
      a.parkedKeysThreshold,
      'keys are parked: their records wait as dead letters (tidemark dead-letters list)',
    );
    add(
      'OldestParkedAgeSeconds',
      this.recordsMetric('OldestParkedAgeSeconds'),
      a.oldestParkedAgeSeconds,
      'a dead letter has been parked longer than the threshold (its redrives keep failing)',
      1,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    );
    add(
      'RecordsSkippedBySource',
      this.recordsMetric('RecordsSkippedBySource'),
      1,
      'the event source skipped offsets that were delivered and not done (see the on-failure destination)',
    );
    add(
      'RecordsUnparkable',
      this.recordsMetric('RecordsUnparkable'),
      1,
      'records could not be parked (parked-key bound reached or letter too large): their partition stops advancing',
    );
    add(
      'RedriveErrors',
      this.redriveFunction.metricErrors(sum),
      1,
      'the redrive function failed (the next scheduled run tries again)',
    );
    add(
      'TimeLagSeconds',
      this.recordsMetric('TimeLagSeconds'),
      a.timeLagSeconds,
      `a partition's newest checkpointed record is older than ${a.timeLagSeconds} s (the processor falls behind)`,
      2,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    );
    add(
      'StalledPartitions',
      this.recordsMetric('StalledPartitions'),
      1,
      'a partition has lag but its position did not move (a stuck key or partition: tidemark status)',
    );
    add(
      'HandlerDurationP99',
      this.handlerDuration('p99'),
      a.handlerDurationP99Ms,
      `the 99th percentile of handler calls took longer than ${a.handlerDurationP99Ms} ms`,
      1,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    );
    add(
      'RecordsHandedBack',
      this.recordsMetric('RecordsHandedBack'),
      a.recordsHandedBackThreshold,
      'many records were handed back to Lambda for redelivery (failures, blocked keys, drains, deadlines)',
    );
    add(
      'PartitionsAbandoned',
      this.recordsMetric('PartitionsAbandoned'),
      a.partitionsAbandonedThreshold,
      'partitions were handed back whole (claim held by another delivery, fenced, or the checkpoint failed)',
    );
    add(
      'FailureDestination',
      this.failureDestination(),
      1,
      'the event source gave up on records: sent to the on-failure destination, dropped, or their delivery failed',
    );
    add(
      'TokenTableThrottles',
      this.tableThrottles(),
      1,
      'the token table throttled reads or writes (claims and checkpoints are retried, batches slow down)',
    );
    add(
      'EventSourceDisabled',
      this.recordsMetric('EventSourceDisabledSeconds'),
      a.eventSourceDisabledSeconds,
      `the event source mappings have been disabled for ${a.eventSourceDisabledSeconds} s: re-enable them before the ` +
        "brokers drop the consumer groups' offsets (offsets.retention.minutes)",
    );
    for (const [id, machine] of Object.entries({
      Split: this.stateMachines.split,
      Merge: this.stateMachines.merge,
      Scale: this.stateMachines.scale,
    })) {
      add(`${id}Failed`, machine.metricFailed(sum), 1, `a ${id.toLowerCase()} execution failed or was rolled back`);
    }
    return alarms;
  }

  private coordinatorErrors(): cloudwatch.IMetric {
    const metrics = Object.fromEntries(
      Object.entries(this.coordinatorFunctions).map(([step, fn]) => [
        step,
        fn.metricErrors({ period: this.settings.alarms.period, statistic: cloudwatch.Stats.SUM }),
      ]),
    );
    return new cloudwatch.MathExpression({
      expression: Object.keys(metrics).join(' + '),
      usingMetrics: metrics,
      label: 'Coordinator errors',
      period: this.settings.alarms.period,
    });
  }

  /** Records the event source has not delivered yet (the largest across partitions). */
  private offsetLag(): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OffsetLag',
      dimensionsMap: { FunctionName: this.dispatchFunction.functionName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: this.settings.alarms.period,
    });
  }

  /**
   * Tidemark's EMF metrics (shared/observability/metrics.ts): counts are summed; gauges and ages (parked keys, the
   * oldest letter, time lag, stalled partitions, how long the event source has been disabled) are read at their
   * maximum.
   */
  private recordsMetric(name: TidemarkMetric, label?: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { Processor: this.settings.processorName },
      statistic: GAUGES.includes(name) ? cloudwatch.Stats.MAXIMUM : cloudwatch.Stats.SUM,
      period: this.settings.alarms.period,
      ...(label ? { label } : {}),
    });
  }

  /** Handler calls' duration (ms) at a percentile, from every call's `HandlerDuration`. */
  private handlerDuration(percentile: 'p50' | 'p99', label?: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: HANDLER_DURATION,
      dimensionsMap: { Processor: this.settings.processorName },
      statistic: percentile,
      period: this.settings.alarms.period,
      // A label would make an alarm's metric a metric-math query.
      ...(label ? { label } : {}),
    });
  }

  /** One of the event source mappings' own metrics (`AWS/Lambda`, by mapping), summed. */
  private mappingMetric(mapping: lambda.EventSourceMapping, name: string, statistic: string = cloudwatch.Stats.SUM) {
    return new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: name,
      dimensionsMap: { EventSourceMappingUUID: mapping.eventSourceMappingId },
      statistic,
      period: this.settings.alarms.period,
    });
  }

  /** The sum of metrics, a period with none of them reported counting 0. */
  private sumOf(label: string, metrics: readonly cloudwatch.IMetric[]): cloudwatch.MathExpression {
    const usingMetrics = Object.fromEntries(metrics.map((metric, i) => [`m${i}`, metric]));
    return new cloudwatch.MathExpression({
      expression: Object.keys(usingMetrics)
        .map((id) => `FILL(${id}, 0)`)
        .join(' + '),
      usingMetrics,
      label,
      period: this.settings.alarms.period,
    });
  }

  /** Records the mappings gave up on: sent to the on-failure destination, dropped, or not delivered there. */
  private failureDestination(): cloudwatch.MathExpression {
    return this.sumOf(
      'Records given up on by the event source',
      this.mappings.flatMap((mapping) => FAILURE_DESTINATION_METRICS.map((name) => this.mappingMetric(mapping, name))),
    );
  }

  /** Read and write throttle events of the token table. */
  private tableThrottles(): cloudwatch.MathExpression {
    const sum = { period: this.settings.alarms.period, statistic: cloudwatch.Stats.SUM };
    return this.sumOf('Token table throttles', [
      this.table.metric('ReadThrottleEvents', sum),
      this.table.metric('WriteThrottleEvents', sum),
    ]);
  }

  /** The processor's dashboard: lag, records, errors, durations, layout changes and dead letters. */
  createDashboard(): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this.scope, 'Dashboard');
    const graph = (title: string, left: cloudwatch.IMetric[]) => new cloudwatch.GraphWidget({ title, left, width: 12 });
    const functions = [
      this.dispatchFunction,
      ...(this.workerFunction ? [this.workerFunction] : []),
      this.redriveFunction,
    ];
    dashboard.addWidgets(
      graph('Offset lag (records)', [this.offsetLag()]),
      graph(
        'Records',
        (['RecordsHandled', 'RecordsFailed', 'RecordsSkipped'] as const).map((n) => this.recordsMetric(n)),
      ),
    );
    dashboard.addWidgets(
      graph('Errors and throttles', [
        ...functions.flatMap((fn) => [fn.metricErrors(), fn.metricThrottles()]),
        this.coordinatorErrors(),
      ]),
      graph(
        'Duration (p99)',
        functions.map((fn) => fn.metricDuration({ statistic: cloudwatch.Stats.p(99) })),
      ),
    );
    const machines = [this.stateMachines.split, this.stateMachines.merge, this.stateMachines.scale];
    dashboard.addWidgets(
      graph(
        'Layout changes',
        machines.flatMap((m) => [m.metricSucceeded(), m.metricFailed()]),
      ),
      graph(
        'Concurrent executions',
        functions.map((fn) => fn.metric('ConcurrentExecutions', { statistic: cloudwatch.Stats.MAXIMUM })),
      ),
    );
    const records = (names: TidemarkMetric[]) => names.map((n) => this.recordsMetric(n));
    dashboard.addWidgets(
      graph('Dead letters parked and redriven', records(['RecordsParked', 'RecordsRedriven'])),
      graph('Records skipped by the source or unparkable', records(['RecordsSkippedBySource', 'RecordsUnparkable'])),
    );
    dashboard.addWidgets(
      graph('Parked keys', records(['ParkedKeys'])),
      graph('Oldest parked letter (seconds)', records(['OldestParkedAgeSeconds'])),
    );
    dashboard.addWidgets(
      graph('Time lag (seconds)', [
        this.recordsMetric('TimeLagSeconds', 'Newest checkpointed record, age (max)'),
        this.recordsMetric('OldestRecordAgeSeconds', 'Oldest handled record, age (max)'),
        ...(this.settings.alarms.partitionDimension ? [this.partitionTimeLags()] : []),
      ]),
      graph('Handler duration (ms)', [
        this.handlerDuration('p50', 'Handler duration p50 (ms)'),
        this.handlerDuration('p99', 'Handler duration p99 (ms)'),
      ]),
    );
    dashboard.addWidgets(
      graph(
        'Handed back, abandoned and replay-skipped',
        records(['RecordsHandedBack', 'PartitionsAbandoned', 'RecordsReplaySkipped']),
      ),
      graph('Stalled partitions and disabled event source', [
        this.recordsMetric('StalledPartitions'),
        this.recordsMetric('EventSourceDisabledSeconds'),
      ]),
    );
    const byMapping = (names: readonly string[], statistic?: string) =>
      this.mappings.flatMap((mapping, i) =>
        names.map((name) =>
          this.mappingMetric(mapping, name, statistic).with({ label: `${name} (${this.settings.topics[i]})` }),
        ),
      );
    dashboard.addWidgets(
      graph('Event source: records', byMapping(EVENT_COUNT_METRICS)),
      graph('Event source: errors', byMapping(ERROR_COUNT_METRICS)),
    );
    dashboard.addWidgets(
      graph(
        'Event source: offset lag (records)',
        byMapping(['MaxOffsetLag', 'SumOffsetLag'], cloudwatch.Stats.MAXIMUM),
      ),
      graph('Token table throttles', [this.tableThrottles()]),
    );
    return dashboard;
  }

  /** Every partition's time lag (with `alarms.partitionDimension`): one line per `Partition`. */
  private partitionTimeLags(): cloudwatch.MathExpression {
    const period = this.settings.alarms.period;
    return new cloudwatch.MathExpression({
      expression:
        `SEARCH('{${METRICS_NAMESPACE},Processor,Partition} MetricName="TimeLagSeconds" ` +
        `Processor="${this.settings.processorName}"', 'Maximum', ${period.toSeconds()})`,
      label: 'Partition',
      period,
    });
  }
}

/**
 * Tidemark's metrics the construct reads: the dispatcher's counts and lags, the dead-letter counts and gauges, and the
 * admin function's lag sampler's gauges.
 */
type TidemarkMetric =
  | 'RecordsHandled'
  | 'RecordsFailed'
  | 'RecordsSkipped'
  | 'RecordsParked'
  | 'RecordsRedriven'
  | 'RecordsSkippedBySource'
  | 'RecordsUnparkable'
  | 'RecordsHandedBack'
  | 'PartitionsAbandoned'
  | 'RecordsReplaySkipped'
  | 'ParkedKeys'
  | 'OldestParkedAgeSeconds'
  | 'TimeLagSeconds'
  | 'OldestRecordAgeSeconds'
  | 'StalledPartitions'
  | 'EventSourceDisabledSeconds';
const GAUGES: readonly TidemarkMetric[] = [
  'ParkedKeys',
  'OldestParkedAgeSeconds',
  'TimeLagSeconds',
  'OldestRecordAgeSeconds',
  'StalledPartitions',
  'EventSourceDisabledSeconds',
];

/** The event source mappings' EventCount metrics (`metricsConfig`), and those of records Lambda gave up on. */
const EVENT_COUNT_METRICS = [
  'PolledEventCount',
  'InvokedEventCount',
  'FailedInvokeEventCount',
  'DroppedEventCount',
  'OnFailureDestinationDeliveredEventCount',
  'CommittedEventCount',
] as const;
const FAILURE_DESTINATION_METRICS = [
  'OnFailureDestinationDeliveredEventCount',
  'DroppedEventCount',
  'OnFailureDestinationDeliveryErrorCount',
] as const;
/** Their ErrorCount metrics (Kafka only, reported only when errors happen). */
const ERROR_COUNT_METRICS = [
  'PollingErrorCount',
  'InvokeErrorCount',
  'CommitErrorCount',
  'OnFailureDestinationDeliveryErrorCount',
] as const;
