/** What every CLI command runs with: output, environment, AWS clients (replaceable in tests) and time. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { InvokeCommand, InvokeCommandOutput } from '@aws-sdk/client-lambda';

/** Clients and effects a test can replace; each defaults to the real one. */
export interface CliDependencies {
  /** Invokes the redrive function (`dead-letters retry --function`). @default a LambdaClient from the environment */
  readonly lambda?: { send(command: InvokeCommand): Promise<InvokeCommandOutput> };
  /** Who the caller is, for audit items (`dead-letters delete` without `--by`). @default STS GetCallerIdentity's ARN */
  readonly callerIdentity?: () => Promise<string>;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly clock?: () => number;
}

/** The resolved context of one CLI run. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
  readonly deps: CliDependencies;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export function cliContext(env: NodeJS.ProcessEnv, out: (line: string) => void, deps: CliDependencies): CliContext {
  return {
    env,
    out,
    deps,
    clock: deps.clock ?? Date.now,
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
}

/** A DynamoDB client for AWS (from the environment), or for a local DynamoDB at `endpoint` with dummy credentials. */
export function dynamoDbClient(endpoint: string | undefined, env: NodeJS.ProcessEnv): DynamoDBClient {
  return new DynamoDBClient(
    endpoint
      ? {
          endpoint,
          region: env.AWS_REGION ?? 'us-east-1',
          credentials: { accessKeyId: 'tidemarklocal', secretAccessKey: 'tidemarklocal' },
        }
      : {},
  );
}
