import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TrackingProcessorConfigError } from '../../cdk/config-error.js';
import {
  RESET_STATE_NAMES,
  ResetStateMachine,
  type ResetKafkaAccess,
  type ResetStateMachineProps,
} from '../../cdk/reset-state-machine.js';
import { TABLE_ACTIONS } from '../../cdk/table-actions.js';
import { resolveDefinition } from '../../local/local-state-machines.js';
import {
  CLUSTER_ARN,
  SECRET_ARN,
  grants,
  logicalId,
  network,
  offlineStack,
  permissionsOf,
  processorItems,
  resourcesOf,
  roleOf,
} from '../support/cdk.js';

const PROCESSOR = 'orders';

function build(kafka: (stack: Stack) => ResetKafkaAccess, overrides: Partial<ResetStateMachineProps> = {}) {
  const stack = offlineStack();
  const table = new dynamodb.Table(stack, 'Tokens', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
  });
  const dispatch = new lambda.Function(stack, 'Dispatch', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({});'),
  });
  const eventSources = ['orders', 'payments'].map((topic) => ({
    topic,
    consumerGroupId: `orders-${topic}`,
    mapping: new lambda.EventSourceMapping(stack, `Kafka-${topic}`, {
      target: dispatch,
      eventSourceArn: CLUSTER_ARN,
      kafkaTopic: topic,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
    }),
  }));
  const reset = new ResetStateMachine(stack, 'Reset', {
    processorName: PROCESSOR,
    table,
    eventSources,
    kafka: kafka(stack),
    ...overrides,
  });
  return { stack, table, reset, eventSources, template: Template.fromStack(stack) };
}

const msk = (stack: Stack): ResetKafkaAccess => ({ mskClusterArn: CLUSTER_ARN, network: network(stack) });

/** A role's permissions without its log group's (every function writes its own logs). */
function permissions(template: Template, fn: lambda.IFunction): string[] {
  return permissionsOf(template, roleOf(template, logicalId(fn))).filter((line) => !line.startsWith('logs:'));
}

const cluster = 'orders/abcd1234-0000-1111-2222-333344445555-1';
const mskArn = (kind: string, name: string) => `arn:aws:kafka:eu-west-1:123456789012:${kind}/${cluster}/${name}`;

