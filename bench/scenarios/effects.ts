/**
 * What the exactly-once projection helper (shared/effects) costs per record, on DynamoDB itself: the writes and
 * write units counted on the client, and the time per record, for one item (a conditional UpdateItem) and for three
 * items (a TransactWriteItems), each first applied and then delivered again (refused by the items' positions).
 */
import {
  BatchGetItemCommand,
  DynamoDBClient,
  CreateTableCommand,
  UpdateItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { exactlyOnce, type EffectContext } from '../../shared/effects/exactly-once.js';
import type { DynamoDbCounter } from '../instruments/dynamodb-requests.js';
import { itemSize } from '../item-size.js';
import { round } from '../stats.js';

/** One way of writing, measured over `records` records one after the other. */
export interface EffectPassCost {
  readonly writesPerRecord: number;
  /** As DynamoDB Local reports them (it reports 2 per transaction, whatever its items). */
  readonly writeUnitsPerRecord: number;
  /** The largest item written, in DynamoDB's bytes (the positions of its keys included). */
  readonly largestItemBytes: number;
  /**
   * What AWS bills: per item written, 1 WCU per KB for a write and 2 per KB in a transaction (the written or refused
   * item's size, the larger of before and after).
   */
  readonly awsWriteUnitsPerRecord: number;
  /** Wall time per record: the helper and DynamoDB Local's round trip. */
  readonly usPerRecord: number;
}

/** A mode's cost when the records are new, and when the same records come again. */
export interface EffectModeCost extends EffectPassCost {
  /**
   * The helper's own time per record (positions, expressions, the token's hash, the SDK's marshalling), measured
   * with a client that answers at once: what it adds to the round trip.
   */
  readonly helperUsPerRecord: number;
  /** The same records again (a redelivery): each write is refused by the positions, and still billed. */
  readonly again: EffectPassCost;
}

/** What `npm run bench -- --json` reports as `effects`. */
export interface EffectsCost {
  readonly records: number;
  /** A counter update without the helper, for comparison: one UpdateItem, no position. */
  readonly plainUpdate: EffectPassCost;
  /** `effects.update`: one conditional UpdateItem carrying the key's position. */
  readonly singleItem: EffectModeCost;
  /** `effects.transact` of three updates: one TransactWriteItems (2 write units per item). */
  readonly threeItemTransaction: EffectModeCost;
}

/** Measures the helper on a fresh table of `client`, whose requests `dynamoDb` counts. */
export async function measureEffectsCost(env: {
  client: DynamoDBClient;
  dynamoDb: DynamoDbCounter;
  progress?: (message: string) => void;
  records?: number;
}): Promise<EffectsCost> {
  const records = env.records ?? 200;
  const table = `tidemark-bench-effects-${Date.now().toString(36)}`;
  await env.client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  await waitUntilTableExists({ client: env.client, maxWaitTime: 60 }, { TableName: table });
  const effects = exactlyOnce({ client: env.client });
  // Ten keys of one partition, so items carry the positions of a few keys, as a per-key projection's do.
  const context = (i: number): EffectContext => ({
    processor: 'bench-effects',
    topic: 'orders',
    partition: 0,
    offset: i,
    sequencingKey: `key-${i % 10}`,
  });
  const add = (id: string) => ({
    TableName: table,
    Key: { id },
    UpdateExpression: 'ADD n :one',
    ExpressionAttributeValues: { ':one': 1 },
  });
  /** The largest of the items in DynamoDB's bytes. */
  const largest = async (ids: readonly string[]) => {
    const output = await env.client.send(
      new BatchGetItemCommand({
        RequestItems: { [table]: { Keys: ids.map((id) => ({ id: { S: id } })), ConsistentRead: true } },
      }),
    );
    return Math.max(0, ...(output.Responses?.[table] ?? []).map(itemSize));
  };
  const measure = async (
    label: string,
    shape: { items: readonly string[]; itemsPerRecord: number; unitsPerKb: number },
    write: (i: number) => Promise<unknown>,
  ): Promise<EffectPassCost> => {
    env.dynamoDb.reset();
    const started = performance.now();
    for (let i = 0; i < records; i++) await write(i);
    const elapsedUs = (performance.now() - started) * 1000;
    const tally = env.dynamoDb.tally();
    const largestItemBytes = await largest(shape.items);
    const cost = {
      writesPerRecord: round(tally.writeRequests / records, 3),
      writeUnitsPerRecord: round(tally.writeUnits / records, 3),
      largestItemBytes,
      awsWriteUnitsPerRecord: shape.itemsPerRecord * shape.unitsPerKb * Math.max(1, Math.ceil(largestItemBytes / 1024)),
      usPerRecord: round(elapsedUs / records, 1),
    };
    env.progress?.(`effects, ${label}: ${cost.writesPerRecord} writes, ${cost.usPerRecord} µs per record`);
    return cost;
  };
  const ids = (prefix: string) => Array.from({ length: 10 }, (_, k) => `${prefix}#${k}`);
  const oneItem = { items: ids('single'), itemsPerRecord: 1, unitsPerKb: 1 };
  const threeItems = { items: [...ids('total'), 'log#orders-0', 'all'], itemsPerRecord: 3, unitsPerKb: 2 };
  const single = (i: number) => effects.update(context(i), add(`single#${i % 10}`));
  const transaction = (i: number) =>
    effects.transact(context(i), [
      { Update: add(`total#${i % 10}`) },
      { Update: add('log#orders-0') },
      { Update: add('all') },
    ]);
  const plainUpdate = await measure('plain update', { ...oneItem, items: ids('plain') }, (i) =>
    env.client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { id: { S: `plain#${i % 10}` } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    ),
  );
  // The helper alone: the same calls on a client that answers every request at once, after a warm-up.
  const instant = instantClient();
  const quick = exactlyOnce({ client: instant });
  const helperUs = async (write: (writer: typeof quick, i: number) => Promise<unknown>) => {
    for (let i = 0; i < records; i++) await write(quick, i);
    const started = performance.now();
    for (let i = 0; i < records; i++) await write(quick, records + i);
    return round(((performance.now() - started) * 1000) / records, 1);
  };
  const singleHelperUs = await helperUs((writer, i) => writer.update(context(i), add(`single#${i % 10}`)));
  const transactionHelperUs = await helperUs((writer, i) =>
    writer.transact(context(i), [
      { Update: add(`total#${i % 10}`) },
      { Update: add('log#orders-0') },
      { Update: add('all') },
    ]),
  );
  instant.destroy();
  const singleItem = {
    helperUsPerRecord: singleHelperUs,
    ...(await measure('single item', oneItem, single)),
    again: await measure('single item again', oneItem, single),
  };
  const threeItemTransaction = {
    helperUsPerRecord: transactionHelperUs,
    ...(await measure('3-item transaction', threeItems, transaction)),
    again: await measure('3-item transaction again', threeItems, transaction),
  };
  return { records, plainUpdate, singleItem, threeItemTransaction };
}

/** A client that answers every request at once with an empty output, sending nothing. */
function instantClient(): DynamoDBClient {
  const client = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  client.middlewareStack.add(() => async () => ({ output: { $metadata: {} }, response: {} }), {
    step: 'build',
    name: 'tidemarkBenchInstant',
  });
  return client;
}
