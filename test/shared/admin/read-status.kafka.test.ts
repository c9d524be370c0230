import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminBackend } from '../../../shared/admin/admin-api.js';
import type { ProcessorStatus } from '../../../shared/admin/status-view.js';
import type { KafkaAdmin } from '../../../shared/kafka/kafka-admin.js';
import { createKafkaAdmin } from '../../../shared/kafka/kafkajs-admin.js';
import { call, testAdminBackend } from '../../support/admin.js';
import { dispatch, eventOf, testDispatcher, testProcessor, type LogRecord } from '../../support/harness.js';
import { startKafkaMock, type KafkaMock } from '../../support/kafka-mock.js';

// Record lag against librdkafka's mock cluster: the partitions' ends come from Kafka through the admin port, the
// positions from the token store, and the stall rule from the samples.

let mock: KafkaMock;
let producer: Producer;
let kafka: KafkaAdmin;
let backend: AdminBackend;

beforeAll(async () => {
  mock = await startKafkaMock({ topics: [{ topic: 'orders', partitions: 2 }] });
  producer = new Kafka({ clientId: 'status-test', brokers: mock.brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({
    topic: 'orders',
    messages: [
      ...Array.from({ length: 10 }, (_, i) => ({ partition: 0, key: `k${i % 3}`, value: '{}' })),
      ...Array.from({ length: 4 }, (_, i) => ({ partition: 1, key: `k${i % 3}`, value: '{}' })),
    ],
  });
  kafka = createKafkaAdmin({ brokers: mock.brokers });
  backend = await testAdminBackend({ kafka: () => Promise.resolve(kafka), stallWindowMs: 5 * 60_000 });
  await backend.tokens.initialise('orders-view', 2);
  // Partition 0 handled up to offset 5; partition 1 never delivered.
  const records: LogRecord[] = Array.from({ length: 6 }, (_, offset) => ({
    topic: 'orders',
    partition: 0,
    offset,
    key: `k${offset % 3}`,
  }));
  await dispatch(
    testDispatcher(testProcessor({ handler: () => {}, initialSegments: 2 }), backend.tokens),
    eventOf(records),
  );
}, 60_000);

afterAll(async () => {
  await producer?.disconnect();
  await kafka?.close();
  await mock?.stop();
});

describe('status against a Kafka cluster', () => {
  it('gives lag in records from the partitions’ ends, counting a partition never delivered from its start', async () => {
    const { body } = await call(backend, 'GET', '/api/processors/orders-view/status');
    const view = body as unknown as ProcessorStatus;
    expect(view.lagUnavailable).toBeNull();
    expect(view.partitions.map((p) => [p.id, p.position, p.highWater, p.recordLag])).toEqual([
      ['orders-0', 6, 10, 4],
      ['orders-1', null, 4, 4],
    ]);
    expect(view.totals.recordLag).toBe(8);
    // Each half of the hash space: half of the records after its position, in both partitions.
    expect(view.layout.segments.map((s) => s.recordLag)).toEqual([4, 4]);
  });

  it('calls a partition stalled when its position has not moved, with lag, over the window', async () => {
    const now = Date.now();
    for (const minutesAgo of [6, 3]) {
      await backend.lagHistory.write('orders-view', {
        at: now - minutesAgo * 60_000,
        partitions: {
          'orders-0': { position: 6, recordLag: 4, timeLagSeconds: 60 },
          'orders-1': { position: null, recordLag: 2, timeLagSeconds: null },
        },
      });
    }
    const { body } = await call(backend, 'GET', '/api/processors/orders-view/status');
    const view = body as unknown as ProcessorStatus;
    expect(view.partitions.map((p) => [p.id, p.stalled])).toEqual([
      ['orders-0', true],
      ['orders-1', true],
    ]);
    expect(view.totals.stalledPartitions).toBe(2);
    expect(view.warnings.filter((w) => w.kind === 'stalled').map((w) => w.partition)).toEqual([0, 1]);
    expect(view.lagHistory).toHaveLength(2);
  });

  it('says lag is unavailable, and still answers, when the cluster cannot be reached', async () => {
    const gone = await testAdminBackend({
      kafka: () => Promise.resolve(createKafkaAdmin({ brokers: ['127.0.0.1:1'] }, { kafkaLogLevel: 0 })),
    });
    await gone.tokens.initialise('orders-view', 2);
    const { status, body } = await call(gone, 'GET', '/api/processors/orders-view/status');
    expect(status).toBe(200);
    expect(String((body as unknown as ProcessorStatus).lagUnavailable)).toContain('the cluster did not answer');
  }, 60_000);
});
