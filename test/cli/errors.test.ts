import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { CliError, explainFailure, failureLine } from '../../cli/errors.js';
import { ConfigurationError } from '../../shared/errors.js';
import { closedPort, runCli } from '../support/cli.js';

const AWS_TARGET = { tableName: 'tokens', endpoint: undefined, region: 'eu-west-1' };
const awsClient = new DynamoDBClient({ region: 'eu-west-1' });

describe('failures at run time', () => {
  it('name the endpoint that cannot be reached, in one line with exit 1, for every command that reads the table', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const local = ['--table', 'tokens', '--endpoint', endpoint];

    const runs = await Promise.all([
      runCli(['init', 'orders-view', ...local]),
      runCli(['status', 'orders-view', ...local]),
      runCli(['dead-letters', 'list', 'orders-view', ...local]),
    ]);

    for (const { code, errors } of runs) {
      expect(code).toBe(1);
      expect(errors).toMatch(
        new RegExp(
          `^tidemark: cannot reach DynamoDB at ${endpoint} \\(connect ECONNREFUSED [^)]+\\): is DynamoDB Local running there\\? Check the host and port of --endpoint$`,
        ),
      );
    }
  });

  it('say a table does not exist and how to create it', async () => {
    const endpoint = inject('dynamoDbEndpoint');
    const table = `missing-${randomUUID()}`;
    const local = ['--table', table, '--endpoint', endpoint];

    const runs = await Promise.all([
      runCli(['status', 'orders-view', ...local]),
      runCli(['split', 'orders-view', '0/0', ...local]),
      runCli(['dead-letters', 'audit', 'orders-view', ...local]),
    ]);

    for (const { code, errors, text } of runs) {
      expect(code).toBe(1);
      expect(errors).toBe(
        `tidemark: token table "${table}" does not exist at ${endpoint}: create it with tidemark init --table ${table} --endpoint ${endpoint}, or name another with --table`,
      );
      expect(text).toBe('');
    }
  });

  it('print the stack only with TIDEMARK_DEBUG set', async () => {
    const local = ['--table', `missing-${randomUUID()}`, '--endpoint', inject('dynamoDbEndpoint')];

    const quiet = await runCli(['status', 'orders-view', ...local]);
    const debug = await runCli(['status', 'orders-view', ...local], { env: { TIDEMARK_DEBUG: '1' } });

    expect(quiet.errors).not.toMatch(/^\s+at /m);
    expect(debug.code).toBe(1);
    expect(debug.first).toBe(quiet.errors);
    expect(debug.errors).toMatch(/^\s+at /m);
  });
});

describe('explainFailure', () => {
  it('points a missing region and missing credentials to their settings', async () => {
    const region = await explainFailure(new Error('Region is missing'), AWS_TARGET, awsClient);
    const credentials = await explainFailure(
      Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
      AWS_TARGET,
      awsClient,
    );

    expect(region).toBeInstanceOf(CliError);
    expect((region as Error).message).toBe(
      'no AWS region: pass --region <region> or set AWS_REGION (or pass --endpoint <url> for a local DynamoDB)',
    );
    expect((credentials as Error).message).toMatch(
      /^no AWS credentials \(Could not load credentials from any providers\): set them up as for the AWS CLI .*--endpoint <url> for a local DynamoDB$/,
    );
  });

  it('names the region of an AWS table that cannot be reached, and leaves other errors as they are', async () => {
    const timeout = Object.assign(new Error('Socket timed out'), { name: 'TimeoutError' });
    const denied = Object.assign(new Error('not authorized to perform dynamodb:GetItem'), {
      name: 'AccessDeniedException',
    });

    expect(((await explainFailure(timeout, AWS_TARGET, awsClient)) as Error).message).toBe(
      'cannot reach DynamoDB in eu-west-1 (Socket timed out): check the network and --region',
    );
    expect(await explainFailure(denied, AWS_TARGET, awsClient)).toBe(denied);
  });
});

describe('failureLine', () => {
  it("says Tidemark's own errors by their message and others with their name", () => {
    expect(failureLine(new ConfigurationError('processor "p" is already initialised'))).toBe(
      'processor "p" is already initialised',
    );
    expect(failureLine(new CliError('cannot reach DynamoDB'))).toBe('cannot reach DynamoDB');
    expect(failureLine(new TypeError('x is not a function'))).toBe('TypeError: x is not a function');
    expect(failureLine('plain')).toBe('plain');
  });
});
