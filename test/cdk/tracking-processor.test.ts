import { createHash } from 'node:crypto';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { STATE_NAMES } from '../../cdk/layout-state-machines.js';
import { TrackingProcessorConfigError } from '../../cdk/config-error.js';
import { FailureDestination, type TrackingProcessorProps } from '../../cdk/props.js';
import { TABLE_ACTIONS } from '../../cdk/table-actions.js';
import { TrackingProcessor } from '../../cdk/tracking-processor.js';
import { resolveDefinition } from '../../local/local-state-machines.js';
import { thrownBy } from '../support/assertions.js';
import {
  CLUSTER_ARN,
  SECRET_ARN,
  SECURITY_GROUP_ID,
  SUBNET_IDS,
  grants,
  logicalId,
  mskCluster,
  offlineApp,
  offlineStack,
  permissionsOf,
  processorItems,
  processorModule,
  render,
  resourcesOf,
  roleOf,
  selfManagedCluster,
} from '../support/cdk.js';

const ARN_PREFIX = 'arn:aws:kafka:eu-west-1:123456789012';
const CLUSTER_PATH = 'orders/abcd1234-0000-1111-2222-333344445555-1';
const EC2 = 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}';
/** What active tracing grants every function. */
const XRAY = grants(['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], ['*']);
/** The event source mappings' metrics groups and system log level. */
const MAPPING_MONITORING = {
  MetricsConfig: { Metrics: ['EventCount', 'ErrorCount', 'KafkaMetrics'] },
  LoggingConfig: { SystemLogLevel: 'WARN' },
};

/** An MSK processor in fan-out mode with every setting changed from its default. */
function customised() {
  const stack = offlineStack();
  const alarmTopic = sns.Topic.fromTopicArn(stack, 'Alarms', 'arn:aws:sns:eu-west-1:123456789012:alarms');
  const processor = new TrackingProcessor(stack, 'Orders', {
    processor: processorModule({ name: 'order-projection', topics: ['orders'], concurrency: 32 }),
    // Given as well: checked against the module.
    processorName: 'order-projection',
    topics: ['orders'],
    msk: mskCluster(stack),
    mode: 'fan-out',
    concurrency: 32,
    eventSource: {
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(2),
      startingPosition: lambda.StartingPosition.LATEST,
      consumerGroupId: 'orders-view',
      provisionedPollers: { minimum: 2, maximum: 20 },
      retryAttempts: 5,
      maxRecordAge: Duration.hours(1),
      bisectBatchOnError: true,
    },
    dispatch: { memorySize: 2048, timeout: Duration.minutes(10) },
    worker: { memorySize: 512, reservedConcurrency: 50 },
    runtime: { leaseMs: 60_000, layoutTtlMs: 4_000, claimWaitMs: 15_000, logLevel: 'debug' },
    coordinator: { drainTimeoutMs: 60_000, drainPollSeconds: 2 },
    alarms: {
      offsetLagThreshold: 5_000,
      parkedKeysThreshold: 3,
      oldestParkedAgeThreshold: Duration.minutes(30),
      period: Duration.minutes(1),
      timeLagThreshold: Duration.minutes(2),
      handlerDurationP99Threshold: Duration.seconds(5),
      recordsHandedBackThreshold: 500,
      partitionsAbandonedThreshold: 3,
      eventSourceDisabledThreshold: Duration.days(5),
      partitionDimension: true,
      actions: [new SnsAction(alarmTopic)],
    },
    deadLetters: { redriveTimeout: Duration.minutes(10), schedule: Duration.minutes(5), keysPerRun: 20 },
    logRetention: logs.RetentionDays.TWO_WEEKS,
  });
  return { stack, processor, template: Template.fromStack(stack) };
}

/** A self-managed processor of two topics with the defaults, apart from the table. */
function defaults() {
  const stack = offlineStack();
  const processor = new TrackingProcessor(stack, 'Payments', {
    processor: processorModule({ name: 'payments', topics: ['payments', 'refunds'] }),
    selfManagedKafka: selfManagedCluster(stack),
    table: {
      tableName: 'payments-tokens',
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
      encryption: 'aws-owned',
    },
  });
  return { stack, processor, template: Template.fromStack(stack) };
}

let a: ReturnType<typeof customised>;
let b: ReturnType<typeof defaults>;
beforeAll(() => {
  a = customised();
  b = defaults();
});

describe('token table', () => {
  it('is on demand with point-in-time recovery, the AWS managed key, deletion protection and retention by default', () => {
    const table = a.template.findResources('AWS::DynamoDB::Table');

    expect(Object.values(table)).toEqual([
      {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
          DeletionProtectionEnabled: true,
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        },
        UpdateReplacePolicy: 'Retain',
        DeletionPolicy: 'Retain',
      },
    ]);
  });

  it('takes its name, deletion protection, removal policy and encryption from the settings', () => {
    const table = Object.values(b.template.findResources('AWS::DynamoDB::Table'))[0]!;

    expect(table).toEqual({
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'payments-tokens',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: false },
        DeletionProtectionEnabled: false,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
      UpdateReplacePolicy: 'Delete',
      DeletionPolicy: 'Delete',
    });
  });
});

describe('Kafka event source', () => {
  it('maps the MSK topic with the given batching, position, group, pollers and error controls', () => {
    const mappings = resourcesOf(a.template, 'AWS::Lambda::EventSourceMapping');

    expect(Object.values(mappings)).toEqual([
      {
        EventSourceArn: CLUSTER_ARN,
        FunctionName: { Ref: logicalId(a.processor.dispatchFunction) },
        Topics: ['orders'],
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-view' },
        StartingPosition: 'LATEST',
        BatchSize: 500,
        MaximumBatchingWindowInSeconds: 2,
        ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 20 },
        MaximumRetryAttempts: 5,
        MaximumRecordAgeInSeconds: 3600,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(a.processor.failureBucket!), 'Arn'] } },
        },
        ...MAPPING_MONITORING,
      },
    ]);
  });

  it('maps each self-managed topic with its own consumer group, SASL/SCRAM, the VPC and the defaults', () => {
    const mappings = resourcesOf(b.template, 'AWS::Lambda::EventSourceMapping');
    const common = {
      FunctionName: { Ref: logicalId(b.processor.dispatchFunction) },
      SelfManagedEventSource: {
        Endpoints: { KafkaBootstrapServers: ['broker-1.example.com:9096', 'broker-2.example.com:9096'] },
      },
      SourceAccessConfigurations: [
        { Type: 'SASL_SCRAM_512_AUTH', URI: SECRET_ARN },
        { Type: 'VPC_SUBNET', URI: SUBNET_IDS[0] },
        { Type: 'VPC_SUBNET', URI: SUBNET_IDS[1] },
        { Type: 'VPC_SECURITY_GROUP', URI: SECURITY_GROUP_ID },
      ],
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 200 },
      MaximumRetryAttempts: 10,
      BisectBatchOnFunctionError: false,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(b.processor.failureBucket!), 'Arn'] } },
      },
      ...MAPPING_MONITORING,
    };

    expect(Object.values(mappings)).toEqual([
      {
        ...common,
        Topics: ['payments'],
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'tidemark-payments-payments' },
      },
      {
        ...common,
        Topics: ['refunds'],
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'tidemark-payments-refunds' },
      },
    ]);
  });

  it('keeps what Lambda gives up on, payload included, in a private TLS-only bucket for 30 days by default', () => {
    const buckets = resourcesOf(b.template, 'AWS::S3::Bucket');
    const bucket = b.template.toJSON().Resources[logicalId(b.processor.failureBucket!)];
    const arn = `${logicalId(b.processor.failureBucket!)}.Arn`;

    expect(Object.keys(buckets)).toEqual([logicalId(b.processor.failureBucket!)]);
    expect(bucket).toEqual({
      Type: 'AWS::S3::Bucket',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        LifecycleConfiguration: {
          Rules: [{ Id: 'expire-failed-batches', ExpirationInDays: 30, Status: 'Enabled' }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      },
      UpdateReplacePolicy: 'Retain',
      DeletionPolicy: 'Retain',
    });
    const [policy] = Object.values(resourcesOf(b.template, 'AWS::S3::BucketPolicy'));
    expect(
      (policy!.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement.map((statement) => ({
        ...statement,
        Resource: [statement.Resource].flat().map(render),
      })),
    ).toEqual([
      {
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Resource: [arn, `${arn}/*`],
      },
    ]);
    expect(b.processor.failureQueue).toBeUndefined();
    expect(resourcesOf(b.template, 'AWS::SQS::Queue')).toEqual({});
  });

  it('lets only the dispatch role write to the default bucket, and only list it and put objects', () => {
    const arn = `${logicalId(b.processor.failureBucket!)}.Arn`;
    const roles = Object.keys(resourcesOf(b.template, 'AWS::IAM::Role'));
    const s3Grants = Object.fromEntries(
      roles.map((role) => [role, permissionsOf(b.template, role).filter((line) => line.startsWith('s3:'))]),
    );
    const dispatchRole = roleOf(b.template, logicalId(b.processor.dispatchFunction));

    expect(roles.length).toBeGreaterThan(1);
    expect(s3Grants).toEqual(
      Object.fromEntries(
        roles.map((role) => [
          role,
          role === dispatchRole ? [...grants(['s3:ListBucket'], [arn]), ...grants(['s3:PutObject'], [`${arn}/*`])] : [],
        ]),
      ),
    );
  });
});

