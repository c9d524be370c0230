import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_LAMBDA_RETRY_ATTEMPTS } from '../shared/dead-letters/dead-letter-policy.js';
import { ConfigurationError } from '../shared/errors.js';
import type { ProcessingMode } from '../shared/processing/handlers.js';
import {
  DEFAULT_COORDINATOR_SETTINGS,
  resolveDispatcherSettings,
  type DispatcherSettings,
} from '../shared/settings.js';
import { METRICS_NAMESPACE } from '../shared/observability/metrics.js';
import { TOKEN_TABLE_KEYS, tokenKeys } from '../shared/tokens/token-table.js';
import { LayoutStateMachines, type CoordinatorFunctions } from './layout-state-machines.js';

/** A TrackingProcessor setting is invalid. The message names the setting, what was given and what is allowed. */
export class TrackingProcessorConfigError extends ConfigurationError {
  constructor(
    readonly setting: string,
    readonly given: unknown,
    readonly allowed: string,
  ) {
    super(`TrackingProcessor ${setting}: got ${describe(given)}; allowed: ${allowed}`, {
      context: { setting, given: describe(given), allowed },
    });
  }
}

/** Where the event source reaches the brokers: the network interfaces Lambda creates for its pollers. */
export interface KafkaNetwork {
  /** Subnets of the pollers' network interfaces (they determine the VPC). For MSK: the cluster's own subnets. */
  readonly subnets: readonly ec2.ISubnet[];
  /** Security groups of those interfaces. For MSK: the cluster's own security groups. */
  readonly securityGroups: readonly ec2.ISecurityGroup[];
}

/** An Amazon MSK cluster, reached with IAM authentication. */
export interface MskCluster {
  /** `arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>`. */
  readonly clusterArn: string;
  /** The cluster's subnets and security groups; they scope the network-interface permissions. */
  readonly network: KafkaNetwork;
}

/** How the event source authenticates to a self-managed cluster. */
export const SelfManagedKafkaAuth = {
  SaslScram512: 'sasl-scram-512',
  SaslScram256: 'sasl-scram-256',
  Mtls: 'mtls',
} as const;
export type SelfManagedKafkaAuth = (typeof SelfManagedKafkaAuth)[keyof typeof SelfManagedKafkaAuth];

/** A self-managed Apache Kafka cluster. */
export interface SelfManagedKafkaCluster {
  /** `host:port` of one or more brokers. */
  readonly bootstrapServers: readonly string[];
  /** SASL/SCRAM (username and password in `secret`) or mutual TLS (certificate chain and key in `secret`). */
  readonly authentication: SelfManagedKafkaAuth;
  /** The Secrets Manager secret with the credentials or client certificate. */
  readonly secret: secretsmanager.ISecret;
  /** The root CA of the brokers' certificates. @default none: the brokers use a publicly trusted CA */
  readonly rootCaCertificate?: secretsmanager.ISecret;
  /** The brokers' VPC. @default none: the brokers are reached over the internet */
  readonly network?: KafkaNetwork;
}

/** Where Lambda sends what it gives up on (retries or record age exhausted). */
export type FailureDestination =
  | { readonly type: 'sqs'; readonly queue: sqs.IQueue }
  | { readonly type: 'sns'; readonly topic: sns.ITopic }
  | { readonly type: 's3'; readonly bucket: s3.IBucket }
  | { readonly type: 'kafka'; readonly topic: string }
  | { readonly type: 'none' };

/**
 * Builders for {@link FailureDestination}. SQS and SNS receive metadata (topic, partition, offsets); S3 and a Kafka
 * topic the records themselves (the payload).
 */
export const FailureDestination = {
  sqs: (queue: sqs.IQueue): FailureDestination => ({ type: 'sqs', queue }),
  sns: (topic: sns.ITopic): FailureDestination => ({ type: 'sns', topic }),
  s3: (bucket: s3.IBucket): FailureDestination => ({ type: 's3', bucket }),
  /** A topic in the same cluster. */
  kafka: (topic: string): FailureDestination => ({ type: 'kafka', topic }),
  /** Discard: only with a finite `retryAttempts`. */
  none: (): FailureDestination => ({ type: 'none' }),
} as const;

/** Settings of the Kafka event source mappings (one per topic). */
export interface EventSourceSettings {
  /** Records per batch, 1 to 10000. @default 100 */
  readonly batchSize?: number;
  /** Longest wait to fill a batch: whole seconds up to 5 minutes. @default none: Lambda's 500 ms for Kafka */
  readonly maxBatchingWindow?: Duration;
  /**
   * Where a new consumer group starts; an existing group's committed offsets win. @default
   * StartingPosition.TRIM_HORIZON
   */
  readonly startingPosition?: lambda.StartingPosition;
  /** Unix seconds; only (and required) with `StartingPosition.AT_TIMESTAMP`. @default none */
  readonly startingPositionTimestamp?: number;
  /**
   * The Kafka consumer group (set at creation only). With several topics each mapping joins `<id>-<topic>`, because
   * Lambda needs a group per mapping. @default `tidemark-<processorName>`
   */
  readonly consumerGroupId?: string;
  /**
   * Provisioned pollers. Provisioned mode is always on: Kafka's partial batch responses and error controls need it.
   * @default { minimum: 1, maximum: 200 }
   */
  readonly provisionedPollers?: { readonly minimum?: number; readonly maximum?: number };
  /** Retries of a failed batch, -1 (until the record leaves Kafka) or 0 to 10000. @default 10 */
  readonly retryAttempts?: number;
  /** Oldest record Lambda still sends, 60 s to 7 days. @default infinite */
  readonly maxRecordAge?: Duration;
  /** Split a batch in two when the function errors. @default false */
  readonly bisectBatchOnError?: boolean;
  /**
   * Where records Lambda gives up on go. @default a new S3 bucket that keeps the whole batch, payload included (S3
   * managed encryption, TLS only, no public access, objects expire after 30 days, kept on `cdk destroy`)
   */
  readonly onFailure?: FailureDestination;
}

