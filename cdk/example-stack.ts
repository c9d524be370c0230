import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import {
  SelfManagedKafkaAuth,
  TrackingProcessor,
  TrackingProcessorConfigError,
  type KafkaNetwork,
  type TrackingProcessorProps,
} from './index.js';

/** The processor this example deploys unless `-c processor=<path>` names another module. */
export const EXAMPLE_PROCESSOR = fileURLToPath(new URL('../functions/processor.ts', import.meta.url));

/** Used when no `kafka` context is given, so `cdk synth` works on a clean clone. Not deployable. */
export const PLACEHOLDER = {
  clusterArn: 'arn:aws:kafka:us-east-1:111111111111:cluster/placeholder/00000000-0000-0000-0000-000000000000-1',
  subnetIds: 'subnet-00000000000000000,subnet-11111111111111111',
  securityGroupIds: 'sg-00000000000000000',
} as const;

const REMOVAL_POLICIES: Record<string, RemovalPolicy> = {
  retain: RemovalPolicy.RETAIN,
  destroy: RemovalPolicy.DESTROY,
};

/**
 * The example deployment: one {@link TrackingProcessor} configured from CDK context (`cdk.json` or `-c key=value`),
 * against an MSK cluster with IAM auth (`-c kafka=msk`) or a self-managed cluster (`-c kafka=self-managed`). Every
 * key is listed in docs/deploy.md. Without `kafka` it synthesizes with placeholder values and warns.
 */