describe('functions', () => {
  it('runs every function on Node.js 24 for arm64 with the size and timeout given', () => {
    const functions = resourcesOf(a.template, 'AWS::Lambda::Function');
    const shape = (fn: lambda.IFunction) => {
      const p = functions[logicalId(fn)]!;
      return [p.Runtime, p.Architectures, p.Handler, p.MemorySize, p.Timeout, p.ReservedConcurrentExecutions];
    };
    const { begin, check, apply, rollback, plan } = a.processor.coordinatorFunctions;
    const p = a.processor;

    // And the admin function (test/cdk/admin-api.test.ts) and the reset's six (test/cdk/reset-state-machine.test.ts).
    expect(Object.keys(functions)).toHaveLength(15);
    expect(
      [p.dispatchFunction, p.workerFunction!, p.redriveFunction, begin, check, apply, rollback, plan].map(shape),
    ).toEqual([
      ['nodejs24.x', ['arm64'], 'index.handler', 2048, 600, undefined],
      ['nodejs24.x', ['arm64'], 'index.handler', 512, 600, 50],
      ['nodejs24.x', ['arm64'], 'index.handler', 512, 600, undefined],
      ...Array.from({ length: 5 }, () => ['nodejs24.x', ['arm64'], 'index.handler', 256, 60, undefined]),
    ]);
  });

  it('configures the dispatcher, worker and coordinators through their environment, with one layout TTL', () => {
    const functions = resourcesOf(a.template, 'AWS::Lambda::Function');
    const env = (fn: lambda.IFunction) =>
      Object.fromEntries(
        Object.entries((functions[logicalId(fn)]!.Environment as { Variables: Record<string, unknown> }).Variables).map(
          ([k, v]) => [k, render(v)],
        ),
      );
    const table = logicalId(a.processor.table);
    const processorEnv = {
      NODE_OPTIONS: '--enable-source-maps',
      TIDEMARK_TABLE_NAME: table,
      TIDEMARK_LOG_LEVEL: 'debug',
      TIDEMARK_LEASE_MS: '60000',
      TIDEMARK_LAYOUT_TTL_MS: '4000',
      TIDEMARK_CLAIM_WAIT_MS: '15000',
      TIDEMARK_CHECKPOINT_RESERVE_MS: '3000',
      TIDEMARK_LEASE_SAFETY_MS: '2000',
      TIDEMARK_MAX_RANGES: '200',
      TIDEMARK_PARSE_CHUNK: '256',
      TIDEMARK_DRAIN_WAIT_MS: '150000',
      TIDEMARK_METRICS_PARTITION_DIMENSION: 'true',
    };

    expect(env(a.processor.dispatchFunction)).toEqual({
      ...processorEnv,
      TIDEMARK_MODE: 'fan-out',
      TIDEMARK_WORKER_FUNCTION: logicalId(a.processor.workerFunction!),
    });
    expect(env(a.processor.workerFunction!)).toEqual(processorEnv);
    expect(env(a.processor.redriveFunction)).toEqual({ ...processorEnv, TIDEMARK_REDRIVE_KEYS_PER_RUN: '20' });
    for (const fn of Object.values(a.processor.coordinatorFunctions)) {
      expect(env(fn)).toEqual({
        NODE_OPTIONS: '--enable-source-maps',
        TIDEMARK_TABLE_NAME: table,
        TIDEMARK_LAYOUT_TTL_MS: '4000',
        TIDEMARK_CLOCK_SKEW_MS: '1000',
        TIDEMARK_DRAIN_TIMEOUT_MS: '60000',
        TIDEMARK_DRAIN_POLL_SECONDS: '2',
        TIDEMARK_STALE_CHANGE_GRACE_MS: '300000',
      });
    }
  });

  it('creates no segment worker in inline mode, and the dispatcher runs inline', () => {
    const functions = resourcesOf(b.template, 'AWS::Lambda::Function');
    const dispatchEnv = (
      functions[logicalId(b.processor.dispatchFunction)]!.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;

    expect(b.processor.workerFunction).toBeUndefined();
    expect(Object.keys(functions)).toHaveLength(14);
    expect([dispatchEnv.TIDEMARK_MODE, dispatchEnv.TIDEMARK_WORKER_FUNCTION]).toEqual(['inline', undefined]);
  });

  it('logs every function and state machine to its own log group with the given retention', () => {
    const groups = resourcesOf(a.template, 'AWS::Logs::LogGroup');
    const machines = resourcesOf(a.template, 'AWS::StepFunctions::StateMachine');

    expect(Object.values(groups)).toEqual(Array.from({ length: 16 }, () => ({ RetentionInDays: 14 })));
    for (const machine of Object.values(machines)) {
      expect(machine.LoggingConfiguration).toEqual({
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [expect.stringMatching(/StateMachineLogs/), 'Arn'] },
            },
          },
        ],
        IncludeExecutionData: true,
        Level: 'ALL',
      });
      expect(machine.TracingConfiguration).toEqual({ Enabled: true });
    }
  });
});

