/**
 * Cost per million records on AWS, from measured counts: Lambda duration (GB-s) and requests per batch, DynamoDB
 * on-demand request units, Step Functions state transitions.
 */
import type { DynamoDbTally } from '../instruments/dynamodb-requests.js';
import type { BenchOptions } from '../options.js';
import type { RunResult } from '../runs.js';
import { round, sum } from '../stats.js';

/** The price table the estimate uses (printed in the JSON so the figures can be re-checked). */
const PRICES = Object.freeze({
  region: 'us-east-1',
  asOf:
    'AWS public list prices as published in 2025 (DynamoDB on-demand after the 1 November 2024 reduction); ' +
    'not fetched at run time, free tiers and savings plans ignored',
  lambdaArchitecture: 'x86_64',
  /** First 6 billion GB-s per month tier. */
  lambdaUsdPerGbSecond: 0.0000166667,
  lambdaUsdPerMillionRequests: 0.2,
  /** Standard table class, on-demand. One WRU writes up to 1 KB; a transactional write takes two. */
  dynamoDbUsdPerMillionWriteRequestUnits: 0.625,
  /** One RRU is one strongly consistent read up to 4 KB (two eventually consistent ones). */
  dynamoDbUsdPerMillionReadRequestUnits: 0.125,
  /** Standard workflows. */
  stepFunctionsUsdPer1000StateTransitions: 0.025,
  notIncluded:
    'Kafka cluster, event source mapping poller units (provisioned mode), data transfer, CloudWatch logs and metrics: ' +
    'the same for both ways of processing',
});

/** What one way of processing uses, measured. */
export interface UsageInput {
  readonly records: number;
  readonly batches: number;
  /** Mean wall time of one invocation: its billed duration. */
  readonly meanBatchMs: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly stateTransitions: number;
}

/** Usage and dollars per million records. */
export interface CostEstimate {
  readonly recordsPerBatch: number;
  readonly batchDurationMs: number;
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  readonly dynamoDbWriteRequestUnits: number;
  readonly dynamoDbReadRequestUnits: number;
  readonly stepFunctionsTransitions: number;
  readonly usd: {
    readonly lambdaDuration: number;
    readonly lambdaRequests: number;
    readonly dynamoDbWrites: number;
    readonly dynamoDbReads: number;
    readonly stepFunctions: number;
    readonly total: number;
  };
}

/** Scales measured usage to one million records and prices it. Duration is billed per 1 ms, rounded up. */
export function costPerMillionRecords(usage: UsageInput, memoryMb: number): CostEstimate {
  const scale = 1_000_000 / usage.records;
  const batchesPerMillion = usage.batches * scale;
  const billedMs = Math.ceil(usage.meanBatchMs);
  const gbSeconds = batchesPerMillion * (billedMs / 1000) * (memoryMb / 1024);
  const writeUnits = usage.writeUnits * scale;
  const readUnits = usage.readUnits * scale;
  const transitions = usage.stateTransitions * scale;
  const usd = {
    lambdaDuration: gbSeconds * PRICES.lambdaUsdPerGbSecond,
    lambdaRequests: (batchesPerMillion / 1e6) * PRICES.lambdaUsdPerMillionRequests,
    dynamoDbWrites: (writeUnits / 1e6) * PRICES.dynamoDbUsdPerMillionWriteRequestUnits,
    dynamoDbReads: (readUnits / 1e6) * PRICES.dynamoDbUsdPerMillionReadRequestUnits,
    stepFunctions: (transitions / 1000) * PRICES.stepFunctionsUsdPer1000StateTransitions,
  };
  const total = Object.values(usd).reduce((a, b) => a + b, 0);
  const money = (value: number) => round(value, 6);
  return {
    recordsPerBatch: round(usage.records / usage.batches, 1),
    batchDurationMs: round(usage.meanBatchMs, 3),
    lambdaRequests: round(batchesPerMillion, 1),
    lambdaGbSeconds: round(gbSeconds, 3),
    dynamoDbWriteRequestUnits: round(writeUnits, 1),
    dynamoDbReadRequestUnits: round(readUnits, 1),
    stepFunctionsTransitions: round(transitions, 1),
    usd: {
      lambdaDuration: money(usd.lambdaDuration),
      lambdaRequests: money(usd.lambdaRequests),
      dynamoDbWrites: money(usd.dynamoDbWrites),
      dynamoDbReads: money(usd.dynamoDbReads),
      stepFunctions: money(usd.stepFunctions),
      total: money(total),
    },
  };
}

/** The cost section of the report: (a) against (c), with the price table and what was assumed. */
export interface CostReport {
  readonly prices: typeof PRICES;
  readonly assumptions: {
    lambdaMemoryMb: number;
    duration: string;
    requests: string;
    dynamoDb: string;
    stepFunctions: string;
  };
  readonly sequential: CostEstimate;
  readonly keyOrdered: CostEstimate;
  readonly keyOrderedToSequential: number;
}

/**
 * Prices (a) and (c) per million records: (a) uses no DynamoDB; (c) the request units of its timed runs. No Step
 * Functions transitions in steady state for either.
 */
export function costReport(
  options: BenchOptions,
  storeKind: string,
  measured: { sequential: RunResult; keyOrderedRuns: readonly RunResult[]; requests: DynamoDbTally },
): CostReport {
  const { sequential, keyOrderedRuns, requests } = measured;
  const sequentialCost = costPerMillionRecords(
    {
      records: sequential.records,
      batches: sequential.batches,
      meanBatchMs: sequential.meanBatchMs,
      readUnits: 0,
      writeUnits: 0,
      stateTransitions: 0,
    },
    options.lambdaMemoryMb,
  );
  const keyOrderedCost = costPerMillionRecords(
    {
      ...keyOrderedUsage(keyOrderedRuns),
      readUnits: requests.readUnits,
      writeUnits: requests.writeUnits,
      stateTransitions: 0,
    },
    options.lambdaMemoryMb,
  );
  return {
    prices: PRICES,
    assumptions: {
      lambdaMemoryMb: options.lambdaMemoryMb,
      duration: 'billed duration of a batch = its measured mean wall time on this machine, rounded up to 1 ms',
      requests: 'one Lambda request per batch (event) of one partition',
      dynamoDb: `request units measured in run (c) on ${storeKind}; the sequential handler uses no DynamoDB`,
      stepFunctions: 'zero in steady state: state machines run only for a split, merge or scale',
    },
    sequential: sequentialCost,
    keyOrdered: keyOrderedCost,
    keyOrderedToSequential: round(keyOrderedCost.usd.total / sequentialCost.usd.total, 4),
  };
}

/** Records, batches and the mean batch time over the (c) runs (weighted by their batches). */
function keyOrderedUsage(runs: readonly RunResult[]): Pick<UsageInput, 'records' | 'batches' | 'meanBatchMs'> {
  const batches = sum(runs.map((r) => r.batches));
  return {
    records: sum(runs.map((r) => r.records)),
    batches,
    meanBatchMs: sum(runs.map((r) => r.meanBatchMs * r.batches)) / batches,
  };
}
