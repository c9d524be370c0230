import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DEFAULT_LAMBDA_RETRY_ATTEMPTS } from '../shared/dead-letters/dead-letter-policy.js';
import type { ProcessingMode } from '../shared/processing/handlers.js';
import {
  CONCURRENCY,
  COORDINATOR_ENV,
  DEFAULT_COORDINATOR_SETTINGS,
  DISPATCHER_ENV,
  LOG_LEVELS,
  metricsPartitionDimensionToEnv,
  PROCESSOR_NAME,
  TABLE_NAME,
  TOPIC_NAME,
  resolveDispatcherSettings,
  settingsToEnv,
  topicsProblem,
  type CoordinatorSettings as CoordinatorValues,
  type DispatcherSettings,
} from '../shared/settings.js';
import { describeValue, TrackingProcessorConfigError } from './config-error.js';
import type { ProcessorModule } from './processor-module.js';
import {
  SelfManagedKafkaAuth,
  type AlarmSettings,
  type CoordinatorSettings,
  type DeadLetterSettings,
  type DispatchFunctionSettings,
  type EventSourceSettings,
  type KafkaNetwork,
  type RuntimeSettings,
  type TokenTableSettings,
  type TrackingProcessorProps,
  type WorkerFunctionSettings,
} from './props.js';

const MODES: readonly ProcessingMode[] = ['inline', 'fan-out'];
const CONSUMER_GROUP = /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/;
const CLUSTER_ARN = /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9-]+\/[A-Za-z0-9-]+$/;
const BROKER = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const STARTING_POSITIONS = [
  lambda.StartingPosition.TRIM_HORIZON,
  lambda.StartingPosition.LATEST,
  lambda.StartingPosition.AT_TIMESTAMP,
];

/** Every setting of a TrackingProcessor, defaults applied and checked. */
export type ResolvedSettings = ReturnType<typeof resolveSettings>;

/**
 * Applies the defaults and checks every setting; the first bad one throws. Name, topics and concurrency are the
 * processor module's; the same props given to the construct must match them.
 */
export function resolveSettings(props: TrackingProcessorProps, module: ProcessorModule) {
  const processorName = matching('processorName', props.processorName, module.name, module.entry);
  if (!PROCESSOR_NAME.pattern.test(processorName)) fail('processorName', processorName, PROCESSOR_NAME.allowed);
  checkCluster(props);
  const topics = checkTopics(matching('topics', props.topics, module.topics, module.entry));
  const concurrency = matching('concurrency', props.concurrency, module.concurrency, module.entry);
  const mode = props.mode ?? 'inline';
  if (!MODES.includes(mode)) fail('mode', mode, MODES.map((m) => `'${m}'`).join(' or '));
  const dispatch = dispatchSettings(props.dispatch);
  const runtime = runtimeSettings(props.runtime, dispatch.timeout);
  const eventSource = eventSourceSettings(props.eventSource ?? {}, processorName, topics);
  const coordinator = coordinatorSettings(props.coordinator ?? {}, runtime.dispatcher.layoutTtlMs);
  const alarms = alarmSettings(props.alarms ?? {});
  checkRetryBudget(
    eventSource.eventSource.retryAttempts,
    dispatch.timeout,
    runtime.dispatcher,
    coordinator.coordinatorValues,
  );
  return {
    processorName,
    topics,
    sequencing: module.sequencing,
    processorEntry: module.entry,
    msk: props.msk,
    selfManagedKafka: props.selfManagedKafka,
    concurrency: wholeNumber('concurrency', concurrency, CONCURRENCY.min, CONCURRENCY.max),
    mode,
    ...eventSource,
    dispatch,
    worker: workerSettings(props.worker ?? {}, mode),
    ...runtime,
    // The alarms' partition dimension reaches the dispatcher and the worker with the other runtime settings.
    runtimeEnv: { ...runtime.runtimeEnv, ...alarms.runtimeEnv },
    ...coordinator,
    table: tableSettings(props.table ?? {}),
    alarms,
    deadLetters: deadLetterSettings(props.deadLetters ?? {}),
    logRetention: logRetention(props.logRetention),
  };
}

function fail(setting: string, given: unknown, allowed: string): never {
  throw new TrackingProcessorConfigError(setting, given, allowed);
}

function wholeNumber(setting: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(setting, value, `a whole number from ${min} to ${max}`);
  }
  return value;
}

function checkTopics(topics: readonly string[]): readonly string[] {
  const problem = topicsProblem(topics);
  if (problem) fail('topics', topics, problem);
  return topics;
}

