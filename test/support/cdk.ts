import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { MskCluster, SelfManagedKafkaCluster } from '../../cdk/props.js';

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` does. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/** An app that synthesizes offline: cdk.json's flags, no bundling (unless `bundle`), plus any context given. */
export function offlineApp(
  context: Record<string, unknown> = {},
  options: { bundle?: boolean; outdir?: string } = {},
): App {
  return new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: {
      ...CDK_JSON_CONTEXT,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...context,
    },
  });
}

/** A stack with no `env`: nothing is looked up. */
export function offlineStack(context: Record<string, unknown> = {}): Stack {
  return new Stack(offlineApp(context), 'Test');
}

export const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abcd1234-0000-1111-2222-333344445555-1';
export const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka/tidemark-AbCdEf';
export const ROOT_CA_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka/root-ca-GhIjKl';

/** The ids {@link network} imports: of the form CloudFormation checks where a function's VPC config names them. */
export const SUBNET_IDS = ['subnet-0aaa0aaa0aaa0aaa0', 'subnet-0bbb0bbb0bbb0bbb0'] as const;
export const SECURITY_GROUP_ID = 'sg-0111011101110111a';

/** Two subnets and a security group, imported by id (once per scope, however often this is called). */
export function network(scope: Construct) {
  const once = <T>(id: string, make: () => T): T => (scope.node.tryFindChild(id) as T | undefined) ?? make();
  return {
    subnets: SUBNET_IDS.map((subnetId) =>
      once(subnetId, () =>
        ec2.Subnet.fromSubnetAttributes(scope, subnetId, { subnetId, routeTableId: subnetId.replace('subnet', 'rtb') }),
      ),
    ),
    securityGroups: [
      once(SECURITY_GROUP_ID, () =>
        ec2.SecurityGroup.fromSecurityGroupId(scope, SECURITY_GROUP_ID, SECURITY_GROUP_ID, { mutable: false }),
      ),
    ],
  };
}

export function mskCluster(scope: Construct): MskCluster {
  return { clusterArn: CLUSTER_ARN, network: network(scope) };
}

export function selfManagedCluster(
  scope: Construct,
  overrides: Partial<SelfManagedKafkaCluster> = {},
): SelfManagedKafkaCluster {
  return {
    bootstrapServers: ['broker-1.example.com:9096', 'broker-2.example.com:9096'],
    authentication: 'sasl-scram-512',
    secret:
      (scope.node.tryFindChild('KafkaSecret') as secretsmanager.ISecret | undefined) ??
      secretsmanager.Secret.fromSecretCompleteArn(scope, 'KafkaSecret', SECRET_ARN),
    network: network(scope),
    ...overrides,
  };
}

type Resource = { Type: string; Properties?: Record<string, unknown> };

/** The logical id of a construct's CloudFormation resource. */
export function logicalId(construct: Construct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as never);
}

/**
 * Renders a CloudFormation value as text: `{"Fn::GetAtt":["Table","Arn"]}` → `Table.Arn`, `{"Ref":"X"}` → `X`,
 * pseudo parameters as `${AWS::Region}`, `Fn::Join` joined.
 */
export function render(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const v = value as Record<string, unknown>;
  if (v['Fn::GetAtt']) return (v['Fn::GetAtt'] as string[]).join('.');
  if (typeof v.Ref === 'string') return v.Ref.startsWith('AWS::') ? `\${${v.Ref}}` : v.Ref;
  if (v['Fn::Join']) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  return JSON.stringify(value);
}

/**
 * Every permission the policies attached to a role grant, one line per action and resource:
 * `dynamodb:GetItem Table.Arn if {"ForAllValues:StringLike":…}`, sorted. Merged or split statements read the same.
 */
export function permissionsOf(template: Template, roleLogicalId: string): string[] {
  const policies = Object.values(template.toJSON().Resources as Record<string, Resource>).filter(
    (r) =>
      r.Type === 'AWS::IAM::Policy' &&
      (r.Properties!.Roles as unknown[]).some((role) => render(role) === roleLogicalId),
  );
  const lines = policies.flatMap((policy) =>
    (policy.Properties!.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement.flatMap(
      (statement) => {
        const condition = statement.Condition ? ` if ${JSON.stringify(statement.Condition)}` : '';
        return [statement.Action]
          .flat()
          .flatMap((action) =>
            [statement.Resource].flat().map((resource) => `${String(action)} ${render(resource)}${condition}`),
          );
      },
    ),
  );
  return lines.sort();
}

/** The lines `permissionsOf` gives for `actions` on `resources`, with an optional condition. */
export function grants(actions: readonly string[], resources: readonly string[], condition?: unknown): string[] {
  const suffix = condition ? ` if ${JSON.stringify(condition)}` : '';
  return actions.flatMap((action) => resources.map((resource) => `${action} ${resource}${suffix}`));
}

/** The `dynamodb:LeadingKeys` condition that keeps a role to one processor's items. */
export function processorItems(processor: string) {
  return {
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`PROCESSOR#${processor}`, `PROCESSOR#${processor}#*`] },
  };
}

/** The role of a function, by the function's logical id. */
export function roleOf(template: Template, functionLogicalId: string): string {
  const fn = (template.toJSON().Resources as Record<string, Resource>)[functionLogicalId]!;
  return render(fn.Properties!.Role).replace(/\.Arn$/, '');
}

/** Resources of a type, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(template.toJSON().Resources as Record<string, Resource>)
      .filter(([, r]) => r.Type === type)
      .map(([id, r]) => [id, r.Properties ?? {}]),
  );
}

const RUNTIME = fileURLToPath(new URL('../../shared/index.ts', import.meta.url));

/** What a test processor module defines; the handler does nothing. */
export interface TestProcessorModule {
  readonly name: string;
  readonly topics: readonly string[];
  readonly concurrency?: number;
  /** Extra source appended to the module (e.g. a top-level throw). */
  readonly extra?: string;
}

/**
 * Writes a processor module outside the repository, as a team's would be, and returns its path: the same
 * definition gives the same path, so the construct's probe runs once per definition.
 */
export function processorModule(definition: TestProcessorModule): string {
  const { extra = '', ...fields } = definition;
  const source =
    `import { defineProcessor } from ${JSON.stringify(RUNTIME)};\n` +
    `export const processor = defineProcessor({ ...${JSON.stringify(fields)}, handler: async () => {} });\n` +
    extra;
  const dir = join(tmpdir(), 'tidemark-test-processors');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(source).digest('hex').slice(0, 12)}.ts`);
  writeFileSync(file, source);
  return file;
}
