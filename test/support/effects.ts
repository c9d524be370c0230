import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  waitUntilTableExists,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { localClientConfig } from '../../local/dynamodb-local.js';
import type { IdempotencyContext } from '../../shared/effects/idempotency.js';
import { silentLogger } from '../../shared/observability/logger.js';
import type { HandlerContext } from '../../shared/processing/processor.js';
import { localDynamoDb } from './dynamodb.js';

/**
 * A table of the team's own, for effects: by default a string hash key `id` only (not the token table's `pk`/`sk`),
 * so the helpers are shown to work with any key schema.
 */
export async function freshEffectsTable(
  keys: { hash: string; range?: string } = { hash: 'id' },
  client: DynamoDBClient = localDynamoDb(),
): Promise<string> {
  const tableName = `effects-${randomUUID()}`;
  const attributes = [keys.hash, ...(keys.range ? [keys.range] : [])];
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: attributes.map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: keys.hash, KeyType: 'HASH' },
        ...(keys.range ? [{ AttributeName: keys.range, KeyType: 'RANGE' as const }] : []),
      ],
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
  return tableName;
}

/** An item as stored (raw attribute values), strongly consistent; undefined when absent. */
export async function storedItem(
  tableName: string,
  key: Record<string, AttributeValue>,
  client: DynamoDBClient = localDynamoDb(),
): Promise<Record<string, AttributeValue> | undefined> {
  const output = await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  return output.Item;
}

/** A number attribute of a stored item, or undefined. */
export async function storedNumber(tableName: string, id: string, attribute: string): Promise<number | undefined> {
  const value = (await storedItem(tableName, { id: { S: id } }))?.[attribute]?.N;
  return value === undefined ? undefined : Number(value);
}

/** A handler context for record `offset` of key `key` in orders-`partition` (claim epoch 1, a minute to go). */
export function recordContext(overrides: Partial<HandlerContext> = {}): HandlerContext & IdempotencyContext {
  return {
    processor: 'orders-view',
    segment: { id: 0, mask: 0 },
    layoutVersion: 1,
    topic: 'orders',
    partition: 0,
    offset: 0,
    sequencingKey: 'k',
    attempt: 1,
    redrive: false,
    replay: false,
    epoch: 1,
    deadline: Date.now() + 60_000,
    requestId: 'request-1',
    logger: silentLogger,
    ...overrides,
  };
}

/** Operations a client sent, by command name, with their inputs: what a test asserts was (or was not) sent. */
export interface SentRequests {
  readonly commands: Array<{ name: string; input: Record<string, unknown> }>;
}

/**
 * A fresh client of DynamoDB Local (its own middleware stack) that records every request it sends and can be told
 * to fault: `conflicts` TransactWriteItems cancelled with a TransactionConflict before they are sent, and
 * `lostResponses` requests that land and whose response is then lost (the SDK retries them, as after a timeout).
 */
export function faultyEffectsClient(faults: { conflicts?: number; lostResponses?: number } = {}): {
  client: DynamoDBClient;
  sent: SentRequests;
  faults: { conflicts: number; lostResponses: number };
} {
  const client = new DynamoDBClient({ ...localClientConfig(inject('dynamoDbEndpoint')), maxAttempts: 3 });
  const sent: SentRequests = { commands: [] };
  const left = { conflicts: faults.conflicts ?? 0, lostResponses: faults.lostResponses ?? 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '';
      sent.commands.push({ name, input: structuredClone(args.input as Record<string, unknown>) });
      if (name === 'TransactWriteItemsCommand' && left.conflicts > 0) {
        left.conflicts--;
        const items = (args.input as { TransactItems: unknown[] }).TransactItems;
        throw new TransactionCanceledException({
          message:
            'Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]',
          $metadata: {},
          CancellationReasons: items.map((_, i) =>
            i === 0
              ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
              : { Code: 'None' },
          ),
        });
      }
      const result = await next(args);
      if (left.lostResponses > 0) {
        left.lostResponses--;
        // Landed, but the caller never hears: the SDK's retry sends the very same request again.
        throw new ProvisionedThroughputExceededException({ message: 'injected: response lost', $metadata: {} });
      }
      return result;
    },
    { step: 'finalizeRequest', name: 'tidemarkEffectsFaults', priority: 'low' },
  );
  return { client, sent, faults: left };
}

/** Awaits `act` and returns what it rejected with, so the whole error can be asserted. */
export async function rejectionOf(act: () => Promise<unknown>): Promise<unknown> {
  try {
    await act();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, but it resolved');
}
