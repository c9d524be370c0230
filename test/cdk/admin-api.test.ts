import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrackingProcessorConfigError } from '../../cdk/config-error.js';
import { TABLE_ACTIONS } from '../../cdk/table-actions.js';
import { TrackingProcessor } from '../../cdk/tracking-processor.js';
import { thrownBy } from '../support/assertions.js';
import {
  CLUSTER_ARN,
  SECRET_ARN,
  grants,
  logicalId,
  mskCluster,
  offlineStack,
  permissionsOf,
  processorItems,
  processorModule,
  render,
  resourcesOf,
  roleOf,
  selfManagedCluster,
} from '../support/cdk.js';

const EC2 = 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}';
const ARN_PREFIX = 'arn:aws:kafka:eu-west-1:123456789012';
const CLUSTER_PATH = 'orders/abcd1234-0000-1111-2222-333344445555-1';

const SUBNET = 'subnet-0123456789abcdef0';
const SECURITY_GROUP = 'sg-0123456789abcdef0';

/** An MSK processor whose cluster is in a VPC, with ids of the form CloudFormation checks for a function's VPC. */
function msk() {
  const stack = offlineStack();
  const processor = new TrackingProcessor(stack, 'Orders', {
    processor: processorModule({ name: 'order-projection', topics: ['orders'] }),
    msk: {
      clusterArn: CLUSTER_ARN,
      network: {
        subnets: [ec2.Subnet.fromSubnetAttributes(stack, 'Subnet', { subnetId: SUBNET, routeTableId: 'rtb-0123' })],
        securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Group', SECURITY_GROUP, { mutable: false })],
      },
    },
    admin: { stallWindow: Duration.minutes(10) },
  });
  return { stack, processor, template: Template.fromStack(stack) };
}

let a: ReturnType<typeof msk>;
beforeAll(() => {
  a = msk();
});