export class TidemarkExampleStack extends Stack {
  readonly processor: TrackingProcessor;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { description: 'Tidemark: segmented, key-ordered Kafka processing on AWS Lambda', ...props });
    const context = new ContextReader(this);
    const kafka = context.text('kafka');
    if (kafka === undefined) {
      Annotations.of(this).addWarningV2(
        'tidemark:placeholderCluster',
        'No -c kafka=msk|self-managed given: synthesized against a placeholder MSK cluster that does not exist. ' +
          'See docs/deploy.md for the context keys of a real deployment.',
      );
    }
    const cluster = this.cluster(context, kafka);
    const removalPolicy = context.text('removalPolicy');
    if (removalPolicy !== undefined && !REMOVAL_POLICIES[removalPolicy]) {
      throw new TrackingProcessorConfigError('context removalPolicy', removalPolicy, 'retain or destroy');
    }
    const startingPosition = context.text('startingPosition');
    const alarmTopicArn = context.text('alarmTopicArn');
    const maxBatchingWindow = context.integer('maxBatchingWindowSeconds');
    const maxRecordAge = context.integer('maxRecordAgeSeconds');
    const minimumPollers = context.integer('minimumPollers');
    const maximumPollers = context.integer('maximumPollers');

    const reservedConcurrency = context.integer('workerReservedConcurrency');
    const redriveScheduleMinutes = context.integer('redriveScheduleMinutes');
    const settings: TrackingProcessorProps = {
      processor: resolve(context.text('processor') ?? EXAMPLE_PROCESSOR),
      // Given, they are checked against the processor module; left out, they are read from it.
      processorName: context.text('processorName'),
      topics: context.list('topics') ?? context.list('topic'),
      ...cluster,
      mode: context.text('mode') as TrackingProcessorProps['mode'],
      concurrency: context.integer('concurrency'),
      eventSource: {
        batchSize: context.integer('batchSize'),
        maxBatchingWindow: maxBatchingWindow === undefined ? undefined : Duration.seconds(maxBatchingWindow),
        startingPosition: startingPosition as lambda.StartingPosition | undefined,
        consumerGroupId: context.text('consumerGroupId'),
        provisionedPollers:
          minimumPollers === undefined && maximumPollers === undefined
            ? undefined
            : { minimum: minimumPollers, maximum: maximumPollers },
        retryAttempts: context.integer('retryAttempts'),
        maxRecordAge: maxRecordAge === undefined ? undefined : Duration.seconds(maxRecordAge),
        bisectBatchOnError: context.boolean('bisectBatchOnError'),
      },
      worker: reservedConcurrency === undefined ? undefined : { reservedConcurrency },
      table: {
        deletionProtection: context.boolean('deletionProtection'),
        removalPolicy: removalPolicy === undefined ? undefined : REMOVAL_POLICIES[removalPolicy],
      },
      alarms: alarmTopicArn
        ? { actions: [new SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', alarmTopicArn))] }
        : undefined,
      deadLetters: {
        schedule: redriveScheduleMinutes === undefined ? undefined : Duration.minutes(redriveScheduleMinutes),
        keysPerRun: context.integer('redriveKeysPerRun'),
      },
      logRetention: context.integer('logRetentionDays') as logs.RetentionDays | undefined,
    };
    this.processor = new TrackingProcessor(this, 'Processor', settings);

    const outputs: Record<string, string> = {
      TokenTableName: this.processor.table.tableName,
      DispatchFunctionName: this.processor.dispatchFunction.functionName,
      // For `tidemark dead-letters retry --function <name>`.
      RedriveFunctionName: this.processor.redriveFunction.functionName,
      ...(this.processor.failureBucket ? { FailureBucketName: this.processor.failureBucket.bucketName } : {}),
      SplitStateMachineArn: this.processor.stateMachines.split.stateMachineArn,
      MergeStateMachineArn: this.processor.stateMachines.merge.stateMachineArn,
      ScaleStateMachineArn: this.processor.stateMachines.scale.stateMachineArn,
      DashboardName: this.processor.dashboard.dashboardName,
      // For `tidemark console --url <AdminUrl>`: the status page and admin API, IAM-signed.
      ...(this.processor.admin ? { AdminUrl: this.processor.admin.url.url } : {}),
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }

  private cluster(
    context: ContextReader,
    kafka: string | undefined,
  ): Pick<TrackingProcessorProps, 'msk' | 'selfManagedKafka'> {
    if (kafka === undefined) {
      return { msk: { clusterArn: PLACEHOLDER.clusterArn, network: this.network(PLACEHOLDER)! } };
    }
    if (kafka === 'msk') {
      const network = this.network(context.required(['subnetIds', 'securityGroupIds'], 'kafka=msk'));
      return { msk: { clusterArn: context.required(['clusterArn'], 'kafka=msk').clusterArn, network: network! } };
    }
    if (kafka === 'self-managed') {
      const { bootstrapServers, secretArn } = context.required(['bootstrapServers', 'secretArn'], 'kafka=self-managed');
      const rootCaSecretArn = context.text('rootCaSecretArn');
      const auth = context.text('auth') ?? SelfManagedKafkaAuth.SaslScram512;
      const networkKeys = ['subnetIds', 'securityGroupIds'] as const;
      const given = networkKeys.filter((key) => context.text(key) !== undefined);
      if (given.length > 0 && given.length < networkKeys.length) {
        throw new TrackingProcessorConfigError('context subnetIds, securityGroupIds', given, 'both or neither');
      }
      return {
        selfManagedKafka: {
          bootstrapServers: bootstrapServers.split(',').map((s) => s.trim()),
          authentication: auth as SelfManagedKafkaAuth,
          secret: secretsmanager.Secret.fromSecretCompleteArn(this, 'KafkaSecret', secretArn),
          rootCaCertificate: rootCaSecretArn
            ? secretsmanager.Secret.fromSecretCompleteArn(this, 'KafkaRootCa', rootCaSecretArn)
            : undefined,
          network:
            given.length === 0
              ? undefined
              : this.network(Object.fromEntries(networkKeys.map((key) => [key, context.text(key)!]))),
        },
      };
    }
    throw new TrackingProcessorConfigError('context kafka', kafka, 'msk or self-managed (or unset for placeholders)');
  }

  /** Subnets and security groups by id: no lookups, so synth needs no credentials. */
  private network(ids: { subnetIds?: string; securityGroupIds?: string }): KafkaNetwork | undefined {
    if (!ids.subnetIds || !ids.securityGroupIds) return undefined;
    Validations.of(this).acknowledge({
      id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
      reason: "Subnets are imported by id only to place the pollers' network interfaces; no route table is read.",
    });
    return {
      subnets: split(ids.subnetIds).map((id) => ec2.Subnet.fromSubnetId(this, `Subnet-${id}`, id)),
      securityGroups: split(ids.securityGroupIds).map((id) =>
        ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup-${id}`, id, { mutable: false }),
      ),
    };
  }
}

/** Context values arrive as strings from `-c key=value` and as JSON values from cdk.json. */
class ContextReader {
  constructor(private readonly scope: Construct) {}

  text(key: string): string | undefined {
    const value: unknown = this.scope.node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'object') {
      throw new TrackingProcessorConfigError(`context ${key}`, value, 'a string, number or boolean');
    }
    return String(value);
  }

  list(key: string): string[] | undefined {
    const value = this.text(key);
    return value === undefined ? undefined : split(value);
  }

  integer(key: string): number | undefined {
    const value = this.text(key);
    if (value === undefined) return undefined;
    if (!/^-?\d+$/.test(value)) throw new TrackingProcessorConfigError(`context ${key}`, value, 'a whole number');
    return Number(value);
  }

  boolean(key: string): boolean | undefined {
    const value = this.text(key);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') {
      throw new TrackingProcessorConfigError(`context ${key}`, value, 'true or false');
    }
    return value === 'true';
  }

  /** The values of keys a cluster kind needs; one error lists every missing key. */
  required<K extends string>(keys: readonly K[], kind: string): Record<K, string> {
    const missing = keys.filter((key) => this.text(key) === undefined);
    if (missing.length > 0) {
      throw new TrackingProcessorConfigError(
        `context for ${kind}`,
        `no ${missing.join(', ')}`,
        `-c ${keys.map((key) => `${key}=…`).join(' -c ')} (see docs/deploy.md)`,
      );
    }
    return Object.fromEntries(keys.map((key) => [key, this.text(key)!])) as Record<K, string>;
  }
}

function split(list: string): string[] {
  return list
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
