import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { nagResource } from './nag.js';
import type { KafkaNetwork } from './props.js';

/** What a role does with network interfaces beyond creating them in the given subnets and security groups. */
export interface InterfaceGrants {
  /** EC2 Describe actions (no resource-level permissions: granted on `*`). */
  readonly describe: readonly string[];
  /** Actions on the interfaces once made (their ids are not known in advance: `network-interface/*`). */
  readonly manage: readonly string[];
  /** Why cdk-nag's wildcard findings are acceptable for this role. */
  readonly reason: string;
}

/**
 * Grants `role` network interfaces created only in the given subnets with the given security groups, the Describe
 * and follow-up actions `grants` names, and acknowledges the wildcards that needs.
 */
export function grantNetworkInterfaces(
  scope: Construct,
  role: iam.IRole,
  network: KafkaNetwork,
  grants: InterfaceGrants,
): void {
  const stack = Stack.of(scope);
  const ec2Arn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'ec2', resource, resourceName });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...grants.describe], resources: ['*'] }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['ec2:CreateNetworkInterface'],
      resources: [
        ec2Arn('network-interface', '*'),
        ...network.subnets.map((s) => ec2Arn('subnet', s.subnetId)),
        ...network.securityGroups.map((g) => ec2Arn('security-group', g.securityGroupId)),
      ],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...grants.manage], resources: [ec2Arn('network-interface', '*')] }),
  );
  Validations.of(role).acknowledge(
    { id: 'AwsSolutions-IAM5[Resource::*]', reason: grants.reason },
    { id: `AwsSolutions-IAM5[${nagResource(scope, ec2Arn('network-interface', '*'))}]`, reason: grants.reason },
  );
}

/**
 * Runs a function in the cluster's subnets with its security groups (Lambda's VpcConfig: the subnets name the VPC),
 * with the grants a function in a VPC needs for its network interfaces. The subnets need a route to what the function
 * calls besides Kafka (DynamoDB, Lambda, Step Functions: a NAT or VPC endpoints).
 */
export function placeInNetwork(scope: Construct, fn: lambda.Function, role: iam.IRole, network: KafkaNetwork): void {
  (fn.node.defaultChild as lambda.CfnFunction).vpcConfig = {
    subnetIds: network.subnets.map((s) => s.subnetId),
    securityGroupIds: network.securityGroups.map((g) => g.securityGroupId),
  };
  grantNetworkInterfaces(scope, role, network, {
    describe: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
    manage: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
    reason:
      'A function in a VPC creates and deletes its network interfaces; EC2 Describe actions support no resource-level ' +
      'permissions and interface ids are not known in advance. Creation is limited to the given subnets and groups.',
  });
}