/**
 * The processor module's value of a setting; when the construct was given one too, it must be the same, so a
 * construct never deploys or grants for another processor than the one it bundles.
 */
function matching<T>(setting: string, given: T | undefined, fromModule: T, entry: string): T {
  if (given !== undefined && JSON.stringify(given) !== JSON.stringify(fromModule)) {
    throw new TrackingProcessorConfigError(
      setting,
      given,
      `the processor module's value, ${describeValue(fromModule)} (${entry}); drop ${setting} from the props or make them agree`,
    );
  }
  return fromModule;
}

function checkCluster({ msk, selfManagedKafka }: TrackingProcessorProps): void {
  if (msk && selfManagedKafka) fail('msk and selfManagedKafka', 'both', 'exactly one of them');
  if (!msk && !selfManagedKafka) fail('msk and selfManagedKafka', 'neither', 'exactly one of them');
  if (msk) {
    if (!Token.isUnresolved(msk.clusterArn) && !CLUSTER_ARN.test(msk.clusterArn)) {
      fail('msk.clusterArn', msk.clusterArn, 'arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>');
    }
    if (!msk.network) fail('msk.network', undefined, "the cluster's subnets and security groups");
    checkNetwork('msk.network', msk.network);
  }
  if (selfManagedKafka) {
    const { bootstrapServers, authentication, network } = selfManagedKafka;
    if (bootstrapServers.length === 0) fail('selfManagedKafka.bootstrapServers', [], 'one or more host:port');
    for (const broker of bootstrapServers) {
      if (!BROKER.test(broker)) {
        fail('selfManagedKafka.bootstrapServers', broker, 'host:port, e.g. broker-1.example.com:9096');
      }
    }
    const auths = Object.values(SelfManagedKafkaAuth);
    if (!auths.includes(authentication)) fail('selfManagedKafka.authentication', authentication, auths.join(', '));
    if (network) checkNetwork('selfManagedKafka.network', network);
  }
}

function checkNetwork(setting: string, network: KafkaNetwork): void {
  if (network.subnets.length === 0) fail(`${setting}.subnets`, [], 'one or more subnets');
  if (network.securityGroups.length === 0) fail(`${setting}.securityGroups`, [], 'one or more security groups');
}

function eventSourceSettings(e: EventSourceSettings, processorName: string, topics: readonly string[]) {
  const windowMs = e.maxBatchingWindow?.toMilliseconds() ?? 0;
  if (windowMs % 1000 !== 0 || windowMs > 300_000) {
    // CloudFormation takes whole seconds; leaving it unset keeps Lambda's 500 ms.
    fail(
      'eventSource.maxBatchingWindow',
      e.maxBatchingWindow!.toHumanString(),
      'whole seconds up to 5 minutes, or unset',
    );
  }
  const startingPosition = e.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON;
  if (!STARTING_POSITIONS.includes(startingPosition)) {
    fail('eventSource.startingPosition', startingPosition, STARTING_POSITIONS.join(', '));
  }
  if ((startingPosition === lambda.StartingPosition.AT_TIMESTAMP) !== (e.startingPositionTimestamp !== undefined)) {
    fail(
      'eventSource.startingPositionTimestamp',
      e.startingPositionTimestamp,
      'a Unix time in seconds with startingPosition AT_TIMESTAMP, and none otherwise',
    );
  }
  // Lambda needs a consumer group of its own per mapping.
  const groupId = e.consumerGroupId ?? `tidemark-${processorName}`;
  const consumerGroupIds: Record<string, string> = Object.fromEntries(
    topics.map((topic) => [topic, topics.length === 1 ? groupId : `${groupId}-${topic}`]),
  );
  for (const id of Object.values(consumerGroupIds)) {
    if (!CONSUMER_GROUP.test(id)) {
      fail('eventSource.consumerGroupId', id, "1 to 200 characters of letters, digits and '-/*:_+=.@'");
    }
  }
  const minimum = wholeNumber('eventSource.provisionedPollers.minimum', e.provisionedPollers?.minimum ?? 1, 1, 200);
  const maximum = wholeNumber('eventSource.provisionedPollers.maximum', e.provisionedPollers?.maximum ?? 200, 1, 2000);
  if (minimum > maximum) fail('eventSource.provisionedPollers', { minimum, maximum }, 'minimum at most maximum');
  const retryAttempts = e.retryAttempts ?? DEFAULT_LAMBDA_RETRY_ATTEMPTS;
  if (retryAttempts !== -1 && !(Number.isInteger(retryAttempts) && retryAttempts >= 0 && retryAttempts <= 10_000)) {
    fail(
      'eventSource.retryAttempts',
      retryAttempts,
      '-1 (until the record leaves Kafka) or a whole number from 0 to 10000',
    );
  }
  const ageSeconds = e.maxRecordAge?.toSeconds();
  if (ageSeconds !== undefined && (ageSeconds < 60 || ageSeconds > 604_800)) {
    fail('eventSource.maxRecordAge', e.maxRecordAge!.toHumanString(), '60 seconds to 7 days, or unset for infinite');
  }
  const onFailure = e.onFailure;
  if (onFailure?.type === 'none' && retryAttempts === -1) {
    fail(
      'eventSource.retryAttempts',
      '-1 (infinite) with onFailure none',
      'a finite retryAttempts (0 to 10000) or an on-failure destination: with neither, a record that never ' +
        "succeeds stalls its partition until Kafka's retention deletes it, unseen",
    );
  }
  if (onFailure?.type === 'kafka' && !TOPIC_NAME.pattern.test(onFailure.topic)) {
    fail('eventSource.onFailure.topic', onFailure.topic, TOPIC_NAME.allowed);
  }
  if (onFailure?.type === 'kafka' && topics.includes(onFailure.topic)) {
    fail('eventSource.onFailure.topic', onFailure.topic, 'a topic the processor does not consume');
  }
  return {
    consumerGroupIds,
    eventSource: {
      batchSize: wholeNumber('eventSource.batchSize', e.batchSize ?? 100, 1, 10_000),
      maxBatchingWindow: e.maxBatchingWindow,
      startingPosition,
      startingPositionTimestamp: e.startingPositionTimestamp,
      provisionedPollers: { minimum, maximum },
      retryAttempts,
      maxRecordAge: e.maxRecordAge,
      bisectBatchOnError: e.bisectBatchOnError ?? false,
    },
  };
}

