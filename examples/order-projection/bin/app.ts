import { App } from 'aws-cdk-lib';
import { OrdersStack } from '../src/stack.js';

// Offline: no account lookups. Replace the cluster with your own (or read it from context) to deploy.
const app = new App();
new OrdersStack(app, 'OrderProjection', {
  clusterArn: 'arn:aws:kafka:eu-west-1:111111111111:cluster/orders/00000000-0000-0000-0000-000000000000-1',
  subnetIds: ['subnet-00000000000000000', 'subnet-11111111111111111'],
  securityGroupId: 'sg-00000000000000000',
});
