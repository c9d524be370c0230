/**
 * `npm start`: a small end-to-end run of the core against DynamoDB Local. It generates keyed order events on
 * several partitions, delivers them in batches the way Lambda's Kafka event source does (one batch per partition
 * at a time, resuming from the first reported offset, with duplicate deliveries and redeliveries after a
 * "rebalance"), lets the handler fail now and then, and ends with a verification summary. Exit code 0 only if
 * nothing was lost, nothing checkpointed was handled again and every key stayed in order.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  createTokenTable,
  defineProcessor,
  Dispatcher,
  DynamoDbTokenStore,
  InlineRunner,
  KafkaRecord,
  silentLogger,
  type RawKafkaEvent,
} from '../shared/index.js';
import { toRawRecord } from '../shared/fan-out.js';
import { localClientConfig, startDynamoDbLocal } from './lib/dynamodb-local.js';

const { values: flags } = parseArgs({
  options: {
    partitions: { type: 'string', default: '4' },
    records: { type: 'string', default: '2000' },
    keys: { type: 'string', default: '200' },
    segments: { type: 'string', default: '4' },
    'failure-rate': { type: 'string', default: '0.02' },
    'batch-size': { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
  },
});
const partitions = Number(flags.partitions);
const perPartition = Math.ceil(Number(flags.records) / partitions);
const keys = Number(flags.keys);
const failureRate = Number(flags['failure-rate']);
const batchSize = Number(flags['batch-size']);

// A deterministic pseudo-random source, so a run can be repeated.
let seed = 42;
const random = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);

const log = Array.from({ length: partitions }, (_, partition) =>
  Array.from({ length: perPartition }, (_, offset) =>
    toRawRecord(
      new KafkaRecord({
        topic: 'orders',
        partition,
        offset,
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key: Buffer.from(`order-${Math.floor(random() * keys)}`),
        value: Buffer.from(JSON.stringify({ type: 'OrderUpdated', seq: offset })),
        headers: [],
      }),
    ),
  ),
);

const handled = new Map<string, number>(); // topic-partition@offset -> successes
const lastOffsetByKey = new Map<string, number>();
let orderViolations = 0;
let attempts = 0;

const ddb = await startDynamoDbLocal();
try {
  const client = new DynamoDBClient(localClientConfig(ddb.endpoint));
  await createTokenTable(client, 'tidemark-demo');
  const store = new DynamoDbTokenStore({ tableName: 'tidemark-demo', client });
  const processor = defineProcessor({
    name: 'order-projection',
    topics: ['orders'],
    concurrency: Number(flags.concurrency),
    initialSegments: Number(flags.segments),
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
    handler: async (record, context) => {
      attempts++;
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (random() < failureRate) throw new Error('simulated downstream failure');
      const id = `${record.topicPartition}@${record.offset}`;
      const keyId = `${record.topicPartition}/${context.sequencingKey}`;
      if ((lastOffsetByKey.get(keyId) ?? -1) > record.offset) orderViolations++;
      lastOffsetByKey.set(keyId, record.offset);
      handled.set(id, (handled.get(id) ?? 0) + 1);
    },
  });
  // Two "containers", so duplicate deliveries really run concurrently.
  const containers = [0, 1].map(
    () => new Dispatcher({ processor, store, runner: new InlineRunner({ clock: Date.now }), logger: silentLogger }),
  );

  const committed = log.map(() => 0);
  const started = Date.now();
  let batches = 0;
  let duplicates = 0;
  let redeliveries = 0;
  const deliver = async (partition: number) => {
    while (committed[partition]! < perPartition) {
      // A rebalance now and then: the new poller starts a little before the committed offset.
      const rewind = random() < 0.05 ? Math.floor(random() * batchSize) : 0;
      if (rewind) redeliveries++;
      const from = Math.max(0, committed[partition]! - rewind);
      const records = log[partition]!.slice(from, from + batchSize);
      const event: RawKafkaEvent = {
        eventSource: 'aws:kafka',
        eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/demo/1',
        bootstrapServers: 'localhost:9092',
        records: { [`orders-${partition}`]: records },
      };
      const duplicate = random() < 0.05;
      if (duplicate) duplicates++;
      const results = await Promise.all(
        (duplicate ? containers : containers.slice(partition % 2, partition % 2 + 1)).map((c) =>
          c.dispatch(event, { remainingMs: () => 60_000 }),
        ),
      );
      batches++;
      const failure = results[0]!.response.batchItemFailures[0];
      committed[partition] = failure ? failure.itemIdentifier.offset : from + records.length;
    }
  };
  const progress = setInterval(() => {
    const done = committed.reduce((a, b) => a + b, 0);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `  ${seconds.toFixed(1)}s  committed ${done}/${perPartition * partitions}  handled ${handled.size}  ${(handled.size / seconds).toFixed(0)} records/s  lag ${committed.map((c) => perPartition - c).join('/')}`,
    );
  }, 1000);
  await Promise.all(log.map((_, partition) => deliver(partition)));
  clearInterval(progress);

  const state = await store.readState('order-projection');
  const produced = perPartition * partitions;
  const lost = produced - handled.size;
  const handledAgain = [...handled.values()].filter((n) => n > 1).length;
  console.log('\nSegments:', state.layout.segments.map((s) => `${s.id}/${s.mask}`).join(' '));
  for (const p of state.partitions) {
    console.log(`  ${p.topic}-${p.partition}: next ${p.token.lowWatermark()}, cells ${p.token.cells.length}, epoch ${p.epoch}`);
  }
  const summary = { produced, handled: handled.size, attempts, batches, duplicates, redeliveries, lost, handledAgainAfterCheckpoint: handledAgain, orderViolations };
  console.log('\nVerification:', JSON.stringify(summary));
  process.exitCode = lost === 0 && handledAgain === 0 && orderViolations === 0 ? 0 : 1;
} finally {
  await ddb.stop();
}
