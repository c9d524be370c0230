import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { nagResource } from './nag.js';
import type { KafkaNetwork } from './props.js';

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
  const stack = Stack.of(scope);
  const ec2Arn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'ec2', resource, resourceName });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
      resources: ['*'],
    }),
  );
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
    new iam.PolicyStatement({
      actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: [ec2Arn('network-interface', '*')],
    }),
  );
  const reason =
    'A function in a VPC creates and deletes its network interfaces; EC2 Describe actions support no resource-level ' +
    'permissions and interface ids are not known in advance. Creation is limited to the given subnets and groups.';
  Validations.of(role).acknowledge(
    { id: 'AwsSolutions-IAM5[Resource::*]', reason },
    { id: `AwsSolutions-IAM5[${nagResource(scope, ec2Arn('network-interface', '*'))}]`, reason },
  );
}