describe('least privilege', () => {
  it('lets the MSK dispatcher use its processor items, invoke the worker, read its topic and reach its network', () => {
    const p = a.processor;
    const role = roleOf(a.template, logicalId(p.dispatchFunction));

    expect(permissionsOf(a.template, role)).toEqual(
      [
        ...grants(TABLE_ACTIONS.dispatch, [`${logicalId(p.table)}.Arn`], processorItems('order-projection')),
        ...grants(
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          [`${logicalId(p.dispatchFunction.logGroup as never)}.Arn`],
        ),
        ...grants(['lambda:InvokeFunction'], [`${logicalId(p.workerFunction!)}.Arn`]),
        ...grants(['s3:ListBucket'], [`${logicalId(p.failureBucket!)}.Arn`]),
        ...grants(['s3:PutObject'], [`${logicalId(p.failureBucket!)}.Arn/*`]),
        ...grants(
          [
            'kafka-cluster:Connect',
            'kafka-cluster:DescribeClusterDynamicConfiguration',
            'kafka:DescribeClusterV2',
            'kafka:GetBootstrapBrokers',
          ],
          [CLUSTER_ARN],
        ),
        ...grants(
          ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
          [`${ARN_PREFIX}:topic/${CLUSTER_PATH}/orders`],
        ),
        ...grants(
          ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
          [`${ARN_PREFIX}:group/${CLUSTER_PATH}/orders-view`],
        ),
        ...grants(
          ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'],
          ['*'],
        ),
        ...grants(
          ['ec2:CreateNetworkInterface'],
          [
            `${EC2}:network-interface/*`,
            `${EC2}:subnet/${SUBNET_IDS[0]}`,
            `${EC2}:subnet/${SUBNET_IDS[1]}`,
            `${EC2}:security-group/${SECURITY_GROUP_ID}`,
          ],
        ),
        ...grants(['ec2:DeleteNetworkInterface'], [`${EC2}:network-interface/*`]),
        ...XRAY,
      ].sort(),
    );
  });

  it('lets the self-managed dispatcher read its secret instead of the cluster, and invoke nothing', () => {
    const p = b.processor;
    const role = roleOf(b.template, logicalId(p.dispatchFunction));

    expect(permissionsOf(b.template, role)).toEqual(
      [
        ...grants(TABLE_ACTIONS.dispatch, [`${logicalId(p.table)}.Arn`], processorItems('payments')),
        ...grants(
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          [`${logicalId(p.dispatchFunction.logGroup as never)}.Arn`],
        ),
        ...grants(['s3:ListBucket'], [`${logicalId(p.failureBucket!)}.Arn`]),
        ...grants(['s3:PutObject'], [`${logicalId(p.failureBucket!)}.Arn/*`]),
        ...grants(['secretsmanager:GetSecretValue'], [SECRET_ARN]),
        ...grants(
          ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'],
          ['*'],
        ),
        ...grants(
          ['ec2:CreateNetworkInterface'],
          [
            `${EC2}:network-interface/*`,
            `${EC2}:subnet/${SUBNET_IDS[0]}`,
            `${EC2}:subnet/${SUBNET_IDS[1]}`,
            `${EC2}:security-group/${SECURITY_GROUP_ID}`,
          ],
        ),
        ...grants(['ec2:DeleteNetworkInterface'], [`${EC2}:network-interface/*`]),
        ...XRAY,
      ].sort(),
    );
  });

  it('lets the worker, the redriver and each coordinator use only the table actions its code calls, on its items', () => {
    const p = a.processor;
    const fns = { worker: p.workerFunction!, redrive: p.redriveFunction, ...p.coordinatorFunctions };

    for (const [name, fn] of Object.entries(fns)) {
      const role = roleOf(a.template, logicalId(fn));
      expect({ name, permissions: permissionsOf(a.template, role) }).toEqual({
        name,
        permissions: [
          ...grants(
            TABLE_ACTIONS[name as keyof typeof TABLE_ACTIONS],
            [`${logicalId(p.table)}.Arn`],
            processorItems('order-projection'),
          ),
          ...grants(
            ['logs:CreateLogStream', 'logs:PutLogEvents'],
            [`${logicalId((fn as lambda.Function).logGroup as never)}.Arn`],
          ),
          ...XRAY,
        ].sort(),
      });
    }
    expect(TABLE_ACTIONS).toEqual({
      dispatch: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      worker: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
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
      admin: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      resetPlan: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
      reset: [
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
    });
  });

  it('grants no wildcard DynamoDB action and no table access without the processor condition, in any policy', () => {
    const statements = Object.values(resourcesOf(a.template, 'AWS::IAM::Policy')).flatMap(
      (policy) => (policy.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement,
    );
    const tableStatements = statements.filter((s) =>
      [s.Action].flat().some((action) => String(action).startsWith('dynamodb:')),
    );

    // Beside the admin function's and the three reset steps' that read or write the table.
    expect(tableStatements).toHaveLength(12);
    for (const statement of tableStatements) {
      expect([statement.Action].flat().filter((action) => String(action).includes('*'))).toEqual([]);
      expect(statement.Condition).toEqual(processorItems('order-projection'));
    }
  });

  it('lets each state machine invoke only the coordinator functions its tasks call', () => {
    const p = a.processor;
    const fn = (step: keyof typeof p.coordinatorFunctions) => logicalId(p.coordinatorFunctions[step]);
    const invoke = (steps: Array<keyof typeof p.coordinatorFunctions>) =>
      grants(
        ['lambda:InvokeFunction'],
        steps.flatMap((step) => [`${fn(step)}.Arn`, `${fn(step)}.Arn:*`]),
      );
    const delivery = grants(
      [
        'logs:CreateLogDelivery',
        'logs:DeleteLogDelivery',
        'logs:DescribeLogGroups',
        'logs:DescribeResourcePolicies',
        'logs:GetLogDelivery',
        'logs:ListLogDeliveries',
        'logs:PutResourcePolicy',
        'logs:UpdateLogDelivery',
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ],
      ['*'],
    );
    const roleOfMachine = (machine: Construct) =>
      render(resourcesOf(a.template, 'AWS::StepFunctions::StateMachine')[logicalId(machine)]!.RoleArn).replace(
        /\.Arn$/,
        '',
      );

    expect(permissionsOf(a.template, roleOfMachine(p.stateMachines.split))).toEqual(
      [...invoke(['begin', 'check', 'apply', 'rollback']), ...delivery].sort(),
    );
    expect(permissionsOf(a.template, roleOfMachine(p.stateMachines.merge))).toEqual(
      [...invoke(['begin', 'check', 'apply', 'rollback']), ...delivery].sort(),
    );
    expect(permissionsOf(a.template, roleOfMachine(p.stateMachines.scale))).toEqual(
      [...invoke(['plan', 'begin', 'check', 'apply', 'rollback']), ...delivery].sort(),
    );
  });
});

describe('state machines', () => {
  it('retries transient errors in every task and catches failures into refusal or roll back', () => {
    const machines = resourcesOf(a.template, 'AWS::StepFunctions::StateMachine');
    const transient = {
      ErrorEquals: [
        'ProvisionedThroughputExceededException',
        'ThrottlingException',
        'RequestLimitExceeded',
        'InternalServerError',
        'TransactionConflictException',
      ],
      IntervalSeconds: 1,
      BackoffRate: 2,
    };
    const lambdaRetry = expect.objectContaining({ ErrorEquals: expect.arrayContaining(['Lambda.ServiceException']) });
    const catchInto = (next: string) => [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: next }];

    for (const machine of [
      a.processor.stateMachines.split,
      a.processor.stateMachines.merge,
      a.processor.stateMachines.scale,
    ]) {
      const { States } = resolveDefinition(machines[logicalId(machine)]!.DefinitionString) as unknown as {
        States: Record<string, { Type: string; Retry?: unknown[]; Catch?: unknown[] }>;
      };
      const tasks = Object.fromEntries(
        Object.entries(States)
          .filter(([, state]) => state.Type === 'Task')
          .map(([name, state]) => [name, { Retry: state.Retry, Catch: state.Catch }]),
      );
      const isScale = machine === a.processor.stateMachines.scale;

      expect(tasks).toEqual({
        ...(isScale
          ? {
              [STATE_NAMES.plan]: {
                Retry: [lambdaRetry, { ...transient, MaxAttempts: 3 }],
                Catch: catchInto(STATE_NAMES.refused),
              },
            }
          : {}),
        [STATE_NAMES.begin]: {
          Retry: [lambdaRetry, { ...transient, MaxAttempts: 3 }],
          Catch: catchInto(STATE_NAMES.refused),
        },
        [STATE_NAMES.check]: {
          Retry: [lambdaRetry, { ...transient, MaxAttempts: 3 }],
          Catch: catchInto(STATE_NAMES.rollback),
        },
        [STATE_NAMES.apply]: {
          Retry: [lambdaRetry, { ...transient, MaxAttempts: 3 }],
          Catch: catchInto(STATE_NAMES.rollback),
        },
        [STATE_NAMES.rollback]: { Retry: [lambdaRetry, { ...transient, MaxAttempts: 6 }], Catch: undefined },
      });
    }
  });

  it('stops a split or merge after the change timeout and a scale after the scale timeout', () => {
    const machines = resourcesOf(a.template, 'AWS::StepFunctions::StateMachine');
    const timeout = (machine: Construct) =>
      (resolveDefinition(machines[logicalId(machine)]!.DefinitionString) as unknown as { TimeoutSeconds: number })
        .TimeoutSeconds;

    expect(
      [a.processor.stateMachines.split, a.processor.stateMachines.merge, a.processor.stateMachines.scale].map(timeout),
    ).toEqual([3600, 3600, 21_600]);
  });
});

describe('alarms and dashboard', () => {
  it('alarms on function errors and throttles, offset lag, failed, parked and skipped records and layout changes', () => {
    const alarms = resourcesOf(a.template, 'AWS::CloudWatch::Alarm');
    const p = a.processor;
    const summary = Object.values(alarms).map((alarm) => ({
      metric: alarm.MetricName ? `${alarm.Namespace as string}/${alarm.MetricName as string}` : 'math',
      dimensions: (alarm.Dimensions as Array<{ Name: string; Value: unknown }> | undefined)?.map(
        (d) => `${d.Name}=${render(d.Value)}`,
      ),
      statistic: alarm.Statistic ?? alarm.ExtendedStatistic,
      period: alarm.Period,
      threshold: alarm.Threshold,
      evaluationPeriods: alarm.EvaluationPeriods,
      comparison: alarm.ComparisonOperator,
      missing: alarm.TreatMissingData,
      actions: alarm.AlarmActions,
    }));
    const alarm = (
      metric: string,
      dimension: string,
      statistic: string,
      threshold: number,
      evaluationPeriods = 1,
      comparison = 'GreaterThanOrEqualToThreshold',
    ) => ({
      metric,
      dimensions: [dimension],
      statistic,
      period: 60,
      threshold,
      evaluationPeriods,
      comparison,
      missing: 'notBreaching',
      actions: ['arn:aws:sns:eu-west-1:123456789012:alarms'],
    });
    const fn = (f: lambda.IFunction) => `FunctionName=${logicalId(f)}`;
    const machine = (m: Construct) => `StateMachineArn=${logicalId(m)}`;

    expect(summary).toEqual([
      alarm('AWS/Lambda/Errors', fn(p.dispatchFunction), 'Sum', 1),
      alarm('AWS/Lambda/Throttles', fn(p.dispatchFunction), 'Sum', 1),
      alarm('AWS/Lambda/Errors', fn(p.workerFunction!), 'Sum', 1),
      alarm('AWS/Lambda/Throttles', fn(p.workerFunction!), 'Sum', 1),
      { ...alarm('math', '', '', 1), dimensions: undefined, statistic: undefined, period: undefined }, // coordinators
      alarm('AWS/Lambda/OffsetLag', fn(p.dispatchFunction), 'Maximum', 5_000, 3),
      alarm('Tidemark/RecordsFailed', 'Processor=order-projection', 'Sum', 1),
      alarm('Tidemark/ParkedKeys', 'Processor=order-projection', 'Maximum', 3),
      alarm(
        'Tidemark/OldestParkedAgeSeconds',
        'Processor=order-projection',
        'Maximum',
        1800,
        1,
        'GreaterThanThreshold',
      ),
      alarm('Tidemark/RecordsSkippedBySource', 'Processor=order-projection', 'Sum', 1),
      alarm('Tidemark/RecordsUnparkable', 'Processor=order-projection', 'Sum', 1),
      alarm('AWS/Lambda/Errors', fn(p.redriveFunction), 'Sum', 1),
      alarm('Tidemark/TimeLagSeconds', 'Processor=order-projection', 'Maximum', 120, 2, 'GreaterThanThreshold'),
      alarm('Tidemark/StalledPartitions', 'Processor=order-projection', 'Maximum', 1),
      alarm('Tidemark/HandlerDuration', 'Processor=order-projection', 'p99', 5_000, 1, 'GreaterThanThreshold'),
      alarm('Tidemark/RecordsHandedBack', 'Processor=order-projection', 'Sum', 500),
      alarm('Tidemark/PartitionsAbandoned', 'Processor=order-projection', 'Sum', 3),
      { ...alarm('math', '', '', 1), dimensions: undefined, statistic: undefined, period: undefined }, // destination
      { ...alarm('math', '', '', 1), dimensions: undefined, statistic: undefined, period: undefined }, // throttles
      alarm('Tidemark/EventSourceDisabledSeconds', 'Processor=order-projection', 'Maximum', 5 * 86_400),
      alarm('AWS/States/ExecutionsFailed', machine(p.stateMachines.split), 'Sum', 1),
      alarm('AWS/States/ExecutionsFailed', machine(p.stateMachines.merge), 'Sum', 1),
      alarm('AWS/States/ExecutionsFailed', machine(p.stateMachines.scale), 'Sum', 1),
    ]);
  });

  it('sums the errors of the five coordinator functions in one alarm', () => {
    const alarms = resourcesOf(a.template, 'AWS::CloudWatch::Alarm');
    const metrics = alarms[logicalId(a.processor.alarms.CoordinatorErrors!)]!.Metrics as Array<{
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string; Dimensions: Array<{ Value: unknown }> } };
    }>;

    expect(
      metrics.map(
        (m) =>
          m.Expression ??
          `${m.Id}=${m.MetricStat!.Metric.MetricName}:${render(m.MetricStat!.Metric.Dimensions[0]!.Value)}`,
      ),
    ).toEqual([
      'begin + check + apply + rollback + plan',
      ...(['begin', 'check', 'apply', 'rollback', 'plan'] as const).map(
        (step) => `${step}=Errors:${logicalId(a.processor.coordinatorFunctions[step])}`,
      ),
    ]);
  });

  it('alarms when a mapping gives up on records and when the token table throttles, counting a silent period as 0', () => {
    const alarms = resourcesOf(b.template, 'AWS::CloudWatch::Alarm');
    const metricsOf = (id: string) =>
      (
        alarms[logicalId(b.processor.alarms[id]!)]!.Metrics as Array<{
          Expression?: string;
          MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: Array<{ Value: unknown }> } };
        }>
      ).map((m) =>
        m.Expression
          ? m.Expression
          : `${m.MetricStat!.Metric.Namespace}/${m.MetricStat!.Metric.MetricName}:${render(m.MetricStat!.Metric.Dimensions[0]!.Value)}`,
      );
    const [payments, refunds] = b.processor.eventSourceMappings.map((m) => logicalId(m));

    expect(metricsOf('FailureDestination')).toEqual([
      'FILL(m0, 0) + FILL(m1, 0) + FILL(m2, 0) + FILL(m3, 0) + FILL(m4, 0) + FILL(m5, 0)',
      ...[payments, refunds].flatMap((mapping) =>
        ['OnFailureDestinationDeliveredEventCount', 'DroppedEventCount', 'OnFailureDestinationDeliveryErrorCount'].map(
          (name) => `AWS/Lambda/${name}:${mapping}`,
        ),
      ),
    ]);
    expect(metricsOf('TokenTableThrottles')).toEqual([
      'FILL(m0, 0) + FILL(m1, 0)',
      `AWS/DynamoDB/ReadThrottleEvents:${logicalId(b.processor.table)}`,
      `AWS/DynamoDB/WriteThrottleEvents:${logicalId(b.processor.table)}`,
    ]);
  });

  it('alarms on time lag, stalls, handler latency, hand-backs and a long-disabled event source by default', () => {
    const alarms = resourcesOf(b.template, 'AWS::CloudWatch::Alarm');
    const summary = (id: string) => {
      const alarm = alarms[logicalId(b.processor.alarms[id]!)]!;
      return [
        `${alarm.Namespace as string}/${alarm.MetricName as string}`,
        alarm.Statistic ?? alarm.ExtendedStatistic,
        alarm.EvaluationPeriods,
        alarm.ComparisonOperator,
        alarm.Threshold,
        alarm.TreatMissingData,
      ];
    };

    expect(
      [
        'TimeLagSeconds',
        'StalledPartitions',
        'HandlerDurationP99',
        'RecordsHandedBack',
        'PartitionsAbandoned',
        'EventSourceDisabled',
      ].map(summary),
    ).toEqual([
      ['Tidemark/TimeLagSeconds', 'Maximum', 2, 'GreaterThanThreshold', 300, 'notBreaching'],
      ['Tidemark/StalledPartitions', 'Maximum', 1, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching'],
      ['Tidemark/HandlerDuration', 'p99', 1, 'GreaterThanThreshold', 30_000, 'notBreaching'],
      ['Tidemark/RecordsHandedBack', 'Sum', 1, 'GreaterThanOrEqualToThreshold', 1000, 'notBreaching'],
      ['Tidemark/PartitionsAbandoned', 'Sum', 1, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching'],
      // 6 days: under Kafka's 7-day offsets.retention.minutes.
      ['Tidemark/EventSourceDisabledSeconds', 'Maximum', 1, 'GreaterThanOrEqualToThreshold', 518_400, 'notBreaching'],
    ]);
  });

  it('alarms on the dead-letter metrics with the default thresholds and the default period', () => {
    const alarms = resourcesOf(b.template, 'AWS::CloudWatch::Alarm');
    const summary = (id: string) => {
      const alarm = alarms[logicalId(b.processor.alarms[id]!)]!;
      return [
        `${alarm.Namespace as string}/${alarm.MetricName as string}`,
        alarm.Statistic,
        alarm.Period,
        alarm.ComparisonOperator,
        alarm.Threshold,
        alarm.TreatMissingData,
        alarm.AlarmActions,
      ];
    };

    expect(
      ['ParkedKeys', 'OldestParkedAgeSeconds', 'RecordsSkippedBySource', 'RecordsUnparkable', 'RedriveErrors'].map(
        summary,
      ),
    ).toEqual([
      ['Tidemark/ParkedKeys', 'Maximum', 300, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching', undefined],
      ['Tidemark/OldestParkedAgeSeconds', 'Maximum', 300, 'GreaterThanThreshold', 3600, 'notBreaching', undefined],
      ['Tidemark/RecordsSkippedBySource', 'Sum', 300, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching', undefined],
      ['Tidemark/RecordsUnparkable', 'Sum', 300, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching', undefined],
      ['AWS/Lambda/Errors', 'Sum', 300, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching', undefined],
    ]);
    expect(alarms[logicalId(b.processor.alarms.RedriveErrors!)]!.Dimensions).toEqual([
      { Name: 'FunctionName', Value: { Ref: logicalId(b.processor.redriveFunction) } },
    ]);
  });

  it('draws a dashboard of lag, records, errors, duration, layout changes, concurrency and dead letters', () => {
    const [dashboard] = Object.values(resourcesOf(a.template, 'AWS::CloudWatch::Dashboard'));
    const body = JSON.parse(render(dashboard!.DashboardBody).replace(/\$\{[^}]+\}/g, 'x')) as {
      widgets: Array<{ properties: { title: string; metrics: unknown[][] } }>;
    };
    /** The Tidemark metrics of a widget: `name:stat` (the namespace, name, dimension and value come first). */
    const tidemark = (title: string) =>
      body.widgets
        .find((w) => w.properties.title === title)!
        .properties.metrics.filter((m) => m[0] === 'Tidemark')
        .map((m) => {
          expect(m.slice(2, 4)).toEqual(['Processor', 'order-projection']);
          return `${m[1] as string}:${(m[4] as { stat: string }).stat}`;
        });

    expect(body.widgets.map((w) => w.properties.title)).toEqual([
      'Offset lag (records)',
      'Records',
      'Errors and throttles',
      'Duration (p99)',
      'Layout changes',
      'Concurrent executions',
      'Dead letters parked and redriven',
      'Records skipped by the source or unparkable',
      'Parked keys',
      'Oldest parked letter (seconds)',
      'Time lag (seconds)',
      'Handler duration (ms)',
      'Handed back, abandoned and replay-skipped',
      'Stalled partitions and disabled event source',
      'Event source: records',
      'Event source: errors',
      'Event source: offset lag (records)',
      'Token table throttles',
    ]);
    expect(
      [
        'Time lag (seconds)',
        'Handler duration (ms)',
        'Handed back, abandoned and replay-skipped',
        'Stalled partitions and disabled event source',
      ].map(tidemark),
    ).toEqual([
      ['TimeLagSeconds:Maximum', 'OldestRecordAgeSeconds:Maximum'],
      ['HandlerDuration:p50', 'HandlerDuration:p99'],
      ['RecordsHandedBack:Sum', 'PartitionsAbandoned:Sum', 'RecordsReplaySkipped:Sum'],
      ['StalledPartitions:Maximum', 'EventSourceDisabledSeconds:Maximum'],
    ]);
    // With the partition dimension, every partition's time lag, found by a search.
    expect(JSON.stringify(body.widgets.find((w) => w.properties.title === 'Time lag (seconds)'))).toContain(
      `SEARCH('{Tidemark,Processor,Partition} MetricName=\\"TimeLagSeconds\\" Processor=\\"order-projection\\"', 'Maximum', 60)`,
    );
    const mappingMetrics = (title: string) =>
      body.widgets
        .find((w) => w.properties.title === title)!
        .properties.metrics.map((m) => `${m[0] as string}/${m[1] as string}`);
    expect(mappingMetrics('Event source: records')).toEqual(
      [
        'PolledEventCount',
        'InvokedEventCount',
        'FailedInvokeEventCount',
        'DroppedEventCount',
        'OnFailureDestinationDeliveredEventCount',
        'CommittedEventCount',
      ].map((name) => `AWS/Lambda/${name}`),
    );
    expect(mappingMetrics('Event source: offset lag (records)')).toEqual([
      'AWS/Lambda/MaxOffsetLag',
      'AWS/Lambda/SumOffsetLag',
    ]);
    expect(
      [
        'Dead letters parked and redriven',
        'Records skipped by the source or unparkable',
        'Parked keys',
        'Oldest parked letter (seconds)',
      ].map(tidemark),
    ).toEqual([
      ['RecordsParked:Sum', 'RecordsRedriven:Sum'],
      ['RecordsSkippedBySource:Sum', 'RecordsUnparkable:Sum'],
      ['ParkedKeys:Maximum'],
      ['OldestParkedAgeSeconds:Maximum'],
    ]);
  });
});

describe('dead letters', () => {
  it('lets the redriver read, lease and resolve its processor items and nothing else on the table', () => {
    const p = b.processor;
    const permissions = permissionsOf(b.template, roleOf(b.template, logicalId(p.redriveFunction)));
    const table = `${logicalId(p.table)}.Arn`;

    expect(permissions.filter((line) => line.startsWith('dynamodb:'))).toEqual(
      grants(
        [
          'dynamodb:BatchGetItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        [table],
        processorItems('payments'),
      ),
    );
    expect(permissions.filter((line) => !line.startsWith('dynamodb:'))).toEqual([
      ...grants(
        ['logs:CreateLogStream', 'logs:PutLogEvents'],
        [`${logicalId(p.redriveFunction.logGroup as never)}.Arn`],
      ),
      ...XRAY,
    ]);
  });

  it('runs the redriver with 512 MB, a 5 minute timeout and 50 keys a run by default', () => {
    const fn = resourcesOf(b.template, 'AWS::Lambda::Function')[logicalId(b.processor.redriveFunction)]!;
    const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;

    expect([fn.MemorySize, fn.Timeout, variables.TIDEMARK_REDRIVE_KEYS_PER_RUN, variables.TIDEMARK_MODE]).toEqual([
      512,
      300,
      '50',
      undefined,
    ]);
    expect(render(variables.TIDEMARK_TABLE_NAME)).toBe(logicalId(b.processor.table));
  });

  it('starts the redriver every minute by default with {"action":"redrive-due"} and no retries', () => {
    const rules = resourcesOf(b.template, 'AWS::Events::Rule');

    // Beside the admin API's lag sampler (test/cdk/admin-api.test.ts).
    expect(Object.keys(rules).sort()).toEqual(
      [logicalId(b.processor.redriveSchedule), logicalId(b.processor.admin!.sampleSchedule)].sort(),
    );
    expect(rules[logicalId(b.processor.redriveSchedule)]).toEqual({
      Description: 'Tidemark payments: redrives the parked keys that are due',
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [logicalId(b.processor.redriveFunction), 'Arn'] },
          Id: 'Target0',
          Input: '{"action":"redrive-due"}',
          RetryPolicy: { MaximumRetryAttempts: 0 },
        },
      ],
    });
  });

  it('lets only its schedule rule invoke the redriver, at the rate given', () => {
    const permissions = Object.values(resourcesOf(a.template, 'AWS::Lambda::Permission')).map((permission) => ({
      ...permission,
      FunctionName: render(permission.FunctionName),
      SourceArn: render(permission.SourceArn),
    }));

    expect(resourcesOf(a.template, 'AWS::Events::Rule')[logicalId(a.processor.redriveSchedule)]).toMatchObject({
      ScheduleExpression: 'rate(5 minutes)',
    });
    // The lag sampler's rule invokes the admin function the same way, and nothing else invokes either.
    expect(permissions).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: `${logicalId(a.processor.redriveFunction)}.Arn`,
        Principal: 'events.amazonaws.com',
        SourceArn: `${logicalId(a.processor.redriveSchedule)}.Arn`,
      },
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: `${logicalId(a.processor.adminFunction!)}.Arn`,
        Principal: 'events.amazonaws.com',
        SourceArn: `${logicalId(a.processor.admin!.sampleSchedule)}.Arn`,
      },
    ]);
  });

  /** The generated entry directories under `root`, after a processor is built in `app`. */
  const entriesAfter = (app: App, root: string) => {
    const stack = new Stack(app, 'Entries');
    const processor = processorModule({ name: 'p', topics: ['orders'] });
    new TrackingProcessor(stack, 'P', { processor, msk: mskCluster(stack) });
    const dir = join(root, 'tidemark', createHash('sha256').update(processor).digest('hex').slice(0, 16));
    return { processor, dir, files: readdirSync(dir).sort() };
  };

  it('writes its entries under the cloud assembly directory, importing the runtime and the module by path', () => {
    const repo = fileURLToPath(new URL('../../', import.meta.url));
    mkdirSync(join(repo, 'cdk.out'), { recursive: true });
    const outdir = mkdtempSync(join(repo, 'cdk.out', 'entries-'));
    const { processor, dir, files } = entriesAfter(offlineApp({}, { outdir }), outdir);

    expect(files).toEqual(['dispatch.mjs', 'redrive.mjs', 'segment-worker.mjs']);
    expect(readFileSync(join(dir, 'redrive.mjs'), 'utf8').split('\n').slice(1)).toEqual([
      `import { createRedriveHandler } from ${JSON.stringify(fileURLToPath(new URL('../../shared/index.ts', import.meta.url)))};`,
      `import { processor } from ${JSON.stringify(processor)};`,
      'export const handler = createRedriveHandler(processor);',
      '',
    ]);
  });

  it('writes them under the app’s node_modules/.cache when the cloud assembly is outside the app', () => {
    const cache = fileURLToPath(new URL('../../node_modules/.cache/', import.meta.url));
    const { files } = entriesAfter(offlineApp(), cache);

    expect(files).toEqual(['dispatch.mjs', 'redrive.mjs', 'segment-worker.mjs']);
  });
});