function dispatchSettings(d: DispatchFunctionSettings = {}) {
  const timeout = d.timeout ?? Duration.minutes(5);
  if (timeout.toSeconds() < 10 || timeout.toSeconds() > 840) {
    fail('dispatch.timeout', timeout.toHumanString(), '10 seconds to 14 minutes (the Kafka trigger limit)');
  }
  return { memorySize: wholeNumber('dispatch.memorySize', d.memorySize ?? 1024, 128, 10_240), timeout };
}

function workerSettings(w: WorkerFunctionSettings, mode: ProcessingMode) {
  if (mode !== 'fan-out' && (w.memorySize !== undefined || w.reservedConcurrency !== undefined)) {
    fail('worker', w, "no worker settings unless mode is 'fan-out' (inline mode has no segment worker)");
  }
  if (w.reservedConcurrency !== undefined) wholeNumber('worker.reservedConcurrency', w.reservedConcurrency, 1, 10_000);
  return {
    memorySize: wholeNumber('worker.memorySize', w.memorySize ?? 1024, 128, 10_240),
    reservedConcurrency: w.reservedConcurrency,
  };
}

/**
 * Hand-backs that are not a record's fault count against Lambda's retry limit like failures: a partition handed
 * back more than `retryAttempts` times in a row goes to the on-failure destination. Refuses settings under which a
 * drain or a claim held by a dead invocation alone could use the budget up.
 */
function checkRetryBudget(
  retryAttempts: number,
  timeout: Duration,
  runtime: DispatcherSettings,
  coordinator: CoordinatorValues,
): void {
  if (retryAttempts === -1) return;
  const deliveries = retryAttempts + 1;
  // A dispatcher waits for a drain at most until its own deadline, less the lease safety margin.
  const perDelivery = Math.min(
    runtime.drainWaitMs,
    timeout.toMilliseconds() - runtime.checkpointReserveMs - runtime.leaseSafetyMs,
  );
  const drain = coordinator.drainTimeoutMs + coordinator.clockSkewMs;
  if (deliveries * perDelivery <= drain) {
    fail(
      'runtime.drainWaitMs',
      runtime.drainWaitMs,
      `a wait that, over the ${deliveries} deliveries eventSource.retryAttempts (${retryAttempts}) allows, outlasts a drain (coordinator.drainTimeoutMs + clockSkewMs = ${drain} ms): ${deliveries} × ${perDelivery} ms is not enough; raise runtime.drainWaitMs (up to dispatch.timeout) or eventSource.retryAttempts`,
    );
  }
  if (deliveries * runtime.claimWaitMs <= runtime.leaseMs) {
    fail(
      'runtime.claimWaitMs',
      runtime.claimWaitMs,
      `a wait that, over the ${deliveries} deliveries eventSource.retryAttempts (${retryAttempts}) allows, outlasts the lease of a claim left by a dead invocation (runtime.leaseMs ${runtime.leaseMs} ms)`,
    );
  }
}