describe('admin API', () => {
  it('serves behind a function URL that only IAM-signed calls reach', () => {
    const urls = Object.values(resourcesOf(a.template, 'AWS::Lambda::Url'));
    expect(urls).toHaveLength(1);
    expect(urls[0]).toMatchObject({ AuthType: 'AWS_IAM' });
    expect(render(urls[0]!.TargetFunctionArn)).toBe(`${logicalId(a.processor.adminFunction!)}.Arn`);
  });

  it('grants the admin function exactly what its commands and reads need', () => {
    const p = a.processor;
    const role = roleOf(a.template, logicalId(p.adminFunction!));
    const machines = [p.stateMachines.split, p.stateMachines.merge, p.stateMachines.scale, p.reset!.stateMachine].map(
      logicalId,
    );
    const mapping = logicalId(p.eventSourceMappings[0]!);
    expect(permissionsOf(a.template, role)).toEqual(
      [
        ...grants(TABLE_ACTIONS.admin, [`${logicalId(p.table)}.Arn`], processorItems('order-projection')),
        ...grants(
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          [`${logicalId(p.adminFunction!.logGroup as never)}.Arn`],
        ),
        ...grants(
          ['states:StartExecution'],
          machines.map((m) => m),
        ),
        ...grants(
          ['states:DescribeExecution'],
          machines.map((m) => `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:${m}.Name:*`),
        ),
        ...grants(
          ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
          [`arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:event-source-mapping:${mapping}`],
        ),
        ...grants(['kafka-cluster:Connect', 'kafka:GetBootstrapBrokers'], [CLUSTER_ARN]),
        ...grants(['kafka-cluster:DescribeTopic'], [`${ARN_PREFIX}:topic/${CLUSTER_PATH}/orders`]),
        ...grants(['kafka-cluster:DescribeGroup'], [`${ARN_PREFIX}:group/${CLUSTER_PATH}/tidemark-order-projection`]),
        // A function in a VPC: its own network interfaces, in the cluster's subnets and security group only.
        ...grants(['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets'], ['*']),
        ...grants(
          ['ec2:CreateNetworkInterface'],
          [`${EC2}:network-interface/*`, `${EC2}:subnet/${SUBNET}`, `${EC2}:security-group/${SECURITY_GROUP}`],
        ),
        ...grants(
          ['ec2:AssignPrivateIpAddresses', 'ec2:DeleteNetworkInterface', 'ec2:UnassignPrivateIpAddresses'],
          [`${EC2}:network-interface/*`],
        ),
        // Active tracing, as every function of the construct.
        ...grants(['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], ['*']),
      ].sort(),
    );
  });

  it('runs in the cluster’s network to reach its brokers', () => {
    const fn = resourcesOf(a.template, 'AWS::Lambda::Function')[logicalId(a.processor.adminFunction!)]!;
    expect(fn.VpcConfig).toEqual({ SubnetIds: [SUBNET], SecurityGroupIds: [SECURITY_GROUP] });
  });

  it('tells the function its processor, machines, mappings, stall window and how to reach the cluster', () => {
    const fn = resourcesOf(a.template, 'AWS::Lambda::Function')[logicalId(a.processor.adminFunction!)]!;
    const env = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env).toMatchObject({
      TIDEMARK_PROCESSOR_NAME: 'order-projection',
      TIDEMARK_TOPICS: 'orders',
      TIDEMARK_STALL_WINDOW_MS: '600000',
      TIDEMARK_KAFKA_AUTH: 'msk-iam',
      TIDEMARK_MSK_CLUSTER_ARN: CLUSTER_ARN,
    });
    expect(render(env.TIDEMARK_SPLIT_STATE_MACHINE)).toBe(logicalId(a.processor.stateMachines.split));
    expect(render(env.TIDEMARK_EVENT_SOURCES)).toContain(logicalId(a.processor.eventSourceMappings[0]!));
  });

  it('samples lag every minute', () => {
    const rules = Object.values(resourcesOf(a.template, 'AWS::Events::Rule')).filter((r) =>
      render(r.Targets).includes(logicalId(a.processor.adminFunction!)),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ ScheduleExpression: 'rate(1 minute)' });
    expect(render(rules[0]!.Targets)).toContain('sample-lag');
  });

  it('gives a SASL/SCRAM cluster’s admin side the secret, and deploys none when disabled', () => {
    const stack = offlineStack();
    const scram = new TrackingProcessor(stack, 'Payments', {
      processor: processorModule({ name: 'payments', topics: ['payments'] }),
      selfManagedKafka: selfManagedCluster(stack),
    });
    const off = new TrackingProcessor(stack, 'Refunds', {
      processor: processorModule({ name: 'refunds', topics: ['refunds'] }),
      selfManagedKafka: selfManagedCluster(stack),
      admin: { enabled: false },
    });
    const template = Template.fromStack(stack);
    const role = roleOf(template, logicalId(scram.adminFunction!));
    expect(permissionsOf(template, role)).toContain(`secretsmanager:GetSecretValue ${SECRET_ARN}`);
    expect(off.adminFunction).toBeUndefined();
    expect(off.admin).toBeUndefined();
    expect(Object.values(resourcesOf(template, 'AWS::Lambda::Url'))).toHaveLength(1);
  });

  it.each([
    [{ stallWindow: Duration.minutes(1) }, 'admin.stallWindow', 'from 2 minutes to 24 hours'],
    [{ sampleEvery: Duration.seconds(30) }, 'admin.sampleEvery', 'whole minutes from 1 to 60'],
    [{ stallWindow: Duration.minutes(5), sampleEvery: Duration.minutes(3) }, 'admin.sampleEvery', 'at most half'],
  ])('refuses admin settings %j', (admin, setting, allowed) => {
    const stack = offlineStack();
    const error = thrownBy(
      () =>
        new TrackingProcessor(stack, 'Orders', {
          processor: processorModule({ name: 'order-projection', topics: ['orders'] }),
          msk: mskCluster(stack),
          admin,
        }),
    );
    expect(error).toBeInstanceOf(TrackingProcessorConfigError);
    expect((error as TrackingProcessorConfigError).setting).toBe(setting);
    expect((error as Error).message).toContain(allowed);
  });
});