describe('failure destinations', () => {
  const destinationOf = (destination: (stack: Stack) => FailureDestination, kafka: 'msk' | 'self' = 'msk') => {
    const stack = offlineStack();
    const processor = new TrackingProcessor(stack, 'P', {
      processor: processorModule({ name: 'p', topics: ['orders'] }),
      ...(kafka === 'msk' ? { msk: mskCluster(stack) } : { selfManagedKafka: selfManagedCluster(stack) }),
      eventSource: { onFailure: destination(stack) },
    });
    const template = Template.fromStack(stack);
    const mapping = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping'))[0]!;
    const dispatchPermissions = permissionsOf(template, roleOf(template, logicalId(processor.dispatchFunction)));
    const arn = (value: string | undefined) => (value === undefined ? undefined : render(stack.resolve(value)));
    return {
      destination: mapping.DestinationConfig
        ? render((mapping.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure.Destination)
        : undefined,
      grants: dispatchPermissions.filter((line) => /^(sqs|sns|s3):/.test(line) || line.includes('orders-failed')),
      queues: Object.keys(resourcesOf(template, 'AWS::SQS::Queue')).length,
      buckets: Object.keys(resourcesOf(template, 'AWS::S3::Bucket')).length,
      failureQueue: arn(processor.failureQueue?.queueArn),
      failureBucket: arn(processor.failureBucket?.bucketArn),
    };
  };

  it('sends to a given SNS topic with publish rights on that topic only', () => {
    const result = destinationOf((stack) =>
      FailureDestination.sns(sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:123456789012:failed')),
    );

    expect(result).toEqual({
      destination: 'arn:aws:sns:eu-west-1:123456789012:failed',
      grants: ['sns:Publish arn:aws:sns:eu-west-1:123456789012:failed'],
      queues: 0,
      buckets: 0,
      failureQueue: undefined,
      failureBucket: undefined,
    });
  });

  it('writes whole batches to a given bucket with put rights on its objects only', () => {
    const result = destinationOf((stack) => FailureDestination.s3(new s3.Bucket(stack, 'Failed')));

    expect(result).toEqual({
      destination: expect.stringMatching(/^Failed\w+\.Arn$/),
      grants: [
        expect.stringMatching(/^s3:ListBucket Failed\w+\.Arn$/),
        expect.stringMatching(/^s3:PutObject Failed\w+\.Arn\/\*$/),
      ],
      queues: 0,
      buckets: 1,
      failureQueue: undefined,
      failureBucket: expect.stringMatching(/^Failed\w+\.Arn$/),
    });
    expect(result.failureBucket).toBe(result.destination);
  });

  it('sends to a given SQS queue with send rights on that queue only, and makes no bucket', () => {
    const result = destinationOf((stack) => FailureDestination.sqs(new sqs.Queue(stack, 'Failed')));

    expect(result).toEqual({
      destination: expect.stringMatching(/^Failed\w+\.Arn$/),
      grants: [expect.stringMatching(/^sqs:SendMessage Failed\w+\.Arn$/)],
      queues: 1,
      buckets: 0,
      failureQueue: expect.stringMatching(/^Failed\w+\.Arn$/),
      failureBucket: undefined,
    });
    expect(result.failureQueue).toBe(result.destination);
  });

  it('writes records to a Kafka topic of the MSK cluster with write rights on that topic only', () => {
    const result = destinationOf(() => FailureDestination.kafka('orders-failed'));

    expect(result).toEqual({
      destination: 'kafka://orders-failed',
      grants: grants(
        ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
        [`${ARN_PREFIX}:topic/${CLUSTER_PATH}/orders-failed`],
      ),
      queues: 0,
      buckets: 0,
      failureQueue: undefined,
      failureBucket: undefined,
    });
  });

  it('has no destination, no queue and no bucket when told to discard after finite retries', () => {
    const result = destinationOf(() => FailureDestination.none(), 'self');

    expect(result).toEqual({
      destination: undefined,
      grants: [],
      queues: 0,
      buckets: 0,
      failureQueue: undefined,
      failureBucket: undefined,
    });
  });
});

describe('configuration errors', () => {
  const THROWS_AT_LOAD = processorModule({
    name: 'orders',
    topics: ['orders'],
    extra: "throw new Error('needs AWS at load time');\n",
  });
  const NO_PROCESSOR = join(dirname(THROWS_AT_LOAD), 'no-processor.ts');
  writeFileSync(NO_PROCESSOR, 'export const handler = async () => {};\n');
  const BAD_NAME = processorModule({ name: 'order view', topics: ['orders'] });

  /** Builds a processor with `overrides` on a valid MSK configuration and returns what it threw. */
  const attempt = (overrides: (stack: Stack) => Partial<TrackingProcessorProps>) => {
    const stack = offlineStack();
    return thrownBy(
      () =>
        new TrackingProcessor(stack, 'P', {
          processor: processorModule({ name: 'orders', topics: ['orders'] }),
          msk: mskCluster(stack),
          ...overrides(stack),
        }),
    );
  };

  it.each<[string, (stack: Stack) => Partial<TrackingProcessorProps>, string]>([
    [
      'a processor name other than the module’s',
      () => ({ processorName: 'billing' }),
      `processorName: got "billing"; allowed: the processor module's value, "orders" (${processorModule({ name: 'orders', topics: ['orders'] })}); drop processorName from the props or make them agree`,
    ],
    [
      'topics other than the module’s',
      () => ({ topics: ['payments'] }),
      `topics: got ["payments"]; allowed: the processor module's value, ["orders"] (${processorModule({ name: 'orders', topics: ['orders'] })}); drop topics from the props or make them agree`,
    ],
    [
      'a concurrency other than the module’s',
      () => ({ concurrency: 4 }),
      `concurrency: got 4; allowed: the processor module's value, 16 (${processorModule({ name: 'orders', topics: ['orders'] })}); drop concurrency from the props or make them agree`,
    ],
    [
      'both MSK and a self-managed cluster',
      (stack) => ({ selfManagedKafka: selfManagedCluster(stack) }),
      'msk and selfManagedKafka: got "both"; allowed: exactly one of them',
    ],
    ['no cluster', () => ({ msk: undefined }), 'msk and selfManagedKafka: got "neither"; allowed: exactly one of them'],
    [
      'a malformed cluster ARN',
      (stack) => ({ msk: { ...mskCluster(stack), clusterArn: 'arn:aws:kafka:eu-west-1:123:cluster/x' } }),
      'msk.clusterArn: got "arn:aws:kafka:eu-west-1:123:cluster/x"; allowed: arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>',
    ],
    [
      'MSK without security groups',
      (stack) => ({ msk: { ...mskCluster(stack), network: { ...mskCluster(stack).network, securityGroups: [] } } }),
      'msk.network.securityGroups: got []; allowed: one or more security groups',
    ],
    [
      'a broker without a port',
      (stack) => ({
        msk: undefined,
        selfManagedKafka: selfManagedCluster(stack, { bootstrapServers: ['broker-1.example.com'] }),
      }),
      'selfManagedKafka.bootstrapServers: got "broker-1.example.com"; allowed: host:port, e.g. broker-1.example.com:9096',
    ],
    [
      'an unknown self-managed authentication',
      (stack) => ({
        msk: undefined,
        selfManagedKafka: selfManagedCluster(stack, { authentication: 'plain' as never }),
      }),
      'selfManagedKafka.authentication: got "plain"; allowed: sasl-scram-512, sasl-scram-256, mtls',
    ],
    [
      'a batch size above 10000',
      () => ({ eventSource: { batchSize: 20_000 } }),
      'eventSource.batchSize: got 20000; allowed: a whole number from 1 to 10000',
    ],
    [
      'a batching window above 5 minutes',
      () => ({ eventSource: { maxBatchingWindow: Duration.minutes(6) } }),
      'eventSource.maxBatchingWindow: got "6 minutes"; allowed: whole seconds up to 5 minutes, or unset',
    ],
    [
      'AT_TIMESTAMP without a timestamp',
      () => ({ eventSource: { startingPosition: lambda.StartingPosition.AT_TIMESTAMP } }),
      'eventSource.startingPositionTimestamp: got nothing; allowed: a Unix time in seconds with startingPosition AT_TIMESTAMP, and none otherwise',
    ],
    [
      'a consumer group with a space',
      () => ({ eventSource: { consumerGroupId: 'orders view' } }),
      `eventSource.consumerGroupId: got "orders view"; allowed: 1 to 200 characters of letters, digits and '-/*:_+=.@'`,
    ],
    [
      'more minimum than maximum pollers',
      () => ({ eventSource: { provisionedPollers: { minimum: 10, maximum: 5 } } }),
      'eventSource.provisionedPollers: got {"minimum":10,"maximum":5}; allowed: minimum at most maximum',
    ],
    [
      'more than 200 minimum pollers',
      () => ({ eventSource: { provisionedPollers: { minimum: 201 } } }),
      'eventSource.provisionedPollers.minimum: got 201; allowed: a whole number from 1 to 200',
    ],
    [
      'negative retries other than -1',
      () => ({ eventSource: { retryAttempts: -2 } }),
      'eventSource.retryAttempts: got -2; allowed: -1 (until the record leaves Kafka) or a whole number from 0 to 10000',
    ],
    [
      'infinite retries with no destination',
      () => ({ eventSource: { retryAttempts: -1, onFailure: FailureDestination.none() } }),
      `eventSource.retryAttempts: got "-1 (infinite) with onFailure none"; allowed: a finite retryAttempts (0 to 10000) or an on-failure destination: with neither, a record that never succeeds stalls its partition until Kafka's retention deletes it, unseen`,
    ],
    [
      'a record age under a minute',
      () => ({ eventSource: { maxRecordAge: Duration.seconds(30) } }),
      'eventSource.maxRecordAge: got "30 seconds"; allowed: 60 seconds to 7 days, or unset for infinite',
    ],
    [
      'a failure topic the processor consumes',
      () => ({ eventSource: { onFailure: FailureDestination.kafka('orders') } }),
      'eventSource.onFailure.topic: got "orders"; allowed: a topic the processor does not consume',
    ],
    ['an unknown mode', () => ({ mode: 'parallel' as never }), `mode: got "parallel"; allowed: 'inline' or 'fan-out'`],
    [
      'worker settings in inline mode',
      () => ({ worker: { reservedConcurrency: 10 } }),
      `worker: got {"reservedConcurrency":10}; allowed: no worker settings unless mode is 'fan-out' (inline mode has no segment worker)`,
    ],
    [
      'zero reserved concurrency for the worker',
      () => ({ mode: 'fan-out', worker: { reservedConcurrency: 0 } }),
      'worker.reservedConcurrency: got 0; allowed: a whole number from 1 to 10000',
    ],
    [
      'a dispatch timeout over the Kafka limit',
      () => ({ dispatch: { timeout: Duration.minutes(15) } }),
      'dispatch.timeout: got "15 minutes"; allowed: 10 seconds to 14 minutes (the Kafka trigger limit)',
    ],
    [
      'a lease shorter than twice its safety margin',
      () => ({ runtime: { leaseMs: 3_000 } }),
      'runtime: got {"leaseMs":3000}; allowed: settings the dispatcher accepts: leaseMs must be >= 1000 and more than twice leaseSafetyMs (2000), got 3000',
    ],
    [
      'an unknown log level',
      () => ({ runtime: { logLevel: 'trace' as never } }),
      'runtime.logLevel: got "trace"; allowed: debug, info, warn, error',
    ],
    [
      'a change timeout within the drain timeout',
      () => ({ coordinator: { changeTimeout: Duration.minutes(1) } }),
      'coordinator.changeTimeout: got "1 minute"; allowed: more than coordinator.drainTimeoutMs (120000 ms), so a timed-out drain can still roll back',
    ],
    [
      'a drain poll of zero seconds',
      () => ({ coordinator: { drainPollSeconds: 0 } }),
      'coordinator.drainPollSeconds: got 0; allowed: a whole number from 1 to 3600',
    ],
    [
      'a table destroyed with the stack while deletion protection is on',
      () => ({ table: { removalPolicy: RemovalPolicy.DESTROY } }),
      'table.removalPolicy: got "destroy with deletionProtection on"; allowed: destroy together with deletionProtection: false (a protected table makes the stack deletion fail), or retain',
    ],
    [
      'a snapshot of the table on removal',
      () => ({ table: { removalPolicy: RemovalPolicy.SNAPSHOT } }),
      'table.removalPolicy: got "snapshot"; allowed: retain, retain-on-update-or-delete, destroy',
    ],
    [
      'an alarm period of 90 seconds',
      () => ({ alarms: { period: Duration.seconds(90) } }),
      'alarms.period: got "1 minute 30 seconds"; allowed: a whole number of minutes',
    ],
    [
      'a parked-keys alarm threshold of zero',
      () => ({ alarms: { parkedKeysThreshold: 0 } }),
      'alarms.parkedKeysThreshold: got 0; allowed: a whole number from 1 to 9007199254740991',
    ],
    [
      'an oldest-parked-age threshold under a minute',
      () => ({ alarms: { oldestParkedAgeThreshold: Duration.seconds(30) } }),
      'alarms.oldestParkedAgeThreshold: got "30 seconds"; allowed: whole seconds from 1 minute to 30 days',
    ],
    [
      'a time lag threshold under a minute',
      () => ({ alarms: { timeLagThreshold: Duration.seconds(10) } }),
      'alarms.timeLagThreshold: got "10 seconds"; allowed: whole seconds from 1 minute to 7 days',
    ],
    [
      'a handler latency threshold over 15 minutes',
      () => ({ alarms: { handlerDurationP99Threshold: Duration.minutes(20) } }),
      'alarms.handlerDurationP99Threshold: got "20 minutes"; allowed: whole milliseconds from 1 ms to 15 minutes',
    ],
    [
      'no hand-back threshold',
      () => ({ alarms: { recordsHandedBackThreshold: 0 } }),
      'alarms.recordsHandedBackThreshold: got 0; allowed: a whole number from 1 to 9007199254740991',
    ],
    [
      'an offset-expiry guard past Kafka’s offset retention',
      () => ({ alarms: { eventSourceDisabledThreshold: Duration.days(31) } }),
      'alarms.eventSourceDisabledThreshold: got "31 days"; allowed: whole minutes from 1 hour to 30 days',
    ],
    [
      'a partition dimension that is not a boolean',
      () => ({ alarms: { partitionDimension: 'yes' as never } }),
      'alarms.partitionDimension: got "yes"; allowed: true or false',
    ],
    [
      'a redrive timeout over 15 minutes',
      () => ({ deadLetters: { redriveTimeout: Duration.minutes(16) } }),
      'deadLetters.redriveTimeout: got "16 minutes"; allowed: whole seconds from 1 to 15 minutes',
    ],
    [
      'a redrive timeout under a minute',
      () => ({ deadLetters: { redriveTimeout: Duration.seconds(30) } }),
      'deadLetters.redriveTimeout: got "30 seconds"; allowed: whole seconds from 1 to 15 minutes',
    ],
    [
      'a redrive schedule that is not whole minutes',
      () => ({ deadLetters: { schedule: Duration.seconds(90) } }),
      'deadLetters.schedule: got "1 minute 30 seconds"; allowed: a whole number of minutes from 1 to 1440 (a day)',
    ],
    [
      'a redrive schedule longer than a day',
      () => ({ deadLetters: { schedule: Duration.days(2) } }),
      'deadLetters.schedule: got "2 days"; allowed: a whole number of minutes from 1 to 1440 (a day)',
    ],
    [
      'no keys per redrive run',
      () => ({ deadLetters: { keysPerRun: 0 } }),
      'deadLetters.keysPerRun: got 0; allowed: a whole number from 1 to 1000',
    ],
    [
      'a fractional number of keys per redrive run',
      () => ({ deadLetters: { keysPerRun: 2.5 } }),
      'deadLetters.keysPerRun: got 2.5; allowed: a whole number from 1 to 1000',
    ],
    [
      'a log retention that CloudWatch does not offer',
      () => ({ logRetention: 31 as logs.RetentionDays }),
      'logRetention: got 31; allowed: a RetentionDays value, e.g. 1, 7, 14, 30, 90, 365',
    ],
    [
      'a processor module that does not exist',
      () => ({ processor: 'functions/missing.ts' }),
      'processor: got "functions/missing.ts"; allowed: the path of an existing .ts, .mts, .cts, .js, .mjs, .cjs module that exports `processor` (from defineProcessor)',
    ],
    [
      'a processor module that throws while loading',
      () => ({ processor: THROWS_AT_LOAD }),
      `processor: got ${JSON.stringify(THROWS_AT_LOAD)}; allowed: a module that loads without error; loading it threw Error: needs AWS at load time`,
    ],
    [
      'a module that does not export processor',
      () => ({ processor: NO_PROCESSOR }),
      `processor: got ${JSON.stringify(NO_PROCESSOR)}; allowed: a module that exports \`processor\` (the result of defineProcessor); it exports handler`,
    ],
    [
      'a processor module whose definition is invalid',
      () => ({ processor: BAD_NAME }),
      `processor: got ${JSON.stringify(BAD_NAME)}; allowed: a module that loads without error; loading it threw ConfigurationError: processor name "order view" is not allowed: use 1 to 100 letters, digits, '.', '_' or '-'`,
    ],
  ])('refuses %s, saying what was given and what is allowed', (_case, overrides, message) => {
    const error = attempt(overrides);

    expect(error).toBeInstanceOf(TrackingProcessorConfigError);
    expect((error as Error).message).toBe(`TrackingProcessor ${message}`);
  });
});