/** The dispatcher's environment, checked by the dispatcher's own rules so synth and runtime agree. */
function runtimeSettings(r: RuntimeSettings = {}, timeout: Duration) {
  const { logLevel = 'info', ...given } = r;
  if (!LOG_LEVELS.includes(logLevel)) fail('runtime.logLevel', logLevel, LOG_LEVELS.join(', '));
  let settings: DispatcherSettings;
  try {
    settings = resolveDispatcherSettings(given);
  } catch (error) {
    return fail('runtime', given, `settings the dispatcher accepts: ${(error as Error).message}`);
  }
  if (settings.checkpointReserveMs >= timeout.toMilliseconds()) {
    fail(
      'runtime.checkpointReserveMs',
      settings.checkpointReserveMs,
      `less than dispatch.timeout (${timeout.toMilliseconds()} ms)`,
    );
  }
  return { logLevel, dispatcher: settings, runtimeEnv: settingsToEnv(DISPATCHER_ENV, settings) };
}

function coordinatorSettings(c: CoordinatorSettings, layoutTtlMs: number) {
  const defaults = DEFAULT_COORDINATOR_SETTINGS;
  const ms = (name: string, value: number) => wholeNumber(`coordinator.${name}`, value, 0, 86_400_000);
  const drainTimeoutMs = ms('drainTimeoutMs', c.drainTimeoutMs ?? defaults.drainTimeoutMs);
  const changeTimeout = c.changeTimeout ?? Duration.hours(1);
  if (changeTimeout.toMilliseconds() <= drainTimeoutMs) {
    fail(
      'coordinator.changeTimeout',
      changeTimeout.toHumanString(),
      `more than coordinator.drainTimeoutMs (${drainTimeoutMs} ms), so a timed-out drain can still roll back`,
    );
  }
  const scaleTimeout = c.scaleTimeout ?? Duration.hours(6);
  if (scaleTimeout.toMilliseconds() < changeTimeout.toMilliseconds()) {
    fail(
      'coordinator.scaleTimeout',
      scaleTimeout.toHumanString(),
      `at least coordinator.changeTimeout (${changeTimeout.toHumanString()})`,
    );
  }
  const coordinatorValues: CoordinatorValues = {
    // The dispatchers' value: the drain must wait at least as long as a dispatcher may use an old layout.
    layoutTtlMs,
    clockSkewMs: ms('clockSkewMs', c.clockSkewMs ?? defaults.clockSkewMs),
    drainTimeoutMs,
    pollSeconds: wholeNumber('coordinator.drainPollSeconds', c.drainPollSeconds ?? defaults.pollSeconds, 1, 3600),
    staleChangeGraceMs: ms('staleChangeGraceMs', c.staleChangeGraceMs ?? defaults.staleChangeGraceMs),
  };
  return {
    coordinator: { changeTimeout, scaleTimeout },
    coordinatorValues,
    coordinatorEnv: settingsToEnv(COORDINATOR_ENV, coordinatorValues),
  };
}

function tableSettings(t: TokenTableSettings) {
  if (t.tableName !== undefined && !TABLE_NAME.pattern.test(t.tableName)) {
    fail('table.tableName', t.tableName, TABLE_NAME.allowed);
  }
  const encryption = t.encryption ?? 'aws-managed';
  if (encryption !== 'aws-managed' && encryption !== 'aws-owned') {
    fail('table.encryption', encryption, "'aws-managed' or 'aws-owned'");
  }
  const removalPolicy = t.removalPolicy ?? RemovalPolicy.RETAIN;
  const removalPolicies = [RemovalPolicy.RETAIN, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, RemovalPolicy.DESTROY];
  if (!removalPolicies.includes(removalPolicy)) {
    // CloudFormation cannot snapshot a DynamoDB table.
    fail('table.removalPolicy', removalPolicy, removalPolicies.join(', '));
  }
  const deletionProtection = t.deletionProtection ?? true;
  if (removalPolicy === RemovalPolicy.DESTROY && deletionProtection) {
    fail(
      'table.removalPolicy',
      'destroy with deletionProtection on',
      'destroy together with deletionProtection: false (a protected table makes the stack deletion fail), or retain',
    );
  }
  return { tableName: t.tableName, deletionProtection, removalPolicy, encryption };
}

