import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { runCli } from '../support/cli.js';
import { localDynamoDb } from '../support/dynamodb.js';

/** A table name no other test uses, and the flags that point the CLI at it in DynamoDB Local. */
function newTable() {
  const table = `init-${randomUUID()}`;
  const endpoint = inject('dynamoDbEndpoint');
  return {
    table,
    endpoint,
    local: ['--table', table, '--endpoint', endpoint],
    store: new DynamoDbTokenStore({ tableName: table, client: localDynamoDb() }),
  };
}

const segmentsOf = async (store: DynamoDbTokenStore, processor: string) =>
  (await store.readLayout(processor)).segments.map((s) => `${s.id}/${s.mask}`).sort();

describe('tidemark init against DynamoDB Local', () => {
  it('creates the table and the layout, says so when run again, and status reads them', async () => {
    const { table, endpoint, local, store } = newTable();

    const first = await runCli(['init', 'orders-view', '--segments', '3', ...local]);

    expect(first.code).toBe(0);
    expect(first.errors).toBe('');
    expect(first.text.split('\n')).toEqual([
      `Created token table ${table} at ${endpoint}.`,
      'Initialised processor orders-view: layout v1, 3 segments (1/1, 0/3, 2/3).',
      `See it with: tidemark status orders-view --table ${table} --endpoint ${endpoint}`,
    ]);
    const { Table } = await localDynamoDb().send(new DescribeTableCommand({ TableName: table }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(await segmentsOf(store, 'orders-view')).toEqual(['0/3', '1/1', '2/3']);

    const again = await runCli(['init', '--processor', 'orders-view', '--segments', '3', ...local]);
    const without = await runCli(['init', 'orders-view', ...local]);

    for (const run of [again, without]) {
      expect(run.code).toBe(0);
      expect(run.text).toContain(`Token table ${table} already exists at ${endpoint}.`);
      expect(run.text).toContain('Processor orders-view already initialised: layout v1, 3 segments');
      expect(run.text).not.toContain('Created');
    }
    expect((await store.readLayout('orders-view')).version).toBe(1);

    const status = await runCli(['status', 'orders-view', ...local]);

    expect(status.code).toBe(0);
    expect(status.text).toContain('Processor orders-view: layout v1, 3 segment(s)');
    expect(status.text).toContain('Partitions:\n  (none seen yet)');
  });

  it('refuses another segment count for an initialised processor, with exit 1 and the reason', async () => {
    const { local, store } = newTable();
    expect((await runCli(['init', 'orders-view', '--segments', '2', ...local])).code).toBe(0);

    const { code, text, errors } = await runCli(['init', 'orders-view', '--segments', '5', ...local]);

    expect(code).toBe(1);
    expect(errors).toBe(
      'tidemark: processor "orders-view" is already initialised with 2 segments (layout v1), not 5; change it with split, merge or scale',
    );
    expect(text).toContain('already exists');
    expect(await segmentsOf(store, 'orders-view')).toEqual(['0/1', '1/1']);
  });

  it("initialises with defineProcessor's default of 4 segments, and a second processor in the same table", async () => {
    const { table, local, store } = newTable();

    const first = await runCli(['init', '--processor', 'orders-view', ...local]);
    const second = await runCli(['init', 'billing', '--segments', '1', ...local]);

    expect(first.text).toContain('Initialised processor orders-view: layout v1, 4 segments');
    expect(second.code).toBe(0);
    expect(second.text).toContain(`Token table ${table} already exists`);
    expect(second.text).toContain('Initialised processor billing: layout v1, 1 segment (0/0)');
    expect(await segmentsOf(store, 'orders-view')).toEqual(['0/3', '1/3', '2/3', '3/3']);
    expect(await segmentsOf(store, 'billing')).toEqual(['0/0']);
  });

  it('creates only the table without a processor; status then points to init for the processor', async () => {
    const { table, endpoint, local } = newTable();

    const init = await runCli(['init', ...local]);
    const status = await runCli(['status', 'orders-view', ...local]);

    expect(init.code).toBe(0);
    expect(init.text).toContain(`Created token table ${table} at ${endpoint}.`);
    expect(init.text).toContain('No processor named (--processor): only the table.');
    expect(status.code).toBe(1);
    expect(status.errors).toBe(
      `tidemark: processor "orders-view" has no layout in the token store: initialise it first with tidemark init --processor orders-view --table ${table} --endpoint ${endpoint}`,
    );
  });

  it('refuses a table that exists with another key schema', async () => {
    const { table, local } = newTable();
    await localDynamoDb().send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );

    const { code, errors } = await runCli(['init', 'orders-view', ...local]);

    expect(code).toBe(1);
    expect(errors).toBe(
      `tidemark: table ${table} exists but is not a token table: its key is id (S), a token table's is pk (S), sk (S); name another with --table`,
    );
  });

  it('reads the table from TIDEMARK_TABLE_NAME', async () => {
    const { table, endpoint, store } = newTable();

    const { code } = await runCli(['init', 'orders-view', '--segments', '2', '--endpoint', endpoint], {
      env: { TIDEMARK_TABLE_NAME: table },
    });

    expect(code).toBe(0);
    expect(await segmentsOf(store, 'orders-view')).toEqual(['0/1', '1/1']);
  });
});
