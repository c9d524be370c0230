/**
 * Failures at run time, said in one line: what failed, where, and the command or setting that fixes it. Exit code 1,
 * never a stack trace (set TIDEMARK_DEBUG=1 to see one).
 */
import { ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TidemarkError, UnknownProcessorError } from '../shared/errors.js';
import { tableFlags, type TableTarget } from './args.js';

/** A failure the CLI has explained; its message is the whole line the user sees after `tidemark: `. */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** Error codes of a connection that could not be made or was dropped. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EPROTO',
]);

/** Runs `work` against the token table, turning the failures a user can fix into a {@link CliError}. */
export async function againstTable<T>(target: TableTarget, client: DynamoDBClient, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw await explainFailure(error, target, client);
  }
}

/** The init command that creates what is missing, with the flags that name the same table. */
export function initCommand(target: TableTarget, processor?: string): string {
  return `tidemark init${processor === undefined ? '' : ` --processor ${processor}`}${tableFlags(target)}`;
}

/** Where the table is, in words: `at <endpoint>`, `in <region>`. */
export async function tableLocation(target: TableTarget, client: DynamoDBClient): Promise<string> {
  if (target.endpoint !== undefined) return `at ${target.endpoint}`;
  if (target.region !== undefined) return `in ${target.region}`;
  try {
    return `in ${await client.config.region()}`;
  } catch {
    return 'in AWS';
  }
}

/** A {@link CliError} for a failure a user can fix (unreachable endpoint, no table, no region...), else `error`. */
export async function explainFailure(error: unknown, target: TableTarget, client: DynamoDBClient): Promise<unknown> {
  if (!(error instanceof Error) || error instanceof CliError) return error;
  const code = (error as { code?: unknown }).code;
  if (error.name === 'TimeoutError' || (typeof code === 'string' && NETWORK_CODES.has(code))) {
    const where = await tableLocation(target, client);
    const hint =
      target.endpoint === undefined
        ? 'check the network and --region'
        : 'is DynamoDB Local running there? Check the host and port of --endpoint';
    return new CliError(`cannot reach DynamoDB ${where} (${error.message}): ${hint}`, { cause: error });
  }
  if (error instanceof ResourceNotFoundException) {
    return new CliError(
      `token table ${JSON.stringify(target.tableName)} does not exist ${await tableLocation(target, client)}: ` +
        `create it with ${initCommand(target)}${target.endpoint === undefined ? ' (or deploy the stack that creates it)' : ''}, or name another with --table`,
      { cause: error },
    );
  }
  if (error instanceof UnknownProcessorError) {
    const processor = error.context.processor;
    const init = initCommand(target, typeof processor === 'string' ? processor : '<processor>');
    const message = error.message.endsWith('initialise it first')
      ? `${error.message} with ${init}`
      : `${error.message} (${init})`;
    return new CliError(message, { cause: error });
  }
  if (error.message === 'Region is missing') {
    return new CliError(
      'no AWS region: pass --region <region> or set AWS_REGION (or pass --endpoint <url> for a local DynamoDB)',
      { cause: error },
    );
  }
  if (error.name === 'CredentialsProviderError') {
    return new CliError(
      `no AWS credentials (${error.message}): set them up as for the AWS CLI (AWS_PROFILE, aws sso login, AWS_ACCESS_KEY_ID), or pass --endpoint <url> for a local DynamoDB`,
      { cause: error },
    );
  }
  return error;
}

/** The line printed for a failure: our own errors by their message, others with their name. */
export function failureLine(error: unknown): string {
  if (error instanceof CliError || error instanceof TidemarkError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
