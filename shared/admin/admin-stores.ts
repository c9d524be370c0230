import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbDeadLetterStore } from '../dead-letters/dynamodb-dead-letter-store.js';
import { DynamoDbTokenStore } from '../tokens/dynamodb-token-store.js';
import { DynamoDbLagHistory } from './lag-history.js';
import { DynamoDbOperationStore } from './operation-store.js';

/** The stores the admin API reads and writes, all in the token table. */
export function adminStores(tableName: string, client: DynamoDBClient) {
  return {
    tokens: new DynamoDbTokenStore({ tableName, client }),
    deadLetters: new DynamoDbDeadLetterStore({ tableName, client }),
    operations: new DynamoDbOperationStore({ tableName, client }),
    lagHistory: new DynamoDbLagHistory({ tableName, client }),
  };
}