describe('ResetStateMachine', () => {
  it('gives each step only what it calls', () => {
    const { template, reset, table, eventSources } = build(msk);
    const f = reset.functions;
    const tableArn = [`${logicalId(table)}.Arn`];
    const mappings = eventSources.map(
      (s) =>
        `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:event-source-mapping:${logicalId(s.mapping as lambda.EventSourceMapping)}`,
    );
    const connect = grants(
      ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster', 'kafka:GetBootstrapBrokers'],
      [CLUSTER_ARN],
    );
    const topics = ['orders', 'payments'].map((t) => mskArn('topic', t));
    const groups = ['orders-orders', 'orders-payments'].map((g) => mskArn('group', g));
    const withoutNetwork = (lines: string[]) => lines.filter((line) => !line.startsWith('ec2:'));

    expect(permissions(template, f.disable)).toEqual(
      [
        ...grants(TABLE_ACTIONS.resetPlan, tableArn, processorItems(PROCESSOR)),
        ...grants(['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'], mappings),
      ].sort(),
    );
    expect(permissions(template, f.enable)).toEqual(
      grants(['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'], mappings).sort(),
    );
    expect(withoutNetwork(permissions(template, f.check))).toEqual(
      [
        ...grants(['lambda:GetEventSourceMapping'], mappings),
        ...connect,
        ...grants(['kafka-cluster:DescribeGroup'], groups),
      ].sort(),
    );
    expect(withoutNetwork(permissions(template, f.plan))).toEqual(
      [
        ...grants(TABLE_ACTIONS.resetPlan, tableArn, processorItems(PROCESSOR)),
        ...connect,
        ...grants(['kafka-cluster:DescribeTopic'], topics),
      ].sort(),
    );
    expect(withoutNetwork(permissions(template, f.move))).toEqual(
      [
        ...connect,
        ...grants(['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], topics),
        ...grants(['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'], groups),
      ].sort(),
    );
    expect(permissions(template, f.write)).toEqual(
      grants(TABLE_ACTIONS.reset, tableArn, processorItems(PROCESSOR)).sort(),
    );
  });

  it('runs only the Kafka-facing steps in the cluster network, and tells every step where things are', () => {
    const { template, reset, eventSources, stack } = build(msk);
    const subnets = network(stack).subnets.map((subnet) => subnet.subnetId);
    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    const of = (fn: lambda.IFunction) => functions[logicalId(fn)]!;

    expect(
      Object.fromEntries(
        Object.entries(reset.functions).map(([step, fn]) => [
          step,
          (of(fn).VpcConfig as { SubnetIds?: unknown })?.SubnetIds ?? null,
        ]),
      ),
    ).toEqual({
      disable: null,
      check: subnets,
      plan: subnets,
      move: subnets,
      write: null,
      enable: null,
    });
    const env = (of(reset.functions.plan).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env).toMatchObject({
      TIDEMARK_KAFKA_AUTH: 'msk-iam',
      TIDEMARK_MSK_CLUSTER_ARN: CLUSTER_ARN,
      TIDEMARK_RESET_GROUP_TIMEOUT_MS: '600000',
      TIDEMARK_RESET_POLL_SECONDS: '10',
    });
    expect(JSON.stringify(env.TIDEMARK_EVENT_SOURCES)).toContain(
      logicalId(eventSources[1]!.mapping as lambda.EventSourceMapping),
    );
  });

  it('re-enables the event sources and fails with the step error after any failure once they were disabled', () => {
    const { template } = build(msk);
    const [machine] = Object.values(resourcesOf(template, 'AWS::StepFunctions::StateMachine'));
    const { States } = resolveDefinition(machine!.DefinitionString) as unknown as {
      States: Record<string, { Type: string; Next?: string; Catch?: Array<{ Next: string }>; [k: string]: unknown }>;
    };
    const names = RESET_STATE_NAMES;

    expect(
      Object.fromEntries(
        Object.entries(States)
          .filter(([, state]) => state.Type === 'Task')
          .map(([name, state]) => [name, (state.Catch ?? []).map((c) => c.Next)]),
      ),
    ).toEqual({
      [names.disable]: [names.refused],
      [names.check]: [names.reenable],
      [names.plan]: [names.reenable],
      [names.move]: [names.reenable],
      [names.write]: [names.reenable],
      [names.enable]: [],
      [names.reenable]: [],
    });
    expect(States[names.reenable]!.Next).toBe(names.failed);
    for (const fail of [names.failed, names.refused]) {
      expect(States[fail]).toEqual({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
    }
    expect(machine).toMatchObject({ TracingConfiguration: { Enabled: true }, LoggingConfiguration: { Level: 'ALL' } });
  });

  it('reads a SASL/SCRAM secret where the cluster is self-managed, and grants nothing of MSK', () => {
    const { template, reset } = build((stack) => ({
      brokers: ['broker-1.example.com:9096'],
      auth: 'sasl-scram-512',
      secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'KafkaSecret', SECRET_ARN),
    }));
    const functions = resourcesOf(template, 'AWS::Lambda::Function');

    expect(permissions(template, reset.functions.move)).toEqual([`secretsmanager:GetSecretValue ${SECRET_ARN}`]);
    expect((functions[logicalId(reset.functions.move)]!.Environment as { Variables: unknown }).Variables).toMatchObject(
      {
        TIDEMARK_KAFKA_AUTH: 'sasl-scram-512',
        TIDEMARK_KAFKA_BROKERS: 'broker-1.example.com:9096',
        TIDEMARK_KAFKA_SECRET_ARN: SECRET_ARN,
      },
    );
    expect(functions[logicalId(reset.functions.move)]!.VpcConfig).toBeUndefined();
  });

  it('refuses props it cannot deploy, naming the setting', () => {
    const refusal = (make: () => unknown) => {
      try {
        make();
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(TrackingProcessorConfigError);
        return (error as TrackingProcessorConfigError).setting + ': ' + (error as Error).message;
      }
    };

    expect(refusal(() => build(msk, { eventSources: [] }))).toBe(
      'reset.eventSources: TrackingProcessor reset.eventSources: got []; allowed: one event source mapping per topic, at least one',
    );
    expect(refusal(() => build(() => ({ brokers: ['b:9096'], auth: 'sasl-scram-256' })))).toMatch(
      /^reset\.kafka: .*auth "sasl-scram-256" needs secretArn/,
    );
    expect(refusal(() => build(() => ({})))).toMatch(/^reset\.kafka: .*needs Kafka: set brokers/);
  });

  it('leaves no cdk-nag finding in the construct unacknowledged', () => {
    const { stack } = build(msk);
    const violations = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${r.constructPath} ${v.ruleName}`))
      // The test's own table and dispatch function are not the construct's.
      .filter((finding) => finding.startsWith('Test/Reset/'));

    expect(violations).toEqual([]);
  });
});
