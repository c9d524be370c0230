import { describe, expect, inject, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localClientConfig } from '../../../local/dynamodb-local.js';
import { countDynamoDbRequests } from '../../../bench/instruments/dynamodb-requests.js';
import { measureEffectsCost } from '../../../bench/scenarios/effects.js';

describe('effects cost on DynamoDB Local', () => {
  it('counts one write per record for one item and one transaction of 3 items at 2 WCU each, applied or refused', async () => {
    const client = new DynamoDBClient(localClientConfig(inject('dynamoDbEndpoint')));
    const dynamoDb = countDynamoDbRequests(client);

    const cost = await measureEffectsCost({ client, dynamoDb, records: 20 });

    expect(cost.records).toBe(20);
    const one = { writesPerRecord: 1, writeUnitsPerRecord: 1, awsWriteUnitsPerRecord: 1 };
    expect(cost.plainUpdate).toMatchObject(one);
    expect(cost.singleItem).toMatchObject(one);
    // A refused conditional write is billed like one that lands.
    expect(cost.singleItem.again).toMatchObject(one);
    // DynamoDB Local reports 2 units for any transaction; AWS bills 2 per item per KB.
    const transaction = { writesPerRecord: 1, writeUnitsPerRecord: 2, awsWriteUnitsPerRecord: 6 };
    expect(cost.threeItemTransaction).toMatchObject(transaction);
    expect(cost.threeItemTransaction.again).toMatchObject(transaction);
    // The shared items carry a position per key that wrote them: ten keys, still under 1 KB.
    expect(cost.threeItemTransaction.largestItemBytes).toBeGreaterThan(cost.singleItem.largestItemBytes);
    expect(cost.threeItemTransaction.largestItemBytes).toBeLessThan(1024);
    for (const pass of [cost.plainUpdate, cost.singleItem, cost.threeItemTransaction]) {
      expect(pass.usPerRecord).toBeGreaterThan(0);
    }
    // The helper's own time is a small part of a round trip.
    for (const mode of [cost.singleItem, cost.threeItemTransaction]) {
      expect(mode.helperUsPerRecord).toBeGreaterThan(0);
      expect(mode.helperUsPerRecord).toBeLessThan(mode.usPerRecord);
    }
    client.destroy();
  });
});
