/** What every CLI command runs with: output, environment, AWS clients (replaceable in tests) and time. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { InvokeCommand, InvokeCommandOutput } from '@aws-sdk/client-lambda';
import type { TableTarget } from './args.js';

/** Clients and effects a test can replace; each defaults to the real one. */
export interface CliDependencies {
  /** Invokes the redrive function (`dead-letters retry --function`). @default a LambdaClient from the environment */
  readonly lambda?: { send(command: InvokeCommand): Promise<InvokeCommandOutput> };
  /** Who the caller is, for audit items (`dead-letters delete` without `--by`). @default STS GetCallerIdentity's ARN */
  readonly callerIdentity?: () => Promise<string>;
  /** Where errors go: usage errors with the usage after them, and failures. @default console.error */
  readonly err?: (line: string) => void;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly clock?: () => number;
  /** AWS credentials for signing (`console --url`). @default the SDK's provider chain */
  readonly credentials?: CredentialsProvider;
  /** Resolves when a long-running command (`console`) should stop. @default Ctrl-C (SIGINT or SIGTERM) */
  readonly untilStopped?: () => Promise<void>;
}

/** AWS credentials, as the SDK's providers give them. */
export type CredentialsProvider = () => Promise<{
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}>;

/** The resolved context of one CLI run. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly deps: CliDependencies;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export function cliContext(env: NodeJS.ProcessEnv, out: (line: string) => void, deps: CliDependencies): CliContext {
  return {
    env,
    out,
    err: deps.err ?? console.error,
    deps,
    clock: deps.clock ?? Date.now,
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
}

/** How long a local DynamoDB may take to accept a connection before it counts as unreachable. */
const LOCAL_CONNECT_TIMEOUT_MS = 5_000;

/**
 * A DynamoDB client for AWS (credentials and, unless `--region` names one, the region from the SDK's chain), or for
 * a local DynamoDB at the target's endpoint with dummy credentials.
 */
export function dynamoDbClient(
  target: Pick<TableTarget, 'endpoint' | 'region'>,
  env: NodeJS.ProcessEnv,
): DynamoDBClient {
  return new DynamoDBClient(
    target.endpoint
      ? {
          endpoint: target.endpoint,
          region: target.region ?? env.AWS_REGION ?? 'us-east-1',
          credentials: { accessKeyId: 'tidemarklocal', secretAccessKey: 'tidemarklocal' },
          requestHandler: { connectionTimeout: LOCAL_CONNECT_TIMEOUT_MS },
        }
      : awsClientConfig(target),
  );
}

/** The config of an AWS client (DynamoDB, Step Functions, Lambda, STS): the region when `--region` names one. */
export function awsClientConfig(target: Pick<TableTarget, 'region'>): { region?: string } {
  return target.region === undefined ? {} : { region: target.region };
}
