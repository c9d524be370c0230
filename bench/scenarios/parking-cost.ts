/**
 * What parking dead letters costs in DynamoDB requests, on the real token store only: the transaction that writes
 * the letters with the checkpoint is the cost, and the in-memory store has none.
 */
import { Dispatcher } from '../../shared/processing/dispatcher.js';
import { NonRetriableError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { defineProcessor } from '../../shared/processing/processor.js';
import { InlineRunner } from '../../shared/processing/segment-runner.js';
import type { TokenStore } from '../../shared/tokens/token-store.js';
import type { DynamoDbCounter } from '../instruments/dynamodb-requests.js';
import { ordersEvent } from '../workload.js';

/** DynamoDB requests of one batch, averaged over the measured batches. */
export interface BatchCost {
  readonly batches: number;
  readonly writesPerBatch: number;
  readonly writeUnitsPerBatch: number;
  readonly readsPerBatch: number;
  readonly byOperation: Record<string, number>;
}

/** What parking costs: the same batches with nothing parked and with 1% of their records parked. */
export interface ParkingCost {
  readonly recordsPerBatch: number;
  readonly parkedPerBatch: number;
  readonly nothingParked: BatchCost;
  readonly onePercentParked: BatchCost;
}

/** One record in this many fails for good once parking is on: 1% of a batch. */
const PARK_EVERY = 100;

/** Dispatches one batch of a partition's records from offset `from` on. */
type BatchRunner = (partition: number, from: number) => ReturnType<Dispatcher['dispatch']>;

/**
 * Measures the DynamoDB requests of a batch on the real token store: a warm partition (claimed and checkpointed
 * once before, so no first-claim registration is counted), one batch each, nothing parked, then 1% of the records
 * failing with NonRetriableError (each its own key, so each parks a new key).
 */
export async function measureParkingCost(env: {
  store: TokenStore;
  dynamoDb: DynamoDbCounter;
  progress?: (message: string) => void;
  batches?: number;
  recordsPerBatch?: number;
}): Promise<ParkingCost> {
  const batches = env.batches ?? 20;
  const size = env.recordsPerBatch ?? 1_000;
  const parking = { on: false };
  const run = parkingDispatcher(env.store, size, parking);
  const measure = async (label: string, parked: boolean) => {
    const cost = await measureBatches(run, env.dynamoDb, { label, batches, size, parked, parking });
    env.progress?.(`parking cost, ${label}: ${cost.writesPerBatch} writes per batch`);
    return cost;
  };
  const nothingParked = await measure('nothing parked', false);
  const onePercentParked = await measure('1% parked', true);
  return { recordsPerBatch: size, parkedPerBatch: size / PARK_EVERY, nothingParked, onePercentParked };
}

function parkingDispatcher(store: TokenStore, size: number, parking: { on: boolean }): BatchRunner {
  const processor = defineProcessor({
    name: `bench-parking-${Date.now().toString(36)}`,
    topics: ['orders'],
    concurrency: 100,
    handler: (record) => {
      // Only the measured batches (offsets from `size` on) park: the warm-up batches must checkpoint cleanly.
      if (parking.on && record.offset >= size && record.offset % PARK_EVERY === 0) {
        throw new NonRetriableError('bench: parked');
      }
    },
  });
  const dispatcher = new Dispatcher({
    processor,
    store,
    runner: new InlineRunner({ clock: Date.now }),
    logger: silentLogger,
  });
  // Each record its own key, so each parked record parks a new key.
  return (partition, from) =>
    dispatcher.dispatch(
      ordersEvent(partition, from, size, (i) => `key-${from + i}`),
      { remainingMs: () => 60_000 },
    );
}

/** One measured batch on each of `batches` partitions of their own, after a warm-up batch on each. */
async function measureBatches(
  run: BatchRunner,
  dynamoDb: DynamoDbCounter,
  plan: { label: string; batches: number; size: number; parked: boolean; parking: { on: boolean } },
): Promise<BatchCost> {
  const { batches, size } = plan;
  const base = plan.parked ? batches : 0;
  // Warm-up: each partition's first batch registers it; not counted.
  for (let i = 0; i < batches; i++) await run(base + i, 0);
  dynamoDb.reset();
  plan.parking.on = plan.parked;
  for (let i = 0; i < batches; i++) {
    const result = await run(base + i, size);
    if (result.response.batchItemFailures.length > 0) throw new Error(`bench: ${plan.label} batch was handed back`);
  }
  const tally = dynamoDb.tally();
  const per = (n: number) => Math.round((n / batches) * 1000) / 1000;
  return {
    batches,
    writesPerBatch: per(tally.writeRequests),
    writeUnitsPerBatch: per(tally.writeUnits),
    readsPerBatch: per(tally.readRequests),
    byOperation: Object.fromEntries(Object.entries(tally.byOperation).map(([op, n]) => [op, per(n)])),
  };
}
