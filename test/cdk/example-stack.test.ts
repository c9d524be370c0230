import { Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TrackingProcessorConfigError } from '../../cdk/config-error.js';
import { EXAMPLE_PROCESSOR, PLACEHOLDER, TidemarkExampleStack } from '../../cdk/example-stack.js';
import { thrownBy } from '../support/assertions.js';
import {
  CLUSTER_ARN,
  ROOT_CA_ARN,
  SECRET_ARN,
  grants,
  logicalId,
  offlineApp,
  permissionsOf,
  processorModule,
  render,
  resourcesOf,
  roleOf,
} from '../support/cdk.js';

const EC2 = 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}';

const MSK = {
  kafka: 'msk',
  clusterArn: CLUSTER_ARN,
  topic: 'orders',
  vpcId: 'vpc-0abc',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
  securityGroupIds: 'sg-01111111111111111',
};
const SELF_MANAGED = {
  kafka: 'self-managed',
  bootstrapServers: 'b-1.example.com:9096,b-2.example.com:9096',
  secretArn: SECRET_ARN,
  processor: processorModule({ name: 'payments', topics: ['payments'] }),
};

/** The example stack as `cdk synth -c …` builds it (cdk.json's flags, the context given, no bundling). */
function synthesize(context: Record<string, unknown>) {
  const stack = new TidemarkExampleStack(offlineApp(context), 'Tidemark');
  const template = Template.fromStack(stack);
  const [mapping] = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping'));
  return { stack, template, mapping: mapping! };
}

