import { describe, expect, it } from 'vitest';
import { costPerMillionRecords } from '../../../bench/report/cost.js';

describe('cost per million records', () => {
  it("scales one run's usage to a million records and bills each batch's duration rounded up to 1 ms", () => {
    // The key-ordered figures of docs/benchmarks.md: batches of 5,000 taking 271.6 ms, two writes each.
    const cost = costPerMillionRecords(
      { records: 5_000, batches: 1, meanBatchMs: 271.6, readUnits: 0, writeUnits: 2, stateTransitions: 0 },
      1_024,
    );

    expect(cost).toMatchObject({
      recordsPerBatch: 5_000,
      lambdaRequests: 200,
      lambdaGbSeconds: 54.4,
      dynamoDbWriteRequestUnits: 400,
      dynamoDbReadRequestUnits: 0,
    });
    expect(cost.usd).toEqual({
      lambdaDuration: 0.000907,
      lambdaRequests: 0.00004,
      dynamoDbWrites: 0.00025,
      dynamoDbReads: 0,
      stepFunctions: 0,
      total: 0.001197,
    });
    // Half the memory, half the GB-s.
    expect(
      costPerMillionRecords(
        { records: 5_000, batches: 1, meanBatchMs: 271.6, readUnits: 0, writeUnits: 2, stateTransitions: 0 },
        512,
      ).lambdaGbSeconds,
    ).toBe(27.2);
  });
});
