import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { LagSample } from './status-view.js';

/** Samples are kept this long (DynamoDB's TTL on `expiresAt`); the status view reads the last hour. */
const SAMPLE_RETENTION_S = 2 * 3600;
/** A sample's partitions, as JSON, stay under this so the item stays well under DynamoDB's 400 KB. */
const SAMPLE_MAX_BYTES = 300 * 1024;

const lagKey = (processor: string) => `PROCESSOR#${processor}#LAG`;

/**
 * The lag samples of a processor, one item per sample under its own partition key, sorted by time: the sampler
 * writes one a minute on AWS; the status view reads the last hour for its charts and for the stall rule.
 */
export class DynamoDbLagHistory {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { tableName: string; client: DynamoDBClient }) {
    this.documents = DynamoDBDocumentClient.from(options.client);
  }

  /** Writes a sample. Partitions past the item bound are left out (the sample says how many). */
  async write(processor: string, sample: LagSample): Promise<void> {
    let entries = Object.entries(sample.partitions);
    let json = JSON.stringify(Object.fromEntries(entries));
    while (json.length > SAMPLE_MAX_BYTES && entries.length > 1) {
      entries = entries.slice(0, Math.floor(entries.length / 2));
      json = JSON.stringify(Object.fromEntries(entries));
    }
    await this.documents.send(
      new PutCommand({
        TableName: this.options.tableName,
        Item: {
          pk: lagKey(processor),
          sk: `SAMPLE#${String(sample.at).padStart(15, '0')}`,
          kind: 'lag-sample',
          at: sample.at,
          partitions: json,
          omitted: Object.keys(sample.partitions).length - entries.length,
          expiresAt: Math.floor(sample.at / 1000) + SAMPLE_RETENTION_S,
        },
      }),
    );
  }

  /** Samples taken at or after `from`, oldest first. */
  async since(processor: string, from: number): Promise<LagSample[]> {
    const samples: LagSample[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk AND sk >= :from',
          ExpressionAttributeValues: { ':pk': lagKey(processor), ':from': `SAMPLE#${String(from).padStart(15, '0')}` },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        samples.push({
          at: Number(item.at),
          partitions: JSON.parse(String(item.partitions)) as LagSample['partitions'],
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return samples;
  }
}
