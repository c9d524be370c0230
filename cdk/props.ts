import type { AdminApiSettings } from './admin-api.js';
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { ProcessingMode } from '../shared/processing/handlers.js';

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
  /**
   * Alarm when a partition's time lag (`TimeLagSeconds`: the age of the newest record its checkpoint covered, at its
   * largest over a period) stays above this for 2 periods: whole seconds, 1 minute to 7 days.
   * @default Duration.minutes(5)
   */
  readonly timeLagThreshold?: Duration;
  /**
   * Alarm when the 99th percentile of handler calls (`HandlerDuration`) is above this in a period: whole
   * milliseconds, 1 ms to 15 minutes. @default Duration.seconds(30)
   */
  readonly handlerDurationP99Threshold?: Duration;
  /** Alarm when this many records are handed back to Lambda for redelivery in one period. @default 1000 */
  readonly recordsHandedBackThreshold?: number;
  /** Alarm when this many partitions are handed back whole (claim held, fenced, checkpoint failed) in one period. @default 1 */
  readonly partitionsAbandonedThreshold?: number;
  /**
   * The offset-expiry guard: alarm when the event source mappings have been disabled (a pause or a reset) this long
   * (`EventSourceDisabledSeconds`, from the admin function's lag sampler). Keep it below the group offsets' retention
   * (`offsets.retention.minutes`, 7 days by default): past that the brokers drop the group's offsets and the
   * mappings restart from their starting position. Whole minutes, 1 hour to 30 days. @default Duration.days(6)
   */
  readonly eventSourceDisabledThreshold?: Duration;
  /**
   * Also publish each partition's counts and lags with the dimension `Partition` (`TIDEMARK_METRICS_PARTITION_DIMENSION`)
   * and chart every partition's time lag on the dashboard. Each partition is a metric series of its own (billed as
   * such). @default false
   */
  readonly partitionDimension?: boolean;
  /** Actions of every alarm (e.g. an SNS topic). @default none */
  readonly actions?: readonly cloudwatch.IAlarmAction[];
}

/** Settings of {@link TrackingProcessor}. */
export interface TrackingProcessorProps {
  /**
   * The path of the module that exports `processor` (the result of `defineProcessor`), e.g.
   * `fileURLToPath(new URL('../src/processor.ts', import.meta.url))`. Its name, topics, sequencing and concurrency
   * are what the construct deploys and grants; its functions are bundled from it.
   */
  readonly processor: string;
  /** Checked against the processor module's name: synth fails when they differ. @default the module's */
  readonly processorName?: string;
  /** Checked against the processor module's topics (one event source mapping each). @default the module's */
  readonly topics?: readonly string[];
  /** An MSK cluster with IAM auth. Set exactly one of `msk` and `selfManagedKafka`. @default none */
  readonly msk?: MskCluster;
  /** A self-managed cluster. Set exactly one of `msk` and `selfManagedKafka`. @default none */
  readonly selfManagedKafka?: SelfManagedKafkaCluster;
  /** Checked against the processor module's concurrency: synth fails when they differ. @default the module's */
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
  /** The admin API, status page and lag sampler. @default see {@link AdminApiSettings} */
  readonly admin?: AdminApiSettings;
}
