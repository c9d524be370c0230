import { describe, expect, inject, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localClientConfig } from '../../../local/dynamodb-local.js';
import { countDynamoDbRequests } from '../../../bench/instruments/dynamodb-requests.js';
import { measureParkingCost } from '../../../bench/scenarios/parking-cost.js';
import { DynamoDbTokenStore } from '../../../shared/tokens/dynamodb-token-store.js';
import { freshTokenTable } from '../../support/dynamodb.js';

describe('parking cost on DynamoDB Local', () => {
  it('counts two writes for a batch that parks nothing, and one transaction more for a batch that parks 1%', async () => {
    const client = new DynamoDBClient(localClientConfig(inject('dynamoDbEndpoint')));
    const dynamoDb = countDynamoDbRequests(client);
    const store = new DynamoDbTokenStore({ tableName: await freshTokenTable(), client });

    const cost = await measureParkingCost({ store, dynamoDb, batches: 3, recordsPerBatch: 200 });

    expect(cost.parkedPerBatch).toBe(2);
    expect(cost.nothingParked).toMatchObject({ writesPerBatch: 2, byOperation: { UpdateItem: 2 } });
    expect(cost.onePercentParked.byOperation).toMatchObject({ UpdateItem: 1, TransactWriteItems: 1 });
    expect(cost.onePercentParked.writesPerBatch).toBe(2);
    expect(cost.onePercentParked.writeUnitsPerBatch).toBeGreaterThan(cost.nothingParked.writeUnitsPerBatch);
    client.destroy();
  });
});
