import { Validations, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { FailureDestination, type TrackingProcessorProps } from '../../cdk/props.js';
import { TrackingProcessor } from '../../cdk/tracking-processor.js';
import {
  ROOT_CA_ARN,
  logicalId,
  mskCluster,
  offlineStack,
  processorModule,
  selfManagedCluster,
} from '../support/cdk.js';

/** The configurations checked: both cluster kinds, both modes and every kind of failure destination. */
const CONFIGURATIONS: Record<string, (stack: Stack) => Omit<TrackingProcessorProps, 'processor'>> = {
  'MSK in fan-out mode with the default failure bucket': (stack) => ({
    msk: mskCluster(stack),
    mode: 'fan-out',
    worker: { reservedConcurrency: 10 },
  }),
  'self-managed mTLS with a root CA and an S3 failure bucket': (stack) => ({
    selfManagedKafka: selfManagedCluster(stack, {
      authentication: 'mtls',
      rootCaCertificate: secretsmanager.Secret.fromSecretCompleteArn(stack, 'RootCa', ROOT_CA_ARN),
    }),
    eventSource: { onFailure: FailureDestination.s3(s3.Bucket.fromBucketName(stack, 'Failed', 'failed-batches')) },
  }),
  'self-managed SASL/SCRAM-256 over the internet with an SNS failure topic': (stack) => ({
    selfManagedKafka: selfManagedCluster(stack, { authentication: 'sasl-scram-256', network: undefined }),
    eventSource: {
      onFailure: FailureDestination.sns(sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:123456789012:x')),
    },
  }),
  'MSK with an encrypted, TLS-only SQS failure queue of its own': (stack) => ({
    msk: mskCluster(stack),
    eventSource: {
      onFailure: FailureDestination.sqs(
        new sqs.Queue(stack, 'FailedBatches', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true }),
      ),
    },
  }),
  'MSK with a Kafka failure topic': (stack) => ({
    msk: mskCluster(stack),
    eventSource: { onFailure: FailureDestination.kafka('orders-failed') },
  }),
};

function build(configuration: keyof typeof CONFIGURATIONS) {
  const stack = offlineStack();
  const processor = new TrackingProcessor(stack, 'Processor', {
    processor: processorModule({ name: 'orders', topics: ['orders'] }),
    ...CONFIGURATIONS[configuration]!(stack),
  });
  return { stack, processor };
}

/** Findings as `path rule`, before or after acknowledgements. */
function findings(scope: IConstruct, options: { ignoreAcknowledgements?: boolean } = {}): string[] {
  const pack = new AwsSolutionsChecks();
  // The pack's private check; replaced to see every finding an acknowledgement hides.
  if (options.ignoreAcknowledgements) Object.assign(pack, { isAcknowledged: () => false });
  return pack
    .validateScope(scope)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${r.constructPath} ${v.ruleName}`))
    .sort();
}

/** Every acknowledgement in the tree: where it sits, the rule and the reason. */
function acknowledgements(scope: IConstruct) {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          rule: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions checks', () => {
  it.each(Object.keys(CONFIGURATIONS))('report no unacknowledged finding for %s', (configuration) => {
    const { stack } = build(configuration);

    expect(findings(stack)).toEqual([]);
  });

  it('acknowledge exactly the findings that occur, each where it occurs', () => {
    const { stack, processor } = build('MSK in fan-out mode with the default failure bucket');
    const covered = (finding: string) => {
      const [path, rule] = finding.split(' ');
      return acknowledgements(stack).some((a) => a.rule === rule && path!.startsWith(`${a.path}/`));
    };
    const fn = (step: keyof typeof processor.coordinatorFunctions) =>
      `AwsSolutions-IAM5[Resource::<${logicalId(processor.coordinatorFunctions[step])}.Arn>:*]`;
    const machineRoles = ['Split', 'Merge', 'Scale'].map(
      (m) => `Test/Processor/Layout/${m}/Role/DefaultPolicy/Resource`,
    );
    const network =
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]';
    const bucket = logicalId(processor.failureBucket!);
    const raw = findings(stack, { ignoreAcknowledgements: true });

    expect(raw).toEqual(
      [
        // The admin function: in the cluster's network, and describing executions it names when it starts them.
        'Test/Processor/AdminRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]',
        `Test/Processor/AdminRole/DefaultPolicy/Resource ${network}`,
        ...[
          processor.stateMachines.merge,
          processor.stateMachines.scale,
          processor.stateMachines.split,
          processor.reset!.stateMachine,
        ].map(
          (m) =>
            `Test/Processor/AdminRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${logicalId(m)}.Name>:*]`,
        ),
        // The reset: its state machine's log delivery, X-Ray and invoke grants, and its Kafka steps' X-Ray and network.
        'Test/Processor/Reset/Reset/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]',
        ...Object.values(processor.reset!.functions).map(
          (f) =>
            `Test/Processor/Reset/Reset/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<${logicalId(f)}.Arn>:*]`,
        ),
        ...['Check', 'Move', 'Plan'].flatMap((step) => [
          `Test/Processor/Reset/Reset${step}Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]`,
          `Test/Processor/Reset/Reset${step}Role/DefaultPolicy/Resource ${network}`,
        ]),
        // Active tracing: X-Ray's actions take no resource, in every function's role.
        ...['CoordinatorApply', 'CoordinatorBegin', 'CoordinatorCheck', 'CoordinatorPlan', 'CoordinatorRollback'].map(
          (role) => `Test/Processor/${role}Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]`,
        ),
        'Test/Processor/RedriveRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]',
        'Test/Processor/SegmentWorkerRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]',
        'Test/Processor/DispatchRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]',
        `Test/Processor/DispatchRole/DefaultPolicy/Resource ${network}`,
        `Test/Processor/DispatchRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<${bucket}.Arn>/*]`,
        'Test/Processor/FailureBucket/Resource AwsSolutions-S1',
        ...machineRoles.map((role) => `${role} AwsSolutions-IAM5[Resource::*]`),
        ...machineRoles.flatMap((role, i) =>
          (i === 2
            ? (['plan', 'begin', 'check', 'apply', 'rollback'] as const)
            : (['begin', 'check', 'apply', 'rollback'] as const)
          ).map((step) => `${role} ${fn(step)}`),
        ),
      ].sort(),
    );
    expect(raw.filter((finding) => !covered(finding))).toEqual([]);
  });

  it('give every acknowledgement a reason that says why the finding is acceptable', () => {
    const { stack } = build('self-managed mTLS with a root CA and an S3 failure bucket');
    const all = [
      ...acknowledgements(stack),
      ...acknowledgements(build('MSK in fan-out mode with the default failure bucket').stack),
      ...acknowledgements(build('MSK with an encrypted, TLS-only SQS failure queue of its own').stack),
    ];

    expect(all.filter((a) => a.reason.length < 60)).toEqual([]);
    expect(new Set(all.map((a) => a.rule.replace(/\[.*\]$/, '')))).toEqual(
      new Set(['AwsSolutions-IAM5', 'AwsSolutions-S1', 'AwsSolutions-SQS3']),
    );
  });

  it('report a wildcard permission nobody acknowledged', () => {
    const { stack, processor } = build('MSK with a Kafka failure topic');
    processor.dispatchFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:*'], resources: ['*'] }));

    expect(findings(stack)).toEqual([
      'Test/Processor/DispatchRole/DefaultPolicy/Resource AwsSolutions-IAM5[Action::dynamodb:*]',
    ]);
  });
});