/** Settings of the dispatch function. */
export interface DispatchFunctionSettings {
  /** MB, 128 to 10240. @default 1024 */
  readonly memorySize?: number;
  /**
   * 10 seconds to 14 minutes (the Kafka trigger's limit); the segment worker gets the same. @default
   * Duration.minutes(5)
   */
  readonly timeout?: Duration;
}

/** Settings of the segment-worker function (fan-out mode). */
export interface WorkerFunctionSettings {
  /** MB, 128 to 10240. @default 1024 */
  readonly memorySize?: number;
  /** Reserved concurrency: the cap on segments running at once across all partitions. @default none (unreserved) */
  readonly reservedConcurrency?: number;
}

/** Runtime settings of the dispatcher and worker (environment variables `TIDEMARK_*`; see the README). */
export interface RuntimeSettings {
  /** Claim lease in ms, renewed inline. @default 30000 */
  readonly leaseMs?: number;
  /** How long a container routes with a layout it read, in ms; the coordinators get the same. @default 5000 */
  readonly layoutTtlMs?: number;
  /** How long to wait for a duplicate delivery holding a partition, in ms. @default 10000 */
  readonly claimWaitMs?: number;
  /** Invocation time kept to checkpoint, in ms. @default 3000 */
  readonly checkpointReserveMs?: number;
  /** Stop starting records this long before the lease ends, in ms. @default 2000 */
  readonly leaseSafetyMs?: number;
  /** Out-of-order ranges kept per token cell. @default 200 */
  readonly maxRanges?: number;
  /**
   * How long to wait for a split or merge before handing back records of a draining segment, in ms (never past the
   * invocation's deadline). @default 150000
   */
  readonly drainWaitMs?: number;
  /** Records parsed between two turns of the event loop (records start while later ones are parsed). @default 256 */
  readonly parseChunk?: number;
  /** @default 'info' */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** Settings of the coordinator functions and the split, merge and scale state machines. */
export interface CoordinatorSettings {
  /** Allowance for clock differences between Lambdas, in ms. @default 1000 */
  readonly clockSkewMs?: number;
  /** Roll a change back when claims have not drained by then, in ms. @default 120000 */
  readonly drainTimeoutMs?: number;
  /** Seconds between drain checks, 1 to 3600. @default 5 */
  readonly drainPollSeconds?: number;
  /** A change pending this long past its deadline is rolled back by the next one, in ms. @default 300000 */
  readonly staleChangeGraceMs?: number;
  /** Longest a split or merge runs; more than `drainTimeoutMs`. @default Duration.hours(1) */
  readonly changeTimeout?: Duration;
  /** Longest a scale runs; at least `changeTimeout`. @default Duration.hours(6) */
  readonly scaleTimeout?: Duration;
}

/**
 * Settings of the redrive function and its schedule (decision 9): parked keys whose next automatic attempt is due are
 * redriven by the redrive function, which an EventBridge rule starts on a fixed rate.
 */
export interface DeadLetterSettings {
  /** Timeout of the redrive function, 1 to 15 minutes. @default Duration.minutes(5) */
  readonly redriveTimeout?: Duration;
  /** How often the schedule starts the redrive function: whole minutes, 1 to 1440. @default Duration.minutes(1) */
  readonly schedule?: Duration;
  /** Parked keys one scheduled run redrives at most, 1 to 1000 (`TIDEMARK_REDRIVE_KEYS_PER_RUN`). @default 50 */
  readonly keysPerRun?: number;
}

/** Settings of the token table (on-demand, point-in-time recovery on). */
export interface TokenTableSettings {
  /** @default a name CloudFormation generates */
  readonly tableName?: string;
  /** Refuse DeleteTable while set. @default true */
  readonly deletionProtection?: boolean;
  /**
   * What `cdk destroy` does with the table: RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY. @default
   * RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Encryption at rest: the AWS managed key (`aws/dynamodb`, visible in CloudTrail) or an AWS owned key. @default
   * 'aws-managed'
   */
  readonly encryption?: 'aws-managed' | 'aws-owned';
}

/** Settings of the CloudWatch alarms. */
export interface AlarmSettings {
  /** Period of every alarm, a whole number of minutes. @default Duration.minutes(5) */
  readonly period?: Duration;
  /** Alarm when the largest OffsetLag stays at or above this many records for 3 periods. @default 10000 */
  readonly offsetLagThreshold?: number;
  /** Alarm when this many records are reported failed in one period. @default 1 */
  readonly recordsFailedThreshold?: number;
  /** Alarm when at least this many keys are parked (the most the redrive function saw in one period). @default 1 */
  readonly parkedKeysThreshold?: number;
  /**
   * Alarm when the oldest parked letter is older than this (the most the redrive function saw in one period): whole
   * seconds, 1 minute to 30 days. @default Duration.hours(1)
   */
  readonly oldestParkedAgeThreshold?: Duration;
  /** Actions of every alarm (e.g. an SNS topic). @default none */
  readonly actions?: readonly cloudwatch.IAlarmAction[];
}

/** Settings of {@link TrackingProcessor}. */
export interface TrackingProcessorProps {
  /** The processor's name: must equal the name your processor definition uses. Letters, digits, `.`, `_`, `-`. */
  readonly processorName: string;
  /** Topics consumed, one event source mapping each. */
  readonly topics: readonly string[];
  /** An MSK cluster with IAM auth. Set exactly one of `msk` and `selfManagedKafka`. @default none */
  readonly msk?: MskCluster;
  /** A self-managed cluster. Set exactly one of `msk` and `selfManagedKafka`. @default none */
  readonly selfManagedKafka?: SelfManagedKafkaCluster;
  /**
   * A module exporting `processor` (from `defineProcessor`) bundled in place of `functions/processor.ts`.
   * @default functions/processor.ts (reads TIDEMARK_PROCESSOR_NAME, TIDEMARK_TOPICS, TIDEMARK_CONCURRENCY)
   */
  readonly processorEntry?: string;
  /** Records handled at once per invocation (inline) or per worker (fan-out), 1 to 10000. @default 16 */
  readonly concurrency?: number;
  /**
   * Run records in the dispatcher (`inline`) or one segment-worker invocation per segment (`fan-out`). @default
   * 'inline'
   */
  readonly mode?: ProcessingMode;
  /** @default see {@link EventSourceSettings} */
  readonly eventSource?: EventSourceSettings;
  /** @default see {@link DispatchFunctionSettings} */
  readonly dispatch?: DispatchFunctionSettings;
  /** Only with `mode: 'fan-out'`. @default see {@link WorkerFunctionSettings} */
  readonly worker?: WorkerFunctionSettings;
  /** @default see {@link RuntimeSettings} */
  readonly runtime?: RuntimeSettings;
  /** @default see {@link CoordinatorSettings} */
  readonly coordinator?: CoordinatorSettings;
  /** @default see {@link TokenTableSettings} */
  readonly table?: TokenTableSettings;
  /** @default see {@link AlarmSettings} */
  readonly alarms?: AlarmSettings;
  /** @default see {@link DeadLetterSettings} */
  readonly deadLetters?: DeadLetterSettings;
  /** Retention of every log group (functions and state machines). @default RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** The repository root: `functions/` and `shared/` live there. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = {
  dispatch: join(ROOT, 'functions', 'dispatch', 'index.ts'),
  worker: join(ROOT, 'functions', 'segment-worker', 'index.ts'),
  redrive: join(ROOT, 'functions', 'redrive', 'index.ts'),
  coordinator: (step: string) => join(ROOT, 'functions', 'coordinator', `${step}.ts`),
};

/**
 * Bundled by the local esbuild (no Docker) for Node.js 24 on arm64; the SDK is bundled so what ran in tests runs in
 * Lambda.
 */
export const BUNDLING: BundlingOptions = {
  format: OutputFormat.CJS,
  target: 'node24',
  minify: true,
  // Error names reach logs, worker responses and Step Functions: minifying must not rename classes.
  keepNames: true,
  sourceMap: true,
  bundleAwsSDK: true,
};

/**
 * DynamoDB actions each function needs, read off the token store calls its code makes (a TransactWriteItems is
 * authorised per item, by the action of each item's operation):
 * - dispatcher: readLayout (GetItem), initialise (PutItem), claim/register/renew/checkpoint/release (UpdateItem); a
 *   checkpoint that parks records or records a source skip is a TransactWriteItems of the partition Update and a Put
 *   of each letter or skip item (PutItem);
 * - worker: reads the dispatcher's lease (GetItem), never writes;
 * - redrive: readLayout and the partition state (GetItem, Query, BatchGetItem), a key's letters (Query), taking and
 *   renewing the lease on a parked key's entry of the partition item (UpdateItem), resolving a letter (a
 *   TransactWriteItems of the letter's Delete and the partition Update, with PutItem and ConditionCheckItem for the
 *   other items such a transaction may hold);
 * - begin: readLayout, beginLayoutChange (UpdateItem), and first rolling back an abandoned change (the apply
 *   transaction);
 * - check: readState (Query, BatchGetItem);
 * - apply, rollback: readLayout, finishLayoutChange (TransactWriteItems of an Update and a Put);
 * - plan: readLayout.
 */
export const TABLE_ACTIONS = {
  dispatch: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  worker: ['dynamodb:GetItem'],
  redrive: [
    'dynamodb:BatchGetItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
  ],
  begin: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  check: ['dynamodb:BatchGetItem', 'dynamodb:Query'],
  apply: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  rollback: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  plan: ['dynamodb:GetItem'],
} as const;

/**
 * One Tidemark processor on AWS: the token table, the dispatch function behind a Kafka event source mapping per
 * topic, the segment worker (fan-out mode), the redrive function and its schedule, the coordinator functions and the
 * split, merge and scale state machines, the on-failure bucket, log groups, alarms and a dashboard. Every role reaches only its own processor's items and only what its code
 * calls. Settings are validated here: a bad one throws {@link TrackingProcessorConfigError}.
 */
export class TrackingProcessor extends Construct {
  readonly table: dynamodb.Table;
  readonly dispatchFunction: NodejsFunction;
  /** Only in fan-out mode. */
  readonly workerFunction?: NodejsFunction;
  /**
   * Redrives parked dead letters: started by {@link redriveSchedule}, or invoked directly by
   * `tidemark dead-letters retry --function <redriveFunction.functionName>`.
   */
  readonly redriveFunction: NodejsFunction;
  /** The EventBridge rule that starts the redrive function at `deadLetters.schedule` with `{"action":"redrive-due"}`. */
  readonly redriveSchedule: events.Rule;
  readonly coordinatorFunctions: CoordinatorFunctions;
  readonly stateMachines: LayoutStateMachines;
  /** One per topic. */
  readonly eventSourceMappings: lambda.EventSourceMapping[];
  /** The on-failure queue, when `eventSource.onFailure` is `FailureDestination.sqs(queue)`. */
  readonly failureQueue?: sqs.IQueue;
  /**
   * The on-failure bucket: the one the construct made (when no destination was given), or the one given with
   * `FailureDestination.s3(bucket)`. Lambda writes each batch it gives up on there, payload included.
   */
  readonly failureBucket?: s3.IBucket;
  readonly alarms: Record<string, cloudwatch.Alarm>;
  readonly dashboard: cloudwatch.Dashboard;

