/**
 * The DynamoDB requests of the (c) runs, per batch and per 1,000 records: the two writes per batch the design
 * pays, the layout reads of a warm container, and apart from them the set-up a new processor pays once.
 */
import type { DynamoDbTally } from '../instruments/dynamodb-requests.js';
import type { StoreCalls } from '../instruments/store-calls.js';
import type { BenchOptions } from '../options.js';
import type { OnePartitionRuns } from '../scenarios/one-partition.js';
import { round, sum } from '../stats.js';

type Rates = { reads: number; writes: number; readUnits: number; writeUnits: number };

export interface DynamoDbReport {
  readonly source: string;
  readonly run: string;
  readonly batches: number;
  readonly records: number;
  readonly readRequests: number;
  readonly writeRequests: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Requests whose units were not reported and were counted as 1 unit each. */
  readonly estimatedUnitRequests: number;
  readonly byOperation: Record<string, number>;
  readonly byItem: Record<string, number>;
  readonly tokenStoreCalls: StoreCalls;
  readonly perBatch: Rates;
  readonly per1000Records: Rates;
  /**
   * The consumer's first, untimed run: what a new processor (or a container whose layout cache has expired)
   * pays on top of the steady state, counted on its own.
   */
  readonly coldRun: {
    readonly batches: number;
    readonly readRequests: number;
    readonly writeRequests: number;
    readonly byOperation: Record<string, number>;
    readonly byItem: Record<string, number>;
  };
}

/** `onDynamoDb`: whether the requests were counted on a DynamoDB client (else mapped from token store calls). */
export function dynamoDbReport(options: BenchOptions, runs: OnePartitionRuns, onDynamoDb: boolean): DynamoDbReport {
  const batches = sum(runs.keyOrderedRuns.map((r) => r.batches));
  const records = sum(runs.keyOrderedRuns.map((r) => r.records));
  const { requests, calls } = runs.requests.warm;
  const cold = runs.requests.cold;
  return {
    source: onDynamoDb
      ? 'DynamoDBClient middleware: every request counted, units as DynamoDB reported them (ReturnConsumedCapacity)'
      : 'token store calls mapped to the DynamoDB requests DynamoDbTokenStore makes for them (in-memory store)',
    run: `(c) key-ordered, one partition, ${options.repeats} run(s) of one warm consumer (its set-up is in coldRun)`,
    batches,
    records,
    readRequests: requests.readRequests,
    writeRequests: requests.writeRequests,
    readUnits: round(requests.readUnits, 2),
    writeUnits: round(requests.writeUnits, 2),
    estimatedUnitRequests: requests.estimatedUnitRequests,
    byOperation: requests.byOperation,
    byItem: requests.byItem,
    tokenStoreCalls: calls,
    perBatch: rates(requests, batches, 1),
    per1000Records: rates(requests, records, 1000),
    coldRun: {
      batches: cold.batches,
      readRequests: cold.requests.readRequests,
      writeRequests: cold.requests.writeRequests,
      byOperation: cold.requests.byOperation,
      byItem: cold.requests.byItem,
    },
  };
}

/** Requests and units per `per` of `count` (batches or records). */
function rates(requests: DynamoDbTally, count: number, per: number): Rates {
  const rate = (value: number) => round((value * per) / count, 3);
  return {
    reads: rate(requests.readRequests),
    writes: rate(requests.writeRequests),
    readUnits: rate(requests.readUnits),
    writeUnits: rate(requests.writeUnits),
  };
}
