import { fileURLToPath } from 'node:url';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { TrackingProcessor } from 'tidemark/cdk';

/** The MSK cluster this team consumes: its ARN, subnets and security group. */
export interface OrdersStackProps extends StackProps {
  readonly clusterArn: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
}

export class OrdersStack extends Stack {
  readonly processor: TrackingProcessor;

  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, props);
    this.processor = new TrackingProcessor(this, 'OrderProjection', {
      processor: fileURLToPath(new URL('./processor.ts', import.meta.url)),
      msk: {
        clusterArn: props.clusterArn,
        network: {
          subnets: props.subnetIds.map((subnetId, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, subnetId)),
          securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(this, 'Brokers', props.securityGroupId)],
        },
      },
    });
    new CfnOutput(this, 'TokenTableName', { value: this.processor.table.tableName });
  }
}
