import { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * A resource as cdk-nag names it in an IAM5 finding (`Resource::arn:<AWS::Partition>:…`), to acknowledge exactly that
 * one.
 */
export function nagResource(scope: Construct, arn: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node;
    const n = node as Record<string, unknown>;
    if (n['Fn::Join']) {
      const [separator, parts] = n['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(separator);
    }
    if (n['Fn::GetAtt']) return `<${(n['Fn::GetAtt'] as string[]).join('.')}>`;
    if (n.Ref) return `<${String(n.Ref)}>`;
    return JSON.stringify(node);
  };
  return `Resource::${flatten(Stack.of(scope).resolve(arn))}`;
}
