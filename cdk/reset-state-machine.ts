import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EVENT_SOURCES_ENV } from '../shared/operations/lambda-event-source-control.js';
import { RESET_RETRIED_ERRORS } from '../shared/reset/reset-steps.js';
import {
  ENV,
  KafkaAuth,
  kafkaAdminSettingsToEnv,
  RESET_ENV,
  resolveKafkaAdminSettings,
  resolveResetSettings,
  type KafkaAdminSettings,
} from '../shared/settings.js';
import { tokenKeys } from '../shared/tokens/token-table.js';
import { TrackingProcessorConfigError } from './config-error.js';
import { BUNDLING } from './function-entries.js';
import { nagResource } from './nag.js';
import { mskArn } from './msk-arn.js';
import { placeInNetwork } from './network-access.js';
import type { KafkaNetwork } from './props.js';
import { TABLE_ACTIONS } from './table-actions.js';

/** The reset's step functions (`functions/reset/`), one per task state. */
export interface ResetFunctions {
  readonly disable: lambda.IFunction;
  readonly check: lambda.IFunction;
  readonly plan: lambda.IFunction;
  readonly move: lambda.IFunction;
  readonly write: lambda.IFunction;
  readonly enable: lambda.IFunction;
}

/** One of the processor's event source mappings: its topic and the consumer group it reads with. */
export interface ResetEventSource {
  readonly topic: string;
  readonly consumerGroupId: string;
  readonly mapping: lambda.IEventSourceMapping;
}

/** How the reset's functions reach the Kafka cluster (they read offsets and move the groups'). */
export interface ResetKafkaAccess {
  /** Bootstrap brokers (`host:port`) of a self-managed cluster. @default none: MSK's, from GetBootstrapBrokers */
  readonly brokers?: readonly string[];
  /** The MSK cluster (IAM authentication unless `auth` says otherwise). */
  readonly mskClusterArn?: string;
  /** @default "msk-iam" with `mskClusterArn`, else "none" */
  readonly auth?: KafkaAuth;
  /** SASL/SCRAM only: the secret holding `{"username", "password"}` (read, and decrypted with its key). */
  readonly secret?: secretsmanager.ISecret;
  /** The cluster's subnets and security groups: the Kafka-facing functions run there. @default not in a VPC */
  readonly network?: KafkaNetwork;
}

/** Settings of {@link ResetStateMachine}. */
export interface ResetStateMachineProps {
  /** The processor reset (its items in the token table are the only ones the functions reach). */
  readonly processorName: string;
  readonly table: dynamodb.ITable;
  /** The processor's event source mappings, one per topic: paused during a reset. At least one. */
  readonly eventSources: readonly ResetEventSource[];
  readonly kafka: ResetKafkaAccess;
  /** Longest a reset may run. @default Duration.hours(1) */
  readonly timeout?: Duration;
  /** How long to wait for the consumer groups to be empty after disabling the mappings. @default Duration.minutes(10) */
  readonly emptyGroupTimeout?: Duration;
  /** Time between two checks of the groups. @default Duration.seconds(10) */
  readonly pollInterval?: Duration;
  /** Where executions log (level ALL, with execution data). @default a log group of its own, kept `logRetention` */
  readonly logGroup?: logs.ILogGroup;
  /** Retention of the functions' log groups (and the executions' own one). @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The step functions to call; when given they are used as they are (no roles or grants are made). @default functions of its own */
  readonly functions?: ResetFunctions;
}

/** State names, shared with the local runner (aws-local-stepfunctions overrides tasks by state name). */
export const RESET_STATE_NAMES = {
  disable: 'Disable event sources',
  wait: 'Wait for groups',
  check: 'Check groups',
  empty: 'Groups empty?',
  plan: 'Plan reset',
  move: 'Move group offsets',
  write: 'Write reset tokens',
  enable: 'Enable event sources',
  done: 'Reset done',
  reenable: 'Enable event sources again',
  failed: 'Reset failed',
  refused: 'Reset refused',
} as const;

/** Which step function each task state calls. */
export const RESET_TASK_FUNCTIONS: Readonly<Record<string, keyof ResetFunctions>> = {
  [RESET_STATE_NAMES.disable]: 'disable',
  [RESET_STATE_NAMES.check]: 'check',
  [RESET_STATE_NAMES.plan]: 'plan',
  [RESET_STATE_NAMES.move]: 'move',
  [RESET_STATE_NAMES.write]: 'write',
  [RESET_STATE_NAMES.enable]: 'enable',
  [RESET_STATE_NAMES.reenable]: 'enable',
};

/** Where the package's own files are, as in function-entries.ts: source (tsx) or built (dist). */
const HERE = fileURLToPath(import.meta.url);
const ROOT = join(dirname(HERE), '..');
const EXT = extname(HERE);

/** The entry point of a reset step, shipped with the package. */
export function resetEntry(step: keyof ResetFunctions): string {
  return join(ROOT, 'functions', 'reset', `${step}${EXT}`);
}

