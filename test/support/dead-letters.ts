import { DynamoDbDeadLetterStore } from '../../shared/dead-letters/dynamodb-dead-letter-store.js';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import type { Clock } from '../../shared/tokens/token-store.js';
import { freshTokenTable, localDynamoDb } from './dynamodb.js';

/** A token store and a dead-letter store on one fresh table of DynamoDB Local. */
export async function freshStores(clock?: Clock) {
  const tableName = await freshTokenTable();
  return {
    tableName,
    store: new DynamoDbTokenStore({ tableName, client: localDynamoDb(), clock }),
    deadLetters: new DynamoDbDeadLetterStore({ tableName, client: localDynamoDb(), clock }),
  };
}

/** Every letter of a processor, per parked key, in offset order: `"<topic-partition>/<key>" → offsets`. */
export async function lettersByKey(deadLetters: DynamoDbDeadLetterStore, processor: string) {
  const out = new Map<string, number[]>();
  for (const entry of await deadLetters.listParkedKeys(processor)) {
    const letters = await deadLetters.readLetters({ processor, ...entry });
    if (letters.length > 0)
      out.set(
        `${entry.topic}-${entry.partition}/${entry.key}`,
        letters.map((l) => l.offset),
      );
  }
  return out;
}
