import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { MemoryTokenStore } from '../../shared/tokens/memory-token-store.js';
import type { Replay } from '../../shared/tokens/replay.js';
import type { PartitionToken } from '../../shared/tokens/token.js';
import { PARTITION_ATTRIBUTES, tokenKeys } from '../../shared/tokens/token-table.js';
import type { PartitionRef, TokenStore } from '../../shared/tokens/token-store.js';
import { localDynamoDb } from './dynamodb.js';

/** The partition a reset is written on. */
export type ResetTarget = PartitionRef & { readonly processor: string };

/**
 * Writes onto a partition item what a reset writes (the reset writer itself is not the dispatch path's): in one
 * write, the epoch moves on and the claim ends, the token becomes `token` (when given), and `replayToken` and
 * `resetId` are set. The item must exist (the partition was claimed before). Works on the DynamoDB Local store of
 * test/support/dynamodb.ts and on the in-memory store.
 */
export async function writeReset(
  store: TokenStore,
  target: ResetTarget,
  reset: { readonly replay: Replay; readonly token?: PartitionToken },
): Promise<void> {
  if (store instanceof MemoryTokenStore) {
    store.applyReset(target, reset);
    return;
  }
  if (!(store instanceof DynamoDbTokenStore))
    throw new Error('writeReset needs a DynamoDB or an in-memory token store');
  const sets = ['#replayToken = :replayToken', '#resetId = :resetId', '#owner = :none', '#leaseUntil = :zero'];
  if (reset.token) sets.push('#token = :token');
  await DynamoDBDocumentClient.from(localDynamoDb()).send(
    new UpdateCommand({
      TableName: store.tableName,
      Key: tokenKeys.partition(target.processor, target.topic, target.partition),
      UpdateExpression: `SET ${sets.join(', ')} ADD #epoch :one`,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: {
        '#replayToken': PARTITION_ATTRIBUTES.replayToken,
        '#resetId': PARTITION_ATTRIBUTES.resetId,
        '#owner': 'owner',
        '#leaseUntil': 'leaseUntil',
        '#epoch': 'epoch',
        ...(reset.token ? { '#token': 'token' } : {}),
      },
      ExpressionAttributeValues: {
        ':replayToken': reset.replay.token.encode(),
        ':resetId': reset.replay.resetId,
        ':none': '',
        ':zero': 0,
        ':one': 1,
        ...(reset.token ? { ':token': reset.token.encode() } : {}),
      },
    }),
  );
}