/**
 * The Standard state machine that resets a processor's tokens without stopping the fleet (issue #14): disable the
 * event source mappings → wait until every consumer group is empty → plan → move the groups' offsets → write the reset
 * tokens, one fenced write per partition → enable the mappings. A failure after disabling enables them again and fails
 * the execution with the step's error; a bad request fails before anything is disabled. Start it with the input
 * `resetExecutionInput(...)` builds, named by the reset id, so a repeated request joins the running execution.
 *
 * Every function has a role of its own: the table's items of this processor only (leading keys) with the actions its
 * step calls, the mappings' Get/Update for the steps that pause and check them, and for the Kafka-facing steps the
 * MSK cluster's, topics' and groups' actions they need, or the SCRAM secret, and the cluster's network.
 */
export class ResetStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: ResetFunctions;

  constructor(scope: Construct, id: string, props: ResetStateMachineProps) {
    super(scope, id);
    const kafka = validate(props);
    this.functions = props.functions ?? this.createFunctions(props, kafka);
    this.stateMachine = this.machine(props);
    this.acknowledgeStateMachineFindings();
  }

  /** The state machine role: CDK's log delivery and X-Ray statements, and invoke grants that include `:*`. */
  private acknowledgeStateMachineFindings(): void {
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CloudWatch Logs vended delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) ' +
        'support no resource-level permissions; Step Functions needs them to log ALL events and trace.',
    });
    for (const fn of new Set(Object.values(this.functions))) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions-IAM5[${nagResource(this, `${fn.functionArn}:*`)}]`,
        reason: 'LambdaInvoke grants the step function and its versions (ARN:*); the task calls this one function.',
      });
    }
  }

  private machine(props: ResetStateMachineProps): sfn.StateMachine {
    const scope = new Construct(this, 'Definition');
    const names = RESET_STATE_NAMES;
    const fns = this.functions;
    const failed = new sfn.Fail(scope, names.failed, { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const refused = new sfn.Fail(scope, names.refused, { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const reenable = this.task(scope, names.reenable, fns.enable, '$.reenabled', 6).next(failed);
    const disable = this.task(scope, names.disable, fns.disable, '$.sources');
    // Disabling cleans up after itself (see ResetSteps.disable): a bad request or a failed disable ends here.
    disable.addCatch(refused, { resultPath: '$.error' });
    const wait = new sfn.Wait(scope, names.wait, { time: sfn.WaitTime.secondsPath('$.sources.waitSeconds') });
    const check = this.task(scope, names.check, fns.check, '$.check');
    const plan = this.task(scope, names.plan, fns.plan, '$.plan');
    const move = this.task(scope, names.move, fns.move, '$.moved', 6, Duration.seconds(5));
    const write = this.task(scope, names.write, fns.write, '$.written');
    const enable = this.task(scope, names.enable, fns.enable, '$.enabled', 6);
    for (const step of [check, plan, move, write]) step.addCatch(reenable, { resultPath: '$.error' });
    const empty = new sfn.Choice(scope, names.empty)
      .when(
        sfn.Condition.booleanEquals('$.check.empty', true),
        plan.next(move).next(write).next(enable).next(new sfn.Succeed(scope, names.done)),
      )
      .otherwise(wait);
    const destination =
      props.logGroup ??
      new logs.LogGroup(this, 'Logs', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
    return new sfn.StateMachine(this, 'Reset', {
      definitionBody: sfn.DefinitionBody.fromChainable(disable.next(wait).next(check).next(empty)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: props.timeout ?? Duration.hours(1),
      tracingEnabled: true,
      logs: { destination, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
  }

  /** A step: the whole state in, its answer at `resultPath`, retried on the errors worth retrying. */
  private task(
    scope: Construct,
    name: string,
    fn: lambda.IFunction,
    resultPath: string,
    maxAttempts = 3,
    interval = Duration.seconds(1),
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(scope, name, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      resultPath,
      retryOnServiceExceptions: true,
    });
    task.addRetry({ errors: [...RESET_RETRIED_ERRORS], interval, backoffRate: 2, maxAttempts });
    return task;
  }

  private createFunctions(props: ResetStateMachineProps, kafka: KafkaAdminSettings): ResetFunctions {
    const settings = resolveResetSettings({
      emptyGroupTimeoutMs: props.emptyGroupTimeout?.toMilliseconds() ?? 600_000,
      pollSeconds: props.pollInterval?.toSeconds() ?? 10,
    });
    const stack = Stack.of(this);
    const environment = {
      [ENV.tableName]: props.table.tableName,
      [EVENT_SOURCES_ENV]: stack.toJsonString(
        props.eventSources.map((s) => ({
          topic: s.topic,
          id: s.mapping.eventSourceMappingId,
          consumerGroupId: s.consumerGroupId,
        })),
      ),
      ...kafkaAdminSettingsToEnv(kafka),
      [RESET_ENV.emptyGroupTimeoutMs]: String(settings.emptyGroupTimeoutMs),
      [RESET_ENV.pollSeconds]: String(settings.pollSeconds),
    };
    const make = (step: keyof ResetFunctions, access: StepAccess) =>
      this.stepFunction(step, access, environment, props);
    return {
      disable: make('disable', { table: TABLE_ACTIONS.resetPlan, mappings: 'update' }),
      check: make('check', { mappings: 'read', kafka: 'groups' }),
      plan: make('plan', { table: TABLE_ACTIONS.resetPlan, kafka: 'offsets' }),
      move: make('move', { kafka: 'commit' }),
      write: make('write', { table: TABLE_ACTIONS.reset }),
      enable: make('enable', { mappings: 'update' }),
    };
  }

  /** One step's function and role: its log group, and only what its step calls. */
  private stepFunction(
    step: keyof ResetFunctions,
    access: StepAccess,
    environment: Record<string, string>,
    props: ResetStateMachineProps,
  ): NodejsFunction {
    const id = `Reset${step.charAt(0).toUpperCase()}${step.slice(1)}`;
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    logGroup.grantWrite(role);
    const allow = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.addToPolicy(new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }));
    if (access.table) {
      const processorKey = tokenKeys.layout(props.processorName).pk;
      allow([...access.table], [props.table.tableArn], {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [processorKey, `${processorKey}#*`] },
      });
    }
    if (access.mappings) {
      allow(
        access.mappings === 'update'
          ? ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping']
          : ['lambda:GetEventSourceMapping'],
        props.eventSources.map((s) => s.mapping.eventSourceMappingArn),
      );
    }
    if (access.kafka) this.grantKafka(role, access.kafka, props);
    const fn = new NodejsFunction(this, id, {
      entry: resetEntry(step),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role,
      logGroup,
      bundling: BUNDLING,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...environment },
      memorySize: 256,
      // Moving offsets joins each group (the broker holds a first join for about 3 s) once per topic.
      timeout: Duration.minutes(step === 'move' || step === 'write' ? 10 : 2),
    });
    if (access.kafka && props.kafka.network) placeInNetwork(this, fn, role, props.kafka.network);
    return fn;
  }

  /** MSK IAM actions on the cluster, its topics and groups (per step), or the SCRAM secret. */
  private grantKafka(role: iam.Role, use: NonNullable<StepAccess['kafka']>, props: ResetStateMachineProps): void {
    const { mskClusterArn, secret } = props.kafka;
    if (secret) {
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
      );
      secret.encryptionKey?.grantDecrypt(role);
    }
    if (!mskClusterArn) return;
    const topics = [...new Set(props.eventSources.map((s) => s.topic))];
    const groups = [...new Set(props.eventSources.map((s) => s.consumerGroupId))];
    const allow = (actions: string[], resources: string[]) =>
      role.addToPolicy(new iam.PolicyStatement({ actions, resources }));
    allow(['kafka:GetBootstrapBrokers', 'kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], [mskClusterArn]);
    if (use === 'offsets' || use === 'commit') {
      allow(
        use === 'commit' ? ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'] : ['kafka-cluster:DescribeTopic'],
        topics.map((t) => mskArn(this, mskClusterArn, 'topic', t)),
      );
    }
    if (use === 'groups' || use === 'commit') {
      allow(
        use === 'commit'
          ? ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup']
          : ['kafka-cluster:DescribeGroup'],
        groups.map((g) => mskArn(this, mskClusterArn, 'group', g)),
      );
    }
  }
}