  private readonly settings: ResolvedSettings;

  constructor(scope: Construct, id: string, props: TrackingProcessorProps) {
    super(scope, id);
    this.settings = resolveSettings(props);
    const s = this.settings;

    this.table = new dynamodb.Table(this, 'TokenTable', {
      tableName: s.table.tableName,
      partitionKey: { name: TOKEN_TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TOKEN_TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption:
        s.table.encryption === 'aws-owned' ? dynamodb.TableEncryption.DEFAULT : dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: s.table.deletionProtection,
      removalPolicy: s.table.removalPolicy,
    });

    const entries = this.entries(s.processorEntry);
    const processorEnv = {
      TIDEMARK_PROCESSOR_NAME: s.processorName,
      TIDEMARK_TOPICS: s.topics.join(','),
      TIDEMARK_CONCURRENCY: String(s.concurrency),
      TIDEMARK_TABLE_NAME: this.table.tableName,
      TIDEMARK_LOG_LEVEL: s.logLevel,
      ...Object.fromEntries(Object.entries(s.runtimeEnv).map(([k, v]) => [k, String(v)])),
    };

    if (s.mode === 'fan-out') {
      this.workerFunction = this.function('SegmentWorker', entries.worker, TABLE_ACTIONS.worker, processorEnv, {
        memorySize: s.worker.memorySize,
        timeout: s.dispatch.timeout,
        reservedConcurrentExecutions: s.worker.reservedConcurrency,
      });
    }
    this.dispatchFunction = this.function(
      'Dispatch',
      entries.dispatch,
      TABLE_ACTIONS.dispatch,
      {
        ...processorEnv,
        TIDEMARK_MODE: s.mode,
        ...(this.workerFunction ? { TIDEMARK_WORKER_FUNCTION: this.workerFunction.functionName } : {}),
      },
      { memorySize: s.dispatch.memorySize, timeout: s.dispatch.timeout },
    );
    if (this.workerFunction) {
      // The worker's ARN only: no versions or aliases, nothing else.
      this.dispatchFunction.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.workerFunction.functionArn] }),
      );
    }

