import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** `arn:…:kafka:…:topic|group/<cluster name>/<cluster uuid>/<name>` of an MSK cluster's topic or consumer group. */
export function mskArn(scope: Construct, clusterArn: string, resource: 'topic' | 'group', name: string): string {
  const cluster = Arn.split(clusterArn, ArnFormat.SLASH_RESOURCE_NAME);
  return Arn.format(
    {
      partition: cluster.partition,
      service: 'kafka',
      region: cluster.region,
      account: cluster.account,
      resource,
      resourceName: `${cluster.resourceName}/${name}`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    },
    Stack.of(scope),
  );
}
