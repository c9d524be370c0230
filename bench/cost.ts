/**
 * Cost per million records on AWS, from measured counts: Lambda duration (GB-s) and requests per batch, DynamoDB
 * on-demand request units, Step Functions state transitions.
 */
import { round } from './instruments.js';

/** The price table the estimate uses (printed in the JSON so the figures can be re-checked). */
export const PRICES = Object.freeze({
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