    this.redriveFunction = this.function(
      'Redrive',
      entries.redrive,
      TABLE_ACTIONS.redrive,
      { ...processorEnv, TIDEMARK_REDRIVE_KEYS_PER_RUN: String(s.deadLetters.keysPerRun) },
      { memorySize: 512, timeout: s.deadLetters.redriveTimeout },
    );
    this.redriveSchedule = new events.Rule(this, 'RedriveSchedule', {
      description: `Tidemark ${s.processorName}: redrives the parked keys that are due`,
      schedule: events.Schedule.rate(s.deadLetters.schedule),
      targets: [
        new targets.LambdaFunction(this.redriveFunction, {
          event: events.RuleTargetInput.fromObject({ action: 'redrive-due' }),
          // The next tick is the retry: a failed run leaves every due key due.
          retryAttempts: 0,
        }),
      ],
    });

    const coordinatorEnv = {
      TIDEMARK_TABLE_NAME: this.table.tableName,
      ...Object.fromEntries(Object.entries(s.coordinatorEnv).map(([k, v]) => [k, String(v)])),
    };
    const coordinator = (step: keyof CoordinatorFunctions) =>
      this.function(`Coordinator${capitalise(step)}`, ENTRIES.coordinator(step), TABLE_ACTIONS[step], coordinatorEnv, {
        memorySize: 256,
        timeout: Duration.minutes(1),
      });
    this.coordinatorFunctions = {
      begin: coordinator('begin'),
      check: coordinator('check'),
      apply: coordinator('apply'),
      rollback: coordinator('rollback'),
      plan: coordinator('plan'),
    };
    this.stateMachines = new LayoutStateMachines(this, 'Layout', {
      coordinator: this.coordinatorFunctions,
      changeTimeout: s.coordinator.changeTimeout,
      scaleTimeout: s.coordinator.scaleTimeout,
      logGroup: new logs.LogGroup(this, 'StateMachineLogs', {
        retention: s.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.acknowledgeStateMachineFindings();

    const failure = this.failureDestination(props.eventSource?.onFailure);
    this.failureQueue = failure.queue;
    this.failureBucket = failure.bucket;
    this.eventSourceMappings = this.eventSources(failure.dlq);

    this.alarms = this.createAlarms();
    this.dashboard = this.createDashboard();
  }

  /**
   * The entry files; with a custom processor, small generated entries that import it instead of functions/processor.ts.
   */
  private entries(processorEntry: string | undefined): { dispatch: string; worker: string; redrive: string } {
    if (!processorEntry) return { dispatch: ENTRIES.dispatch, worker: ENTRIES.worker, redrive: ENTRIES.redrive };
    // esbuild cannot alias a relative import ('../processor.js'), so the entry points are written out with the
    // processor's path instead; the same three lines as functions/dispatch, functions/segment-worker and
    // functions/redrive.
    const processor = resolve(processorEntry);
    const dir = join(ROOT, '.tidemark', 'entries', createHash('sha256').update(processor).digest('hex').slice(0, 16));
    mkdirSync(dir, { recursive: true });
    const importPath = (file: string) => {
      const path = relative(dir, file).split(sep).join('/');
      return path.startsWith('.') ? path : `./${path}`;
    };
    const write = (name: string, factory: string) => {
      const file = join(dir, `${name}.ts`);
      writeFileSync(
        file,
        `// Generated by TrackingProcessor for ${relative(ROOT, processor).split(sep).join('/')}; do not edit.\n` +
          `import { ${factory} } from '${importPath(join(ROOT, 'shared', 'index.ts'))}';\n` +
          `import { processor } from '${importPath(processor)}';\n` +
          `export const handler = ${factory}(processor);\n`,
      );
      return file;
    };
    return {
      dispatch: write('dispatch', 'createDispatchHandler'),
      worker: write('segment-worker', 'createSegmentWorkerHandler'),
      redrive: write('redrive', 'createRedriveHandler'),
    };
  }

  /** A function with a role of its own: its log group, and the listed table actions on this processor's items only. */
  private function(
    id: string,
    entry: string,
    tableActions: readonly string[],
    environment: Record<string, string>,
    options: { memorySize: number; timeout: Duration; reservedConcurrentExecutions?: number },
  ): NodejsFunction {
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: this.settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    logGroup.grantWrite(role);
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...tableActions],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': this.leadingKeys() } },
      }),
    );
    return new NodejsFunction(this, id, {
      entry,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role,
      logGroup,
      bundling: BUNDLING,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...environment },
      ...options,
    });
  }

  /** The partition keys of this processor's items: its layout, registry and history, and its partitions. */
  private leadingKeys(): string[] {
    const processorKey = tokenKeys.layout(this.settings.processorName).pk;
    return [processorKey, `${processorKey}#*`];
  }

  /**
   * The on-failure destination with the one permission Lambda needs to write to it. By default a new bucket: unlike
   * a queue or a topic, which get metadata only, it keeps the records Lambda gave up on.
   */
  private failureDestination(given: FailureDestination | undefined): {
    dlq?: lambda.IEventSourceDlq;
    queue?: sqs.IQueue;
    bucket?: s3.IBucket;
  } {
    const role = this.dispatchFunction.role!;
    const dlq = (destination: string): lambda.IEventSourceDlq => ({ bind: () => ({ destination }) });
    const destination = given ?? FailureDestination.s3(this.failureBucketOfItsOwn());
    switch (destination.type) {
      case 'sqs':
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [destination.queue.queueArn] }),
        );
        destination.queue.encryptionMasterKey?.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
        Validations.of(destination.queue).acknowledge({
          id: 'AwsSolutions-SQS3',
          reason:
            'This queue is the Kafka event source mapping on-failure destination, i.e. already the dead-letter ' +
            'store; cdk-nag only recognises queues named in a redrive policy or a function DLQ.',
        });
        return { dlq: dlq(destination.queue.queueArn), queue: destination.queue };
      case 'sns':
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [destination.topic.topicArn] }),
        );
        return { dlq: dlq(destination.topic.topicArn) };
      case 's3':
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [destination.bucket.bucketArn] }),
        );
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [destination.bucket.arnForObjects('*')] }),
        );
        destination.bucket.encryptionKey?.grant(role, 'kms:GenerateDataKey');
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[${nagResource(this, destination.bucket.arnForObjects('*'))}]`,
          reason: 'Lambda names the objects of failed batches itself; s3:PutObject is limited to the one bucket.',
        });
        return { dlq: dlq(destination.bucket.bucketArn), bucket: destination.bucket };
      case 'kafka':
        if (this.settings.msk) {
          role.addToPrincipalPolicy(
            new iam.PolicyStatement({
              actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
              resources: [this.mskArn('topic', destination.topic)],
            }),
          );
        }
        return { dlq: dlq(`kafka://${destination.topic}`) };
      case 'none':
        return {};
    }
  }

  /** The default on-failure bucket: private, TLS only, S3-managed encryption, objects kept for 30 days. */
  private failureBucketOfItsOwn(): s3.Bucket {
    const bucket = new s3.Bucket(this, 'FailureBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: false,
      lifecycleRules: [{ id: 'expire-failed-batches', expiration: Duration.days(FAILURE_BUCKET_EXPIRY_DAYS) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The on-failure destination: only the Kafka event source mapping writes to it (one object per batch it gave ' +
        'up on). Access logs would need a second bucket; enable CloudTrail S3 data events if reads must be audited.',
    });
    return bucket;
  }

  /** One event source mapping per topic; its pollers act with the dispatch function's role. */
  private eventSources(onFailure: lambda.IEventSourceDlq | undefined): lambda.EventSourceMapping[] {
    const s = this.settings;
    const role = this.dispatchFunction.role!;
    this.grantClusterAccess(role);
    const access = this.sourceAccess();
    return s.topics.map((topic) => {
      const mapping = new lambda.EventSourceMapping(this, `Kafka-${topic}`, {
        target: this.dispatchFunction,
        ...(s.msk
          ? { eventSourceArn: s.msk.clusterArn }
          : { kafkaBootstrapServers: [...s.selfManagedKafka!.bootstrapServers] }),
        kafkaTopic: topic,
        kafkaConsumerGroupId: s.consumerGroupIds[topic],
        startingPosition: s.eventSource.startingPosition,
        startingPositionTimestamp: s.eventSource.startingPositionTimestamp,
        batchSize: s.eventSource.batchSize,
        maxBatchingWindow: s.eventSource.maxBatchingWindow,
        provisionedPollerConfig: {
          minimumPollers: s.eventSource.provisionedPollers.minimum,
          maximumPollers: s.eventSource.provisionedPollers.maximum,
        },
        retryAttempts: s.eventSource.retryAttempts,
        maxRecordAge: s.eventSource.maxRecordAge,
        bisectBatchOnError: s.eventSource.bisectBatchOnError,
        reportBatchItemFailures: true,
        onFailure,
        supportS3OnFailureDestination: true,
        sourceAccessConfigurations: access,
      });
      // Lambda checks the role when it creates the mapping: the policy must be in place first.
      mapping.node.addDependency(role);
      return mapping;
    });
  }

  /** What the pollers need: the MSK cluster, its topics and groups (IAM auth), or the secrets; and the network. */
  private grantClusterAccess(role: iam.IRole): void {
    const { msk, selfManagedKafka, topics, consumerGroupIds } = this.settings;
    const allow = (actions: string[], resources: string[]) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    if (msk) {
      allow(
        [
          'kafka-cluster:Connect',
          'kafka-cluster:DescribeClusterDynamicConfiguration',
          'kafka:DescribeClusterV2',
          'kafka:GetBootstrapBrokers',
        ],
        [msk.clusterArn],
      );
      allow(
        ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        topics.map((topic) => this.mskArn('topic', topic)),
      );
      allow(
        ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
        topics.map((topic) => this.mskArn('group', consumerGroupIds[topic]!)),
      );
    }
    for (const secret of [selfManagedKafka?.secret, selfManagedKafka?.rootCaCertificate]) {
      if (!secret) continue;
      allow(['secretsmanager:GetSecretValue'], [secret.secretArn]);
      secret.encryptionKey?.grantDecrypt(role);
    }
    const network = msk?.network ?? selfManagedKafka?.network;
    if (network) this.grantNetworkInterfaces(role, network);
  }

  /** Self-managed only: the credentials, the root CA and the subnets and security groups of the pollers. */
  private sourceAccess(): lambda.SourceAccessConfiguration[] | undefined {
    const cluster = this.settings.selfManagedKafka;
    if (!cluster) return undefined;
    const type = lambda.SourceAccessConfigurationType;
    return [
      { type: AUTH_TYPES[cluster.authentication], uri: cluster.secret.secretArn },
      ...(cluster.rootCaCertificate
        ? [{ type: type.SERVER_ROOT_CA_CERTIFICATE, uri: cluster.rootCaCertificate.secretArn }]
        : []),
      ...(cluster.network?.subnets ?? []).map((subnet) => ({ type: type.VPC_SUBNET, uri: subnet.subnetId })),
      ...(cluster.network?.securityGroups ?? []).map((group) => ({
        type: type.VPC_SECURITY_GROUP,
        uri: group.securityGroupId,
      })),
    ];
  }

  /**
   * The pollers' network interfaces: created only in the given subnets with the given security groups. EC2's
   * Describe actions support no resource-level permissions, and a new interface's id is not known in advance.
   */
  private grantNetworkInterfaces(role: iam.IRole, network: KafkaNetwork): void {
    const stack = Stack.of(this);
    const ec2Arn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'ec2', resource, resourceName });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeSubnets',
          'ec2:DescribeVpcs',
        ],
        resources: ['*'],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          ec2Arn('network-interface', '*'),
          ...network.subnets.map((subnet) => ec2Arn('subnet', subnet.subnetId)),
          ...network.securityGroups.map((group) => ec2Arn('security-group', group.securityGroupId)),
        ],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:DeleteNetworkInterface'],
        resources: [ec2Arn('network-interface', '*')],
      }),
    );
    const reason =
      'The Kafka event source pollers create and delete their network interfaces with the function role. ' +
      'EC2 Describe actions support no resource-level permissions, and interface ids are not known in advance; ' +
      'creation is limited to the configured subnets and security groups.';
    Validations.of(role).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason },
      { id: `AwsSolutions-IAM5[${nagResource(this, ec2Arn('network-interface', '*'))}]`, reason },
    );
  }

  /** `arn:…:kafka:…:topic|group/<cluster name>/<cluster uuid>/<name>` of the MSK cluster. */
  private mskArn(resource: 'topic' | 'group', name: string): string {
    const cluster = Arn.split(this.settings.msk!.clusterArn, ArnFormat.SLASH_RESOURCE_NAME);
    return Arn.format(
      {
        partition: cluster.partition,
        service: 'kafka',
        region: cluster.region,
        account: cluster.account,
        resource,
        resourceName: `${cluster.resourceName}/${name}`,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      },
      Stack.of(this),
    );
  }

  /** State machine roles: CDK's log delivery and X-Ray statements, and invoke grants that include `:*`. */
  private acknowledgeStateMachineFindings(): void {
    Validations.of(this.stateMachines).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CloudWatch Logs vended delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) ' +
        'support no resource-level permissions; Step Functions needs them to log ALL events and trace.',
    });
    for (const fn of Object.values(this.coordinatorFunctions)) {
      Validations.of(this.stateMachines).acknowledge({
        id: `AwsSolutions-IAM5[${nagResource(this, `${fn.functionArn}:*`)}]`,
        reason:
          'LambdaInvoke grants the coordinator function and its versions (ARN:*); the tasks call this one ' +
          'function and no other.',
      });
    }
  }

  private createAlarms(): Record<string, cloudwatch.Alarm> {
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
      const alarm = new cloudwatch.Alarm(this, `${id}Alarm`, {
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

  private createDashboard(): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
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

const AUTH_TYPES: Record<SelfManagedKafkaAuth, lambda.SourceAccessConfigurationType> = {
  'sasl-scram-512': lambda.SourceAccessConfigurationType.SASL_SCRAM_512_AUTH,
  'sasl-scram-256': lambda.SourceAccessConfigurationType.SASL_SCRAM_256_AUTH,
  mtls: lambda.SourceAccessConfigurationType.CLIENT_CERTIFICATE_TLS_AUTH,
};

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

const MODES: readonly ProcessingMode[] = ['inline', 'fan-out'];
const FAILURE_BUCKET_EXPIRY_DAYS = 30;
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const CONSUMER_GROUP = /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/;
const CLUSTER_ARN = /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9-]+\/[A-Za-z0-9-]+$/;
const BROKER = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const TABLE_NAME = /^[A-Za-z0-9._-]{3,255}$/;
const ENTRY_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];
const STARTING_POSITIONS = [
  lambda.StartingPosition.TRIM_HORIZON,
  lambda.StartingPosition.LATEST,
  lambda.StartingPosition.AT_TIMESTAMP,
];

type ResolvedSettings = ReturnType<typeof resolveSettings>;

/** Applies the defaults and checks every setting; the first bad one throws. */
function resolveSettings(props: TrackingProcessorProps) {
  checkCluster(props);
  const topics = checkTopics(props.topics);
  const mode = props.mode ?? 'inline';
  if (!MODES.includes(mode)) fail('mode', mode, MODES.map((m) => `'${m}'`).join(' or '));
  const dispatch = dispatchSettings(props.dispatch);
  const runtime = runtimeSettings(props.runtime, dispatch.timeout);
  const eventSource = eventSourceSettings(props.eventSource ?? {}, props.processorName, topics);
  const coordinator = coordinatorSettings(props.coordinator ?? {}, runtime.runtimeEnv.TIDEMARK_LAYOUT_TTL_MS);
  checkRetryBudget(
    eventSource.eventSource.retryAttempts,
    dispatch.timeout,
    runtime.runtimeEnv,
    coordinator.coordinatorEnv,
  );
  return {
    processorName: props.processorName,
    topics,
    msk: props.msk,
    selfManagedKafka: props.selfManagedKafka,
    concurrency: wholeNumber('concurrency', props.concurrency ?? 16, 1, 10_000),
    mode,
    ...eventSource,
    dispatch,
    worker: workerSettings(props.worker ?? {}, mode),
    ...runtime,
    ...coordinator,
    table: tableSettings(props.table ?? {}),
    alarms: alarmSettings(props.alarms ?? {}),
    deadLetters: deadLetterSettings(props.deadLetters ?? {}),
    logRetention: logRetention(props.logRetention),
    processorEntry: processorEntry(props.processorEntry),
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

function checkTopics(topics: readonly string[] = []): readonly string[] {
  if (topics.length === 0) fail('topics', topics, 'one or more Kafka topic names');
  for (const topic of topics) {
    if (!TOPIC.test(topic)) fail('topics', topic, "Kafka topic names: 1 to 249 letters, digits, '.', '_' or '-'");
  }
  if (new Set(topics).size !== topics.length) fail('topics', topics, 'each topic once');
  return topics;
}

function checkCluster({ processorName, msk, selfManagedKafka }: TrackingProcessorProps): void {
  if (!NAME.test(processorName ?? '')) {
    fail('processorName', processorName, "1 to 100 letters, digits, '.', '_' or '-'");
  }
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
  if (onFailure?.type === 'kafka' && !TOPIC.test(onFailure.topic)) {
    fail('eventSource.onFailure.topic', onFailure.topic, "a Kafka topic name: letters, digits, '.', '_' or '-'");
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
  runtime: {
    TIDEMARK_DRAIN_WAIT_MS: number;
    TIDEMARK_CLAIM_WAIT_MS: number;
    TIDEMARK_LEASE_MS: number;
    TIDEMARK_CHECKPOINT_RESERVE_MS: number;
    TIDEMARK_LEASE_SAFETY_MS: number;
  },
  coordinator: { TIDEMARK_DRAIN_TIMEOUT_MS: number; TIDEMARK_CLOCK_SKEW_MS: number },
): void {
  if (retryAttempts === -1) return;
  const deliveries = retryAttempts + 1;
  // A dispatcher waits for a drain at most until its own deadline, less the lease safety margin.
  const perDelivery = Math.min(
    runtime.TIDEMARK_DRAIN_WAIT_MS,
    timeout.toMilliseconds() - runtime.TIDEMARK_CHECKPOINT_RESERVE_MS - runtime.TIDEMARK_LEASE_SAFETY_MS,
  );
  const drain = coordinator.TIDEMARK_DRAIN_TIMEOUT_MS + coordinator.TIDEMARK_CLOCK_SKEW_MS;
  if (deliveries * perDelivery <= drain) {
    fail(
      'runtime.drainWaitMs',
      runtime.TIDEMARK_DRAIN_WAIT_MS,
      `a wait that, over the ${deliveries} deliveries eventSource.retryAttempts (${retryAttempts}) allows, outlasts a drain (coordinator.drainTimeoutMs + clockSkewMs = ${drain} ms): ${deliveries} × ${perDelivery} ms is not enough; raise runtime.drainWaitMs (up to dispatch.timeout) or eventSource.retryAttempts`,
    );
  }
  if (deliveries * runtime.TIDEMARK_CLAIM_WAIT_MS <= runtime.TIDEMARK_LEASE_MS) {
    fail(
      'runtime.claimWaitMs',
      runtime.TIDEMARK_CLAIM_WAIT_MS,
      `a wait that, over the ${deliveries} deliveries eventSource.retryAttempts (${retryAttempts}) allows, outlasts the lease of a claim left by a dead invocation (runtime.leaseMs ${runtime.TIDEMARK_LEASE_MS} ms)`,
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
  return {
    logLevel,
    runtimeEnv: {
      TIDEMARK_LEASE_MS: settings.leaseMs,
      TIDEMARK_LAYOUT_TTL_MS: settings.layoutTtlMs,
      TIDEMARK_CLAIM_WAIT_MS: settings.claimWaitMs,
      TIDEMARK_CHECKPOINT_RESERVE_MS: settings.checkpointReserveMs,
      TIDEMARK_LEASE_SAFETY_MS: settings.leaseSafetyMs,
      TIDEMARK_MAX_RANGES: settings.maxRanges,
      TIDEMARK_DRAIN_WAIT_MS: settings.drainWaitMs,
      TIDEMARK_PARSE_CHUNK: settings.parseChunk,
    },
  };
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
  return {
    coordinator: { changeTimeout, scaleTimeout },
    coordinatorEnv: {
      // The dispatchers' value: the drain must wait at least as long as a dispatcher may use an old layout.
      TIDEMARK_LAYOUT_TTL_MS: layoutTtlMs,
      TIDEMARK_CLOCK_SKEW_MS: ms('clockSkewMs', c.clockSkewMs ?? defaults.clockSkewMs),
      TIDEMARK_DRAIN_TIMEOUT_MS: drainTimeoutMs,
      TIDEMARK_DRAIN_POLL_SECONDS: wholeNumber(
        'coordinator.drainPollSeconds',
        c.drainPollSeconds ?? defaults.pollSeconds,
        1,
        3600,
      ),
      TIDEMARK_STALE_CHANGE_GRACE_MS: ms('staleChangeGraceMs', c.staleChangeGraceMs ?? defaults.staleChangeGraceMs),
    },
  };
}

function tableSettings(t: TokenTableSettings) {
  if (t.tableName !== undefined && !TABLE_NAME.test(t.tableName)) {
    fail('table.tableName', t.tableName, "3 to 255 letters, digits, '.', '_' or '-'");
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
  return {
    period,
    offsetLagThreshold: threshold('offsetLagThreshold', a.offsetLagThreshold ?? 10_000),
    recordsFailedThreshold: threshold('recordsFailedThreshold', a.recordsFailedThreshold ?? 1),
    parkedKeysThreshold: threshold('parkedKeysThreshold', a.parkedKeysThreshold ?? 1),
    oldestParkedAgeSeconds: oldestParkedAge(a.oldestParkedAgeThreshold ?? Duration.hours(1)),
    actions: a.actions ?? [],
  };
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

function processorEntry(entry: string | undefined): string | undefined {
  if (entry !== undefined && (!ENTRY_EXTENSIONS.includes(extname(entry)) || !existsSync(resolve(entry)))) {
    fail('processorEntry', entry, `an existing ${ENTRY_EXTENSIONS.join(', ')} module that exports \`processor\``);
  }
  return entry;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * A resource as cdk-nag names it in an IAM5 finding (`Resource::arn:<AWS::Partition>:…`), to acknowledge exactly that
 * one.
 */
function nagResource(scope: Construct, arn: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node;
    const n = node as Record<string, unknown>;
    if (n['Fn::Join']) {
      const [separator, parts] = n['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(separator);
    }
    if (n['Fn::GetAtt']) return `<${(n['Fn::GetAtt'] as string[]).join('.')}>`;
    if (n.Ref) return `<${String(n.Ref)}>`;
    return JSON.stringify(node);
  };
  return `Resource::${flatten(Stack.of(scope).resolve(arn))}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
