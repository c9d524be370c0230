import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicPartitionId } from '../kafka/kafka-record.js';

/**
 * The token table's key schema: a string partition key `pk` and sort key `sk`. One table can hold many
 * processors. The CDK construct creates it in AWS; {@link createTokenTable} creates it locally.
 */
export const TOKEN_TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/**
 * Copies of the layout item every layout write keeps in the same transaction, each under a partition key of its own.
 * A dispatcher's per-batch layout read goes to one copy (picked per container), so the read load that would all land
 * on the layout's key is spread over this many keys: at 1,000 containers each key sees a sixteenth of it.
 */
export const LAYOUT_REPLICAS = 16;

/**
 * Attributes of a partition item (`tokenKeys.partition`) written outside the claim and checkpoint protocol, or read
 * by status views. A reset writes `replayToken` (binary, `PartitionToken.encode()` of the token the partition had at
 * the reset) and `resetId` in the fenced write that bumps the epoch; the checkpoint that moves the token past
 * everything the replay token covered removes both. Every checkpoint writes `lastRecordAt`.
 */
export const PARTITION_ATTRIBUTES = {
  replayToken: 'replayToken',
  resetId: 'resetId',
  /** Kafka timestamp (ms) of the newest record a checkpoint covered. */
  lastRecordAt: 'lastRecordAt',
} as const;

/** Item keys. A partition's item has a partition key of its own, so busy partitions never share a key's write limit. */
export const tokenKeys = {
  layout: (processor: string) => ({ pk: `PROCESSOR#${processor}`, sk: 'LAYOUT' }),
  /** Copy `replica` (0 to LAYOUT_REPLICAS - 1) of the layout, read by dispatchers. */
  layoutReplica: (processor: string, replica: number) => ({
    pk: `PROCESSOR#${processor}#LAYOUT#${replica}`,
    sk: 'LAYOUT',
  }),
  registry: (processor: string) => ({ pk: `PROCESSOR#${processor}`, sk: 'PARTITIONS' }),
  /** One record per finished layout change, sorted by version. */
  history: (processor: string, version: number) => ({
    pk: `PROCESSOR#${processor}`,
    sk: `HISTORY#${String(version).padStart(10, '0')}`,
  }),
  partition: (processor: string, topic: string, partition: number) => ({
    pk: `PROCESSOR#${processor}#PARTITION#${topicPartitionId(topic, partition)}`,
    sk: 'TOKEN',
  }),
  /** A parked key's letters share a partition key, sorted by offset: one query reads them in order. */
  letters: lettersKey,
  letter: (processor: string, topicPartition: string, digest: string, offset: number) => ({
    pk: lettersKey(processor, topicPartition, digest),
    sk: `LETTER#${padOffset(offset)}`,
  }),
  /** Every source skip of a processor under one partition key: they are rare, and read together by status. */
  skips: (processor: string) => `PROCESSOR#${processor}#SKIPS`,
  skip: (processor: string, topicPartition: string, from: number) => ({
    pk: `PROCESSOR#${processor}#SKIPS`,
    sk: `SKIP#${topicPartition}#${padOffset(from)}`,
  }),
  audit: (processor: string) => `PROCESSOR#${processor}#AUDIT`,
} as const;

function lettersKey(processor: string, topicPartition: string, digest: string): string {
  return `PROCESSOR#${processor}#DLQ#${topicPartition}#${digest}`;
}

/** Offsets as sort keys: 20 digits hold every 64-bit offset, so text order is numeric order. */
function padOffset(offset: number): string {
  return String(offset).padStart(20, '0');
}

/** Creates an on-demand token table if it does not exist and waits until it is active (local stack and tests). */
export async function createTokenTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TOKEN_TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TOKEN_TABLE_KEYS.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TOKEN_TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TOKEN_TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await sleep(100);
  }
  throw new Error(`table ${tableName} did not become active`);
}
