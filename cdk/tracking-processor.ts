import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Stage, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ADMIN_ENV } from '../shared/admin/admin-settings.js';
import { EVENT_SOURCES_ENV } from '../shared/operations/lambda-event-source-control.js';
import { ENV, kafkaAdminSettingsToEnv } from '../shared/settings.js';
import { AdminApi, resolveAdminSettings } from './admin-api.js';
import { mskArn } from './msk-arn.js';
import { grantNetworkInterfaces, placeInNetwork } from './network-access.js';
import { ResetStateMachine, type ResetKafkaAccess } from './reset-state-machine.js';
import { TOKEN_TABLE_KEYS, tokenKeys } from '../shared/tokens/token-table.js';
import { BUNDLING, coordinatorEntry, functionEntry, writeProcessorEntries } from './function-entries.js';
import { LayoutStateMachines, type CoordinatorFunctions } from './layout-state-machines.js';
import { ProcessorMonitoring } from './monitoring.js';
import { nagResource } from './nag.js';
import { loadProcessorModule, type ProcessorModule } from './processor-module.js';
import {
  FailureDestination,
  type KafkaNetwork,
  type SelfManagedKafkaAuth,
  type TrackingProcessorProps,
} from './props.js';
import { resolveSettings, type ResolvedSettings } from './resolve-props.js';
import { TABLE_ACTIONS } from './table-actions.js';

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
  /** The admin function (unless `admin.enabled` is false): the admin API behind its URL, and the lag sampler. */
  readonly adminFunction?: NodejsFunction;
  /** The admin API's function URL (IAM-authorised) and the sampler's schedule. */
  readonly admin?: AdminApi;
  /**
   * Resets without stopping the fleet (`tidemark reset … --execute`, the admin API's reset): absent for an mTLS
   * cluster, whose credentials the reset's Kafka steps cannot use.
   */
  readonly reset?: ResetStateMachine;

  /** What synth read off the processor module: the name, topics, sequencing and concurrency deployed. */
  readonly processorModule: ProcessorModule;
  private readonly settings: ResolvedSettings;

  constructor(scope: Construct, id: string, props: TrackingProcessorProps) {
    super(scope, id);
    const outDir = Stage.of(this)?.outdir ?? mkdtempSync(join(tmpdir(), 'tidemark-'));
    this.processorModule = loadProcessorModule(props.processor ?? '', join(outDir, 'tidemark', 'probe'));
    this.settings = resolveSettings(props, this.processorModule);
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
      // Operations and lag samples carry an expiry; tokens, layouts and letters never do.
      timeToLiveAttribute: 'expiresAt',
    });

    const entries = writeProcessorEntries(s.processorEntry, outDir);
    const processorEnv = {
      [ENV.tableName]: this.table.tableName,
      [ENV.logLevel]: s.logLevel,
      ...s.runtimeEnv,
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
        [ENV.mode]: s.mode,
        ...(this.workerFunction ? { [ENV.workerFunction]: this.workerFunction.functionName } : {}),
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
      { ...processorEnv, [ENV.redriveKeysPerRun]: String(s.deadLetters.keysPerRun) },
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

    const coordinatorEnv = { [ENV.tableName]: this.table.tableName, ...s.coordinatorEnv };
    const coordinator = (step: keyof CoordinatorFunctions) =>
      this.function(`Coordinator${capitalise(step)}`, coordinatorEntry(step), TABLE_ACTIONS[step], coordinatorEnv, {
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
    // One log group for every state machine of the processor: the layout changes' and the reset's.
    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: s.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachines = new LayoutStateMachines(this, 'Layout', {
      coordinator: this.coordinatorFunctions,
      changeTimeout: s.coordinator.changeTimeout,
      scaleTimeout: s.coordinator.scaleTimeout,
      logGroup: stateMachineLogs,
    });
    this.acknowledgeStateMachineFindings();

    const failure = this.failureDestination(props.eventSource?.onFailure);
    this.failureQueue = failure.queue;
    this.failureBucket = failure.bucket;
    this.eventSourceMappings = this.eventSources(failure.dlq);

    const resetAccess = this.resetKafkaAccess();
    if (resetAccess) {
      this.reset = new ResetStateMachine(this, 'Reset', {
        processorName: s.processorName,
        table: this.table,
        eventSources: s.topics.map((topic, i) => ({
          topic,
          consumerGroupId: s.consumerGroupIds[topic]!,
          mapping: this.eventSourceMappings[i]!,
        })),
        kafka: resetAccess,
        logGroup: stateMachineLogs,
        logRetention: s.logRetention,
      });
    }

    const admin = resolveAdminSettings(props.admin);
    if (admin.enabled) {
      this.adminFunction = this.function(
        'Admin',
        functionEntry('admin'),
        TABLE_ACTIONS.admin,
        {
          [ENV.tableName]: this.table.tableName,
          [ENV.logLevel]: s.logLevel,
          [ADMIN_ENV.processor]: s.processorName,
          [ADMIN_ENV.topics]: s.topics.join(','),
          [ADMIN_ENV.split]: this.stateMachines.split.stateMachineArn,
          [ADMIN_ENV.merge]: this.stateMachines.merge.stateMachineArn,
          [ADMIN_ENV.scale]: this.stateMachines.scale.stateMachineArn,
          [ADMIN_ENV.stallWindowMs]: String(admin.stallWindowMs),
          ...(this.reset ? { [ADMIN_ENV.reset]: this.reset.stateMachine.stateMachineArn } : {}),
          [EVENT_SOURCES_ENV]: Stack.of(this).toJsonString(
            this.eventSourceMappings.map((mapping, i) => ({
              topic: s.topics[i],
              id: mapping.eventSourceMappingId,
              consumerGroupId: s.consumerGroupIds[s.topics[i]!],
            })),
          ),
          ...this.kafkaAccessEnv(),
        },
        { memorySize: 512, timeout: Duration.seconds(30) },
      );
      this.grantAdminClusterAccess(this.adminFunction);
      this.admin = new AdminApi(this, 'AdminApi', {
        function: this.adminFunction,
        stateMachines: [
          this.stateMachines.split,
          this.stateMachines.merge,
          this.stateMachines.scale,
          ...(this.reset ? [this.reset.stateMachine] : []),
        ],
        mappings: this.eventSourceMappings,
        sampleEvery: admin.sampleEvery,
      });
    }

    const monitoring = new ProcessorMonitoring(this, this, s);
    this.alarms = monitoring.createAlarms();
    this.dashboard = monitoring.createDashboard();
  }

  /** How the reset's Kafka-facing steps reach the cluster; none for mTLS (no credentials they can use). */
  private resetKafkaAccess(): ResetKafkaAccess | undefined {
    const { msk, selfManagedKafka } = this.settings;
    if (msk) return { mskClusterArn: msk.clusterArn, ...(msk.network ? { network: msk.network } : {}) };
    if (selfManagedKafka && selfManagedKafka.authentication !== 'mtls') {
      return {
        brokers: selfManagedKafka.bootstrapServers,
        auth: selfManagedKafka.authentication,
        secret: selfManagedKafka.secret,
        ...(selfManagedKafka.network ? { network: selfManagedKafka.network } : {}),
      };
    }
    return undefined;
  }

  /**
   * Where the admin side finds the cluster and how it signs in: MSK with IAM, or the self-managed brokers with the
   * SASL/SCRAM secret. mTLS clusters give the admin side no access (lag in records then reads as unavailable).
   */
  private kafkaAccessEnv(): Record<string, string> {
    const { msk, selfManagedKafka } = this.settings;
    if (msk) {
      return kafkaAdminSettingsToEnv({
        brokers: [],
        mskClusterArn: msk.clusterArn,
        auth: 'msk-iam',
        secretArn: undefined,
      });
    }
    if (selfManagedKafka && selfManagedKafka.authentication !== 'mtls') {
      return kafkaAdminSettingsToEnv({
        brokers: [...selfManagedKafka.bootstrapServers],
        mskClusterArn: undefined,
        auth: selfManagedKafka.authentication,
        secretArn: selfManagedKafka.secret.secretArn,
      });
    }
    return {};
  }

  /**
   * The admin function reads the partitions' ends: MSK's brokers and topics (IAM), or the SASL secret; in the
   * cluster's network, with the interfaces that needs.
   */
  private grantAdminClusterAccess(fn: NodejsFunction): void {
    const { msk, selfManagedKafka, topics, consumerGroupIds } = this.settings;
    const role = fn.role!;
    const allow = (actions: string[], resources: string[]) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    if (msk) {
      allow(['kafka-cluster:Connect', 'kafka:GetBootstrapBrokers'], [msk.clusterArn]);
      allow(
        ['kafka-cluster:DescribeTopic'],
        topics.map((topic) => mskArn(this, this.settings.msk!.clusterArn, 'topic', topic)),
      );
      allow(
        ['kafka-cluster:DescribeGroup'],
        topics.map((topic) => mskArn(this, this.settings.msk!.clusterArn, 'group', consumerGroupIds[topic]!)),
      );
    }
    const secret = selfManagedKafka?.authentication === 'mtls' ? undefined : selfManagedKafka?.secret;
    if (secret) {
      allow(['secretsmanager:GetSecretValue'], [secret.secretArn]);
      secret.encryptionKey?.grantDecrypt(role);
    }
    const network = msk?.network ?? selfManagedKafka?.network;
    if (network) placeInNetwork(this, fn, role, network);
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
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords, which take no resource.',
    });
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
      // Lambda's segments, and Powertools' subsegments of the handler and its AWS SDK calls (shared/observability).
      tracing: lambda.Tracing.ACTIVE,
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
              resources: [mskArn(this, this.settings.msk!.clusterArn, 'topic', destination.topic)],
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
        // Polled, invoked, failed, dropped and committed records; polling, invoke and commit errors; offset lag.
        metricsConfig: {
          metrics: [lambda.MetricType.EVENT_COUNT, lambda.MetricType.ERROR_COUNT, lambda.MetricType.KAFKA_METRICS],
        },
        // The pollers' own warnings (provisioned mode), in the dispatch function's log group.
        logLevel: lambda.EventSourceMappingLogLevel.WARN,
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
        topics.map((topic) => mskArn(this, this.settings.msk!.clusterArn, 'topic', topic)),
      );
      allow(
        ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
        topics.map((topic) => mskArn(this, this.settings.msk!.clusterArn, 'group', consumerGroupIds[topic]!)),
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
    grantNetworkInterfaces(this, role, network, {
      describe: [
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeSubnets',
        'ec2:DescribeVpcs',
      ],
      manage: ['ec2:DeleteNetworkInterface'],
      reason:
        'The Kafka event source pollers create and delete their network interfaces with the function role. ' +
        'EC2 Describe actions support no resource-level permissions, and interface ids are not known in advance; ' +
        'creation is limited to the configured subnets and security groups.',
    });
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
}

const AUTH_TYPES: Record<SelfManagedKafkaAuth, lambda.SourceAccessConfigurationType> = {
  'sasl-scram-512': lambda.SourceAccessConfigurationType.SASL_SCRAM_512_AUTH,
  'sasl-scram-256': lambda.SourceAccessConfigurationType.SASL_SCRAM_256_AUTH,
  mtls: lambda.SourceAccessConfigurationType.CLIENT_CERTIFICATE_TLS_AUTH,
};

const FAILURE_BUCKET_EXPIRY_DAYS = 30;

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
