import { Dispatcher } from '../shared/processing/dispatcher.js';
import { NonRetriableError } from '../shared/errors.js';
import { toRawRecord } from '../shared/processing/fan-out.js';
import type { RawKafkaEvent } from '../shared/kafka/kafka-event.js';
import { KafkaRecord } from '../shared/kafka/kafka-record.js';
import { silentLogger } from '../shared/observability/logger.js';
import { defineProcessor } from '../shared/processing/processor.js';
import { InlineRunner } from '../shared/processing/segment-runner.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import type { DynamoDbTally } from './instruments.js';

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

/**
 * Measures the DynamoDB requests of a batch on the real token store: a warm partition (claimed and checkpointed
 * once before, so no first-claim registration is counted), one batch each, nothing parked, then 1% of the records
 * failing with NonRetriableError (each its own key, so each parks a new key).
 */
export async function measureParkingCost(env: {
  store: TokenStore;
  dynamoDb: { tally: () => DynamoDbTally; reset: () => void };
  progress?: (message: string) => void;
  batches?: number;
  recordsPerBatch?: number;
}): Promise<ParkingCost> {
  const batches = env.batches ?? 20;
  const size = env.recordsPerBatch ?? 1_000;
  const parkEvery = 100;
  const name = `bench-parking-${Date.now().toString(36)}`;
  let parkingOn = false;
  const processor = defineProcessor({
    name,
    topics: ['orders'],
    concurrency: 100,
    handler: (record) => {
      if (parkingOn && record.offset >= size && record.offset % parkEvery === 0) {
        throw new NonRetriableError('bench: parked');
      }
    },
  });
  const dispatcher = new Dispatcher({
    processor,
    store: env.store,
    runner: new InlineRunner({ clock: Date.now }),
    logger: silentLogger,
  });
  const run = (partition: number, from: number) =>
    dispatcher.dispatch(eventOf(partition, from, size), { remainingMs: () => 60_000 });
  const measure = async (label: string, parking: boolean): Promise<BatchCost> => {
    const base = parking ? batches : 0;
    // Warm-up: each partition's first batch registers it; not counted.
    for (let i = 0; i < batches; i++) await run(base + i, 0);
    env.dynamoDb.reset();
    parkingOn = parking;
    for (let i = 0; i < batches; i++) {
      const result = await run(base + i, size);
      if (result.response.batchItemFailures.length > 0) throw new Error(`bench: ${label} batch was handed back`);
    }
    const tally = env.dynamoDb.tally();
    const per = (n: number) => Math.round((n / batches) * 1000) / 1000;
    env.progress?.(`parking cost, ${label}: ${per(tally.writeRequests)} writes per batch`);
    return {
      batches,
      writesPerBatch: per(tally.writeRequests),
      writeUnitsPerBatch: per(tally.writeUnits),
      readsPerBatch: per(tally.readRequests),
      byOperation: Object.fromEntries(Object.entries(tally.byOperation).map(([op, n]) => [op, per(n)])),
    };
  };
  const nothingParked = await measure('nothing parked', false);
  const onePercentParked = await measure('1% parked', true);
  return { recordsPerBatch: size, parkedPerBatch: size / parkEvery, nothingParked, onePercentParked };
}

/** One partition's records `[from, from + count)`, each with a key of its own. */
function eventOf(partition: number, from: number, count: number): RawKafkaEvent {
  const records = Array.from({ length: count }, (_, i) =>
    toRawRecord(
      new KafkaRecord({
        topic: 'orders',
        partition,
        offset: from + i,
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key: Buffer.from(`key-${from + i}`),
        value: Buffer.from('{"type":"OrderUpdated"}'),
        headers: [],
      }),
    ),
  );
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/bench/abc',
    bootstrapServers: 'b-1.bench:9098',
    records: { [`orders-${partition}`]: records },
  };
}
