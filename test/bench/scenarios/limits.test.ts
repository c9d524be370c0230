import { describe, expect, inject, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localClientConfig } from '../../../local/dynamodb-local.js';
import { measureLimits } from '../../../bench/scenarios/limits.js';
import { watchItemSizes } from '../../../bench/instruments/item-size-watch.js';
import { DynamoDbTokenStore } from '../../../shared/tokens/dynamodb-token-store.js';
import { freshTokenTable } from '../../support/dynamodb.js';

describe('limits on DynamoDB Local', () => {
  it('measures the largest partition and layout items and the layout reads of a container, steady and draining', async () => {
    const client = new DynamoDBClient(localClientConfig(inject('dynamoDbEndpoint')));
    const watch = watchItemSizes(client);
    const store = new DynamoDbTokenStore({ tableName: await freshTokenTable(), client });

    const limits = await measureLimits({
      store,
      watch,
      segments: 16,
      batches: 2,
      recordsPerKey: 3,
      layoutTtlMs: 200,
      steadyMs: 1_000,
      drainWaitMs: 1_000,
    });

    expect(limits).toMatchObject({ segments: 16, recordsPerBatch: 96, batches: 2 });
    // A token with ranges in 16 cells and attempt counts: more than a steady-state item, far below the limit.
    expect(limits.largestPartitionItemBytes).toBeGreaterThan(300);
    expect(limits.largestPartitionItemBytes).toBeLessThan(64 * 1024);
    expect(limits.largestLayoutItemBytes).toBeGreaterThan(16);
    expect(limits.largestLayoutItemBytes).toBeLessThan(1_024);
    // About one read per layout lifetime in steady state; more while waiting on the drain.
    expect(limits.layoutReadsPerSecondPerContainer.steady).toBeGreaterThan(1);
    expect(limits.layoutReadsPerSecondPerContainer.steady).toBeLessThan(15);
    expect(limits.layoutReadsPerSecondPerContainer.drain).toBeGreaterThan(0);
    client.destroy();
  });
});