/** What one step's role may do. */
interface StepAccess {
  readonly table?: readonly string[];
  readonly mappings?: 'read' | 'update';
  /** `groups`: describe the groups; `offsets`: read topic offsets; `commit`: join the groups and commit offsets. */
  readonly kafka?: 'groups' | 'offsets' | 'commit';
}

/** Checks the props; a TrackingProcessorConfigError names the setting. Unresolved tokens are taken as valid. */
function validate(props: ResetStateMachineProps): KafkaAdminSettings {
  if (props.eventSources.length === 0) {
    throw new TrackingProcessorConfigError(
      'reset.eventSources',
      [],
      'one event source mapping per topic, at least one',
    );
  }
  const placeholder = (value: string | undefined, stand: string) =>
    value !== undefined && Token.isUnresolved(value) ? stand : value;
  const secretArn = props.kafka.secret?.secretArn;
  try {
    const checked = resolveKafkaAdminSettings({
      brokers: props.kafka.brokers,
      mskClusterArn: placeholder(
        props.kafka.mskClusterArn,
        'arn:aws:kafka:us-east-1:123456789012:cluster/placeholder/00000000-0000-0000-0000-000000000000-1',
      ),
      auth: props.kafka.auth,
      secretArn: placeholder(secretArn, 'arn:aws:secretsmanager:us-east-1:123456789012:secret:placeholder'),
    });
    return { ...checked, mskClusterArn: props.kafka.mskClusterArn, secretArn };
  } catch (error) {
    throw new TrackingProcessorConfigError(
      'reset.kafka',
      props.kafka.brokers ?? props.kafka.mskClusterArn,
      (error as Error).message,
    );
  }
}
