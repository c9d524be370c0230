import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../shared/observability/metrics.js';
import type { CoordinatorFunctions, LayoutStateMachines } from './layout-state-machines.js';
import type { ResolvedSettings } from './resolve-props.js';

/** What the alarms and the dashboard watch. */
export interface MonitoredResources {
  readonly dispatchFunction: NodejsFunction;
  readonly workerFunction?: NodejsFunction;
  readonly redriveFunction: NodejsFunction;
  readonly coordinatorFunctions: CoordinatorFunctions;
  readonly stateMachines: LayoutStateMachines;
}

/** The alarms and dashboard of one processor, created in the TrackingProcessor's scope. */
export class ProcessorMonitoring {
  private readonly dispatchFunction: NodejsFunction;
  private readonly workerFunction?: NodejsFunction;
  private readonly redriveFunction: NodejsFunction;
  private readonly coordinatorFunctions: CoordinatorFunctions;
  private readonly stateMachines: LayoutStateMachines;

  constructor(
    private readonly scope: Construct,
    resources: MonitoredResources,
    private readonly settings: Pick<ResolvedSettings, 'alarms' | 'processorName'>,
  ) {
    this.dispatchFunction = resources.dispatchFunction;
    this.workerFunction = resources.workerFunction;
    this.redriveFunction = resources.redriveFunction;
    this.coordinatorFunctions = resources.coordinatorFunctions;
    this.stateMachines = resources.stateMachines;
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
   * Tidemark's EMF metrics (shared/metrics.ts): counts are summed; the gauges the redrive function reports (parked
   * keys, the age of the oldest letter) are read at their maximum.
   */
  private recordsMetric(name: TidemarkMetric): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { Processor: this.settings.processorName },
      statistic: GAUGES.includes(name) ? cloudwatch.Stats.MAXIMUM : cloudwatch.Stats.SUM,
      period: this.settings.alarms.period,
    });
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
    return dashboard;
  }
}

/** Tidemark's metrics the construct reads: the dispatcher's counts and the dead-letter counts and gauges. */
type TidemarkMetric =
  | 'RecordsHandled'
  | 'RecordsFailed'
  | 'RecordsSkipped'
  | 'RecordsParked'
  | 'RecordsRedriven'
  | 'RecordsSkippedBySource'
  | 'RecordsUnparkable'
  | 'ParkedKeys'
  | 'OldestParkedAgeSeconds';
const GAUGES: readonly TidemarkMetric[] = ['ParkedKeys', 'OldestParkedAgeSeconds'];
