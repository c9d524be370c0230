import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAdminHandler, type FunctionUrlResult } from '../../../shared/admin/admin-handler.js';
import { DynamoDbLagHistory } from '../../../shared/admin/lag-history.js';
import { DynamoDbDeadLetterStore } from '../../../shared/dead-letters/dynamodb-dead-letter-store.js';
import { ConfigurationError } from '../../../shared/errors.js';
import { DynamoDbTokenStore } from '../../../shared/tokens/dynamodb-token-store.js';
import { TopicLog } from '../../../local/event-source-simulator.js';
import { TopicLogAdmin } from '../../../local/topic-log-admin.js';
import { freshTokenTable, localDynamoDb } from '../../support/dynamodb.js';
import { thrownBy } from '../../support/assertions.js';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:';
const context = { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as never;

function env(tableName: string): NodeJS.ProcessEnv {
  return {
    TIDEMARK_TABLE_NAME: tableName,
    TIDEMARK_PROCESSOR_NAME: 'orders-view',
    TIDEMARK_TOPICS: 'orders',
    TIDEMARK_SPLIT_STATE_MACHINE: `${MACHINE}split`,
    TIDEMARK_MERGE_STATE_MACHINE: `${MACHINE}merge`,
    TIDEMARK_SCALE_STATE_MACHINE: `${MACHINE}scale`,
    TIDEMARK_LOG_LEVEL: 'error',
  };
}

describe('admin function', () => {
  let tableName: string;
  let stdout: string[];
  beforeEach(async () => {
    tableName = await freshTokenTable();
    await new DynamoDbTokenStore({ tableName, client: localDynamoDb() }).initialise('orders-view', 2);
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('answers a function URL request, and audits a command with the principal IAM authenticated', async () => {
    const handler = createAdminHandler({ env: env(tableName), dynamoDb: localDynamoDb() });
    const status = (await handler(
      { rawPath: '/api/processors/orders-view/status', requestContext: { http: { method: 'GET' } } },
      context,
    )) as FunctionUrlResult;
    expect(status.statusCode).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ processor: 'orders-view', layout: { version: 1 } });

    const scale = (await handler(
      {
        rawPath: '/api/processors/orders-view/scale',
        body: Buffer.from(JSON.stringify({ segments: 2 })).toString('base64'),
        isBase64Encoded: true,
        requestContext: {
          http: { method: 'POST' },
          authorizer: { iam: { userArn: 'arn:aws:sts::123456789012:assumed-role/operator/alice' } },
        },
      },
      context,
    )) as FunctionUrlResult;
    expect(scale.statusCode).toBe(202);
    const audit = await new DynamoDbDeadLetterStore({ tableName, client: localDynamoDb() }).listAudit('orders-view');
    expect(audit).toMatchObject([{ action: 'scale', by: 'arn:aws:sts::123456789012:assumed-role/operator/alice' }]);
  });

  it('samples lag on schedule: writes the sample and publishes the gauges as EMF', async () => {
    const log = new TopicLog('orders', 2);
    for (let i = 0; i < 5; i++) {
      log.append(1, { timestamp: Date.now(), timestampType: 'CREATE_TIME', key: null, value: null, headers: [] });
    }
    const handler = createAdminHandler({
      env: env(tableName),
      dynamoDb: localDynamoDb(),
      kafka: () => Promise.resolve(new TopicLogAdmin([log])),
    });
    expect(await handler({ action: 'sample-lag' }, context)).toEqual({ sampled: true });
    const samples = await new DynamoDbLagHistory({ tableName, client: localDynamoDb() }).since('orders-view', 0);
    expect(samples).toHaveLength(1);
    expect(samples[0]!.partitions['orders-1']).toEqual({ position: null, recordLag: 5, timeLagSeconds: null });
    const emf = stdout
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('"CloudWatchMetrics"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const gauges = emf.find((line) => 'RecordLag' in line)!;
    expect(gauges).toMatchObject({
      Processor: 'orders-view',
      RecordLag: 5,
      StalledPartitions: 0,
      EventSourceDisabledSeconds: 0,
      LagSamples: 1,
    });
  });

  it('refuses to start without its settings, naming the variable', () => {
    const error = thrownBy(() => createAdminHandler({ env: { ...env(tableName), TIDEMARK_TOPICS: '' } }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('TIDEMARK_TOPICS must be set');
    const window = thrownBy(() => createAdminHandler({ env: { ...env(tableName), TIDEMARK_STALL_WINDOW_MS: '1000' } }));
    expect((window as Error).message).toContain('TIDEMARK_STALL_WINDOW_MS must be from 2 minutes');
  });
});