describe('example stack', () => {
  it('synthesizes offline against a placeholder MSK cluster, with a warning, when no cluster is given', () => {
    const { stack, mapping } = synthesize({});

    expect([mapping.EventSourceArn, mapping.Topics]).toEqual([PLACEHOLDER.clusterArn, ['orders']]);
    Annotations.fromStack(stack).hasWarning(
      '/Tidemark',
      Match.stringLikeRegexp('placeholder MSK cluster that does not exist'),
    );
  });

  it('consumes an MSK topic with IAM auth from -c kafka=msk and creates interfaces only in the given subnets', () => {
    const { template, mapping, stack } = synthesize(MSK);
    const role = roleOf(template, logicalId(stack.processor.dispatchFunction));

    expect(mapping).toMatchObject({
      EventSourceArn: CLUSTER_ARN,
      Topics: ['orders'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'tidemark-order-projection' },
    });
    expect(mapping.SourceAccessConfigurations).toBeUndefined();
    expect(permissionsOf(template, role).filter((line) => line.startsWith('ec2:CreateNetworkInterface'))).toEqual(
      grants(
        ['ec2:CreateNetworkInterface'],
        [
          `${EC2}:network-interface/*`,
          `${EC2}:security-group/sg-01111111111111111`,
          `${EC2}:subnet/subnet-0aaaaaaaaaaaaaaaa`,
          `${EC2}:subnet/subnet-0bbbbbbbbbbbbbbbb`,
        ],
      ),
    );
  });

  it('consumes a self-managed cluster with SASL/SCRAM-512 from -c kafka=self-managed, over the internet', () => {
    const { mapping } = synthesize(SELF_MANAGED);

    expect(mapping).toMatchObject({
      SelfManagedEventSource: {
        Endpoints: { KafkaBootstrapServers: ['b-1.example.com:9096', 'b-2.example.com:9096'] },
      },
      Topics: ['payments'],
      SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: SECRET_ARN }],
    });
  });

  it('uses mTLS with a root CA inside a VPC when the context says so, reading both secrets', () => {
    const { mapping, template, stack } = synthesize({
      ...SELF_MANAGED,
      auth: 'mtls',
      rootCaSecretArn: ROOT_CA_ARN,
      subnetIds: 'subnet-0aaaaaaaaaaaaaaaa',
      securityGroupIds: 'sg-01111111111111111,sg-02222222222222222',
    });

    expect(mapping.SourceAccessConfigurations).toEqual([
      { Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: SECRET_ARN },
      { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: ROOT_CA_ARN },
      { Type: 'VPC_SUBNET', URI: 'subnet-0aaaaaaaaaaaaaaaa' },
      { Type: 'VPC_SECURITY_GROUP', URI: 'sg-01111111111111111' },
      { Type: 'VPC_SECURITY_GROUP', URI: 'sg-02222222222222222' },
    ]);
    expect(
      permissionsOf(template, roleOf(template, logicalId(stack.processor.dispatchFunction))).filter((line) =>
        line.startsWith('secretsmanager:'),
      ),
    ).toEqual(grants(['secretsmanager:GetSecretValue'], [ROOT_CA_ARN, SECRET_ARN]));
  });

  it('reads numbers, booleans and choices from -c strings', () => {
    const { template, mapping, stack } = synthesize({
      ...MSK,
      batchSize: '250',
      maxBatchingWindowSeconds: '3',
      startingPosition: 'LATEST',
      consumerGroupId: 'orders-v2',
      minimumPollers: '2',
      maximumPollers: '8',
      retryAttempts: '3',
      maxRecordAgeSeconds: '600',
      bisectBatchOnError: 'true',
      mode: 'fan-out',
      workerReservedConcurrency: '40',
      deletionProtection: 'false',
      removalPolicy: 'destroy',
      logRetentionDays: '7',
      redriveScheduleMinutes: '10',
      redriveKeysPerRun: '25',
    });
    const worker = template.toJSON().Resources[logicalId(stack.processor.workerFunction!)];
    const table = template.toJSON().Resources[logicalId(stack.processor.table)];

    expect(mapping).toMatchObject({
      BatchSize: 250,
      MaximumBatchingWindowInSeconds: 3,
      StartingPosition: 'LATEST',
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-v2' },
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 8 },
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 600,
      BisectBatchOnFunctionError: true,
    });
    expect(worker.Properties.ReservedConcurrentExecutions).toBe(40);
    expect([table.Properties.DeletionProtectionEnabled, table.DeletionPolicy]).toEqual([false, 'Delete']);
    expect(Object.values(resourcesOf(template, 'AWS::Logs::LogGroup')).map((g) => g.RetentionInDays)).toEqual(
      // Fifteen functions (the admin function and the reset's six among them) and the state machines' log group.
      Array.from({ length: 16 }, () => 7),
    );
    const redrive = template.toJSON().Resources[logicalId(stack.processor.redriveFunction)];
    expect([
      resourcesOf(template, 'AWS::Events::Rule')[logicalId(stack.processor.redriveSchedule)]!.ScheduleExpression,
      redrive.Properties.Environment.Variables.TIDEMARK_REDRIVE_KEYS_PER_RUN,
    ]).toEqual(['rate(10 minutes)', '25']);
  });

  it('outputs the table, the dispatch and redrive functions, the failure bucket, the state machines and the dashboard', () => {
    const { template, stack } = synthesize(MSK);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;

    expect([outputs.RedriveFunctionName!.Value, outputs.FailureBucketName!.Value]).toEqual([
      { Ref: logicalId(stack.processor.redriveFunction) },
      { Ref: logicalId(stack.processor.failureBucket!) },
    ]);
    expect(Object.keys(outputs)).toEqual([
      'TokenTableName',
      'DispatchFunctionName',
      'RedriveFunctionName',
      'FailureBucketName',
      'SplitStateMachineArn',
      'MergeStateMachineArn',
      'ScaleStateMachineArn',
      'DashboardName',
      'AdminUrl',
    ]);
    expect(render(outputs.AdminUrl!.Value)).toBe(`${logicalId(stack.processor.admin!.url)}.FunctionUrl`);
  });

  it('passes the cdk-nag plugin when synthesized as cdk/app.ts does', () => {
    const app = offlineApp(MSK);
    new TidemarkExampleStack(app, 'Tidemark');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    expect(() => app.synth()).not.toThrow();
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'MSK without its network',
      { kafka: 'msk', clusterArn: CLUSTER_ARN },
      'context for kafka=msk: got "no subnetIds, securityGroupIds"; allowed: -c subnetIds=… -c securityGroupIds=… (see docs/deploy.md)',
    ],
    [
      'self-managed without a secret',
      { kafka: 'self-managed', bootstrapServers: 'b-1.example.com:9096' },
      'context for kafka=self-managed: got "no secretArn"; allowed: -c bootstrapServers=… -c secretArn=… (see docs/deploy.md)',
    ],
    [
      'an unknown cluster kind',
      { kafka: 'confluent' },
      'context kafka: got "confluent"; allowed: msk or self-managed (or unset for placeholders)',
    ],
    [
      'subnets without security groups',
      { ...SELF_MANAGED, subnetIds: 'subnet-0aaaaaaaaaaaaaaaa' },
      'context subnetIds, securityGroupIds: got ["subnetIds"]; allowed: both or neither',
    ],
    [
      'a batch size that is not a number',
      { ...MSK, batchSize: 'lots' },
      'context batchSize: got "lots"; allowed: a whole number',
    ],
    [
      'a removal policy CloudFormation lacks',
      { ...MSK, removalPolicy: 'keep' },
      'context removalPolicy: got "keep"; allowed: retain or destroy',
    ],
    [
      'a redrive schedule of zero minutes',
      { ...MSK, redriveScheduleMinutes: '0' },
      'deadLetters.schedule: got "0 minutes"; allowed: a whole number of minutes from 1 to 1440 (a day)',
    ],
    [
      'topics the processor module does not consume',
      { ...MSK, topics: 'payments' },
      `topics: got ["payments"]; allowed: the processor module's value, ["orders"] (${EXAMPLE_PROCESSOR}); drop topics from the props or make them agree`,
    ],
    [
      'a processor name other than the module’s',
      { ...MSK, processorName: 'billing' },
      `processorName: got "billing"; allowed: the processor module's value, "order-projection" (${EXAMPLE_PROCESSOR}); drop processorName from the props or make them agree`,
    ],
    [
      'a batch size out of range',
      { ...MSK, batchSize: '0' },
      'eventSource.batchSize: got 0; allowed: a whole number from 1 to 10000',
    ],
  ])('refuses %s with a message naming the key', (_case, context, message) => {
    const error = thrownBy(() => new TidemarkExampleStack(offlineApp(context), 'Tidemark'));

    expect(error).toBeInstanceOf(TrackingProcessorConfigError);
    expect((error as Error).message).toBe(`TrackingProcessor ${message}`);
  });
});
