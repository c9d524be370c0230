import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { localClientConfig } from '../../local/dynamodb-local.js';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { createTokenTable } from '../../shared/tokens/token-table.js';
import type { Clock } from '../../shared/tokens/token-store.js';

let client: DynamoDBClient | undefined;

/** A client for the run's DynamoDB Local engine (started once by the global setup). */
export function localDynamoDb(): DynamoDBClient {
  client ??= new DynamoDBClient(localClientConfig(inject('dynamoDbEndpoint')));
  return client;
}

/** Creates a token table of its own for a test, so test files never see each other's items. */
export async function freshTokenTable(): Promise<string> {
  const tableName = `tokens-${randomUUID()}`;
  await createTokenTable(localDynamoDb(), tableName);
  return tableName;
}

/** A DynamoDB token store on a fresh table. */
export async function freshDynamoStore(clock?: Clock): Promise<DynamoDbTokenStore> {
  return new DynamoDbTokenStore({ tableName: await freshTokenTable(), client: localDynamoDb(), clock });
}