function alarmSettings(a: AlarmSettings) {
  const period = a.period ?? Duration.minutes(5);
  if (period.toSeconds() < 60 || period.toSeconds() % 60 !== 0) {
    fail('alarms.period', period.toHumanString(), 'a whole number of minutes');
  }
  const threshold = (name: string, value: number) => wholeNumber(`alarms.${name}`, value, 1, Number.MAX_SAFE_INTEGER);
  const partitionDimension = a.partitionDimension ?? false;
  if (typeof partitionDimension !== 'boolean') fail('alarms.partitionDimension', partitionDimension, 'true or false');
  return {
    period,
    offsetLagThreshold: threshold('offsetLagThreshold', a.offsetLagThreshold ?? 10_000),
    recordsFailedThreshold: threshold('recordsFailedThreshold', a.recordsFailedThreshold ?? 1),
    parkedKeysThreshold: threshold('parkedKeysThreshold', a.parkedKeysThreshold ?? 1),
    oldestParkedAgeSeconds: oldestParkedAge(a.oldestParkedAgeThreshold ?? Duration.hours(1)),
    timeLagSeconds: durationIn('alarms.timeLagThreshold', a.timeLagThreshold ?? Duration.minutes(5), {
      unit: 1_000,
      min: 60_000,
      max: 7 * 86_400_000,
      allowed: 'whole seconds from 1 minute to 7 days',
    }),
    handlerDurationP99Ms: durationIn(
      'alarms.handlerDurationP99Threshold',
      a.handlerDurationP99Threshold ?? Duration.seconds(30),
      { unit: 1, min: 1, max: 900_000, allowed: 'whole milliseconds from 1 ms to 15 minutes' },
    ),
    recordsHandedBackThreshold: threshold('recordsHandedBackThreshold', a.recordsHandedBackThreshold ?? 1_000),
    partitionsAbandonedThreshold: threshold('partitionsAbandonedThreshold', a.partitionsAbandonedThreshold ?? 1),
    eventSourceDisabledSeconds:
      durationIn('alarms.eventSourceDisabledThreshold', a.eventSourceDisabledThreshold ?? Duration.days(6), {
        unit: 60_000,
        min: 3_600_000,
        max: 30 * 86_400_000,
        allowed: 'whole minutes from 1 hour to 30 days',
      }) * 60,
    partitionDimension,
    runtimeEnv: metricsPartitionDimensionToEnv(partitionDimension),
    actions: a.actions ?? [],
  };
}

/**
 * A duration as a whole number of `unit` ms (1 000: seconds, 60 000: minutes), from `min` to `max` ms; otherwise the
 * setting fails naming what is allowed.
 */
function durationIn(
  setting: string,
  duration: Duration,
  rule: { unit: number; min: number; max: number; allowed: string },
): number {
  const ms = duration.toMilliseconds();
  if (ms % rule.unit !== 0 || ms < rule.min || ms > rule.max) fail(setting, duration.toHumanString(), rule.allowed);
  return ms / rule.unit;
}

function oldestParkedAge(age: Duration): number {
  const ms = age.toMilliseconds();
  if (ms % 1000 !== 0 || ms < 60_000 || ms > 30 * 86_400_000) {
    fail('alarms.oldestParkedAgeThreshold', age.toHumanString(), 'whole seconds from 1 minute to 30 days');
  }
  return ms / 1000;
}

function deadLetterSettings(d: DeadLetterSettings) {
  const redriveTimeout = d.redriveTimeout ?? Duration.minutes(5);
  const timeoutMs = redriveTimeout.toMilliseconds();
  if (timeoutMs % 1000 !== 0 || timeoutMs < 60_000 || timeoutMs > 900_000) {
    fail('deadLetters.redriveTimeout', redriveTimeout.toHumanString(), 'whole seconds from 1 to 15 minutes');
  }
  const schedule = d.schedule ?? Duration.minutes(1);
  const scheduleMs = schedule.toMilliseconds();
  if (scheduleMs % 60_000 !== 0 || scheduleMs < 60_000 || scheduleMs > 1440 * 60_000) {
    fail('deadLetters.schedule', schedule.toHumanString(), 'a whole number of minutes from 1 to 1440 (a day)');
  }
  return {
    redriveTimeout,
    // rate() takes one unit; whole minutes keep it exact.
    schedule: Duration.minutes(scheduleMs / 60_000),
    keysPerRun: wholeNumber('deadLetters.keysPerRun', d.keysPerRun ?? 50, 1, 1000),
  };
}

function logRetention(retention = logs.RetentionDays.ONE_MONTH): logs.RetentionDays {
  if (!Object.values(logs.RetentionDays).includes(retention)) {
    fail('logRetention', retention, 'a RetentionDays value, e.g. 1, 7, 14, 30, 90, 365');
  }
  return retention;
}
