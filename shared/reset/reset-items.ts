import { BatchGetCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { parkedKeysOf } from '../dead-letters/dead-letter-item.js';
import type { ParkedKey } from '../dead-letters/dead-letter.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import { readReplay, type Replay } from '../tokens/replay.js';
import { PartitionToken } from '../tokens/token.js';
import { PARTITION_ATTRIBUTES, tokenKeys } from '../tokens/token-table.js';

/**
 * The attribute a reset leaves on each partition item it wrote: its id. Unlike `resetId`, which the checkpoint that
 * ends the replay removes, it stays, so the same reset run again finds the partition done.
 */
export const LAST_RESET_ID = 'lastResetId';

/** What a reset reads of one partition item. */
export interface PartitionItem {
  readonly topic: string;
  readonly partition: number;
  readonly epoch: number;
  readonly owner: string | undefined;
  readonly leaseUntil: number;
  readonly token: PartitionToken;
  /** The token attribute exactly as stored: the reset's write is conditional on it. */
  readonly storedToken: unknown;
  readonly replay: Replay | null;
  readonly lastResetId: string | undefined;
  readonly parked: readonly ParkedKey[];
}

/** Where the token table is. */
export interface TokenTable {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** One partition item (strongly consistent), or undefined when the partition was never claimed. */
export async function readPartitionItem(
  table: TokenTable,
  processor: string,
  topic: string,
  partition: number,
): Promise<PartitionItem | undefined> {
  const { Item } = await table.documents.send(
    new GetCommand({
      TableName: table.tableName,
      Key: tokenKeys.partition(processor, topic, partition),
      ConsistentRead: true,
    }),
  );
  return Item ? toPartitionItem(Item, processor, topic, partition) : undefined;
}

/** The items of these partitions by `"<topic>-<partition>"` (strongly consistent); missing ones are absent. */
export async function readPartitionItems(
  table: TokenTable,
  processor: string,
  partitions: ReadonlyArray<{ topic: string; partition: number }>,
): Promise<Map<string, PartitionItem>> {
  const out = new Map<string, PartitionItem>();
  const keys = partitions.map((p) => tokenKeys.partition(processor, p.topic, p.partition));
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Array<Record<string, string>> = keys.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0; attempt++) {
      const result = await table.documents.send(
        new BatchGetCommand({ RequestItems: { [table.tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of result.Responses?.[table.tableName] ?? []) {
        const parsed = toPartitionItem(item, processor, String(item.topic), Number(item.partition));
        out.set(topicPartitionId(parsed.topic, parsed.partition), parsed);
      }
      pending = (result.UnprocessedKeys?.[table.tableName]?.Keys as typeof pending | undefined) ?? [];
      if (pending.length > 0) await sleep(Math.min(1_000, 50 * 2 ** attempt));
    }
  }
  return out;
}

function toPartitionItem(
  item: Record<string, unknown>,
  processor: string,
  topic: string,
  partition: number,
): PartitionItem {
  const where = `${topicPartitionId(topic, partition)} of "${processor}"`;
  return {
    topic,
    partition,
    epoch: Number(item.epoch ?? 0),
    owner: item.owner === undefined ? undefined : String(item.owner),
    leaseUntil: Number(item.leaseUntil ?? 0),
    token: item.token === undefined ? PartitionToken.initial() : PartitionToken.read(item.token),
    storedToken: item.token,
    replay: readReplay(item[PARTITION_ATTRIBUTES.replayToken], item[PARTITION_ATTRIBUTES.resetId], where),
    lastResetId: item[LAST_RESET_ID] === undefined ? undefined : String(item[LAST_RESET_ID]),
    parked: [...parkedKeysOf(item.parked).values()],
  };
}
