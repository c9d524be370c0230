/**
 * The worker side of {@link PartitionPool}: one partition, its own token store client and warm consumer, the same
 * simulated handler and order tracker as the rest of the benchmark. Answers every "run" with one "done".
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { MemoryTokenStore } from '../shared/tokens/memory-token-store.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import { localClientConfig } from '../local/dynamodb-local.js';
import { LatencyRecorder } from './instruments/latency.js';
import { OrderTracker } from './instruments/order-tracker.js';
import type { PartitionRunRequest, PartitionWorkerMessage, PartitionWorkerSetup } from './partition-pool.js';
import { KeyOrderedConsumer, simulatedIoHandler } from './runs.js';
import { makePartitionLog } from './workload.js';

const setup = workerData as PartitionWorkerSetup;
const port = parentPort!;
const send = (message: PartitionWorkerMessage) => port.postMessage(message);
const now = () => performance.timeOrigin + performance.now();

const log = makePartitionLog({ partition: setup.partition, count: setup.records, keys: setup.keys, seed: setup.seed });
const store: TokenStore =
  setup.store.kind === 'dynamodb'
    ? new DynamoDbTokenStore({
        tableName: setup.store.tableName,
        client: new DynamoDBClient(localClientConfig(setup.store.endpoint)),
      })
    : new MemoryTokenStore();

// One warm consumer per processor, as the partition's Lambda execution environment stays warm between runs.
const consumers = new Map<string, KeyOrderedConsumer>();
const consumerFor = (processorName: string) => {
  let consumer = consumers.get(processorName);
  if (!consumer) {
    consumer = new KeyOrderedConsumer({
      concurrency: setup.concurrency,
      store,
      processorName,
      segments: setup.segments,
    });
    consumers.set(processorName, consumer);
  }
  return consumer;
};

port.on('message', (request: PartitionRunRequest) => {
  void (async () => {
    try {
      const tracker = new OrderTracker([log]);
      const startedAt = now();
      const delivered =
        request.records === undefined ? log : { ...log, records: log.records.slice(0, request.records) };
      const result = await consumerFor(request.processorName).run({
        logs: [delivered],
        batchSize: request.batchSize,
        handler: simulatedIoHandler(setup.latencyMs, tracker, new LatencyRecorder(1)),
      });
      send({ type: 'done', result, order: tracker.report(), startedAt, endedAt: now() });
    } catch (error) {
      send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  })();
});
send({ type: 'ready' });
