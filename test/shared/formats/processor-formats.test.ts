import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { avro } from '../../../shared/formats/avro.js';
import { confluentRegistry } from '../../../shared/formats/confluent-registry.js';
import { string } from '../../../shared/formats/plain-formats.js';
import type { RecordFormat, SchemaInfo } from '../../../shared/formats/record-format.js';
import { defineProcessor, routingKeyOf, type HandlerContext } from '../../../shared/processing/processor.js';
import { parseKafkaEvent } from '../../../shared/kafka/kafka-event.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import type { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { kafkaEvent, type TestRecord } from '../../../local/testing.js';
import { fanOutStack } from '../../support/fan-out.js';
import { dispatch, FAST_RETRY, testDispatcher } from '../../support/harness.js';
import { lambdaContext } from '../../support/lambda.js';
import { LocalConfluentRegistry } from '../../support/schema-registry.js';

interface Order {
  readonly id: string;
  readonly amount: number;
  readonly currency: string;
}

const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'int' },
  ],
} as const;
const orderV2 = { ...orderV1, fields: [...orderV1.fields, { name: 'currency', type: 'string', default: 'EUR' }] };

/** What the handler saw of one record. */
interface Seen {
  readonly offset: number;
  readonly key: string | undefined;
  readonly value: Order | null;
  readonly raw: Buffer | null;
  readonly schema: SchemaInfo | undefined;
  readonly sequencingKey: string;
}

let registry: LocalConfluentRegistry;
let v1: number;
let v2: number;
beforeAll(async () => {
  registry = await LocalConfluentRegistry.start();
  v1 = registry.add(orderV1);
  v2 = registry.add(orderV2);
});
afterAll(() => registry.close());
afterEach(() => {
  registry.mode = 'up';
});

/** An order-projection processor reading Avro values (reader v2) and string keys, recording what it was given. */
function orderProcessor(seen: Seen[], options: { retries?: number } = {}) {
  return defineProcessor({
    name: 'orders-view',
    topics: ['orders'],
    retry: FAST_RETRY,
    initialSegments: 4,
    key: string(),
    value: avro<Order>({
      registry: confluentRegistry({ url: registry.url, retries: options.retries ?? 0 }),
      schema: orderV2,
    }),
    handler: (record, context) => {
      // Typed by the formats: decodedKey is a string, decodedValue an Order.
      const key: string | undefined = record.decodedKey;
      const value: Order | null = record.decodedValue;
      // @ts-expect-error the value is typed by the format: an Order, not a number
      const wrong: number | null = record.decodedValue;
      void wrong;
      seen.push({
        offset: record.offset,
        key,
        value: value && { ...value },
        raw: record.value,
        schema: context.schema,
        sequencingKey: context.sequencingKey,
      });
    },
  });
}

async function encoded(id: number, value: object): Promise<Buffer> {
  return registry.producerClient().encode(id, value);
}

const at = (offset: number, key: string, value: Buffer | null): TestRecord => ({ offset, key, value });

describe('a processor with record formats, through the dispatcher', () => {
  it('hands the handler typed values and the writer schema in context, raw bytes still in record.value', async () => {
    const seen: Seen[] = [];
    const first = await encoded(v1, { id: 'o-1', amount: 5 });
    const second = await encoded(v2, { id: 'o-2', amount: 7, currency: 'USD' });
    const dispatcher = testDispatcher(orderProcessor(seen), new MemoryTokenStore());

    const result = await dispatch(dispatcher, kafkaEvent([at(0, 'a', first), at(1, 'b', second), at(2, 'a', null)]));

    expect(result.response.batchItemFailures).toEqual([]);
    expect(seen.sort((x, y) => x.offset - y.offset)).toEqual([
      {
        offset: 0,
        key: 'a',
        value: { id: 'o-1', amount: 5, currency: 'EUR' },
        raw: first,
        schema: { id: v1, format: 'avro', registry: 'confluent', name: 'shop.Order' },
        sequencingKey: 'a',
      },
      {
        offset: 1,
        key: 'b',
        value: { id: 'o-2', amount: 7, currency: 'USD' },
        raw: second,
        schema: { id: v2, format: 'avro', registry: 'confluent', name: 'shop.Order' },
        sequencingKey: 'b',
      },
      // A tombstone is not decoded: its value stays null and it names no schema.
      { offset: 2, key: 'a', value: null, raw: null, schema: undefined, sequencingKey: 'a' },
    ]);
  });

  it('parks an undecodable record at once with its raw bytes, its key’s later records behind it, while the rest go on', async () => {
    const seen: Seen[] = [];
    const store = new MemoryTokenStore();
    const unknownId = Buffer.from([0, 0, 0, 0x27, 0x0f, 0x02, 0x61, 0x02]); // schema id 9999
    const corrupt = Buffer.from('{"id":"o-3"}');
    const records = [
      at(0, 'a', await encoded(v1, { id: 'o-1', amount: 1 })),
      at(1, 'b', unknownId),
      at(2, 'c', corrupt),
      at(3, 'b', await encoded(v1, { id: 'o-4', amount: 4 })),
      at(4, 'a', await encoded(v2, { id: 'o-5', amount: 5, currency: 'EUR' })),
    ];
    const dispatcher = testDispatcher(orderProcessor(seen), store);

    const result = await dispatch(dispatcher, kafkaEvent(records));

    expect(result.response.batchItemFailures).toEqual([]);
    expect(result.partitions[0]).toMatchObject({ handled: 2, parked: 3, failed: 0 });
    expect(seen.map((s) => s.offset).sort()).toEqual([0, 4]);
    const letters = [...store.letters.values()].flatMap((byOffset) => [...byOffset.values()]);
    expect(
      letters
        .sort((x, y) => x.offset - y.offset)
        .map((l) => ({
          offset: l.offset,
          key: l.sequencingKey,
          reason: l.reason,
          value: l.value,
          error: l.error.name,
        })),
    ).toEqual([
      { offset: 1, key: 'b', reason: 'non-retriable', value: unknownId, error: 'RecordDecodeError' },
      { offset: 2, key: 'c', reason: 'non-retriable', value: corrupt, error: 'RecordDecodeError' },
      { offset: 3, key: 'b', reason: 'behind-parked', value: records[3]!.value, error: 'BehindParked' },
    ]);
    expect(letters.find((l) => l.offset === 1)!.error.message).toBe(
      `SCHEMA_NOT_FOUND: value of orders-0 offset 1: schema id 9999 is not in the registry at ${registry.url}`,
    );
    expect(letters.find((l) => l.offset === 2)!.error.message).toContain(
      'DESERIALIZATION_ERROR: value of orders-0 offset 2: magic byte is 0x7b',
    );
  });

  it('retries a record while the registry is down and reports it back instead of parking it; the redelivery decodes it', async () => {
    const seen: Seen[] = [];
    const store = new MemoryTokenStore();
    const processor = orderProcessor(seen);
    // A schema id this processor has not fetched yet.
    const fresh = registry.add(orderV1);
    const events = kafkaEvent([at(0, 'a', await encoded(fresh, { id: 'o-1', amount: 1 }))]);
    const fetchesBefore = registry.fetchesOf(fresh); // the producer's own
    registry.mode = 'down';

    const down = await dispatch(testDispatcher(processor, store), events);
    const fetchesWhileDown = registry.fetchesOf(fresh) - fetchesBefore;
    registry.mode = 'up';
    const again = await dispatch(testDispatcher(processor, store), events);

    expect(down.response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 0 } }]);
    expect(down.partitions[0]).toMatchObject({ handled: 0, parked: 0, failed: 1 });
    expect(fetchesWhileDown).toBe(FAST_RETRY.maxAttempts);
    expect(again.response.batchItemFailures).toEqual([]);
    expect(seen.map((s) => [s.offset, s.value])).toEqual([[0, { id: 'o-1', amount: 1, currency: 'EUR' }]]);
  });

  it('decodes in the segment worker in fan-out mode, and the dispatcher parks what the worker could not decode', async () => {
    const seen: Seen[] = [];
    const store = new MemoryTokenStore();
    const unknownId = Buffer.from([0, 0, 0, 0x27, 0x10, 0x02, 0x61, 0x02]); // schema id 10000
    const good = await encoded(v1, { id: 'o-1', amount: 1 });
    const { lambda, dispatch: dispatchFanOut } = fanOutStack({ processor: orderProcessor(seen), store });

    const response = await dispatchFanOut(kafkaEvent([at(0, 'a', good), at(1, 'b', unknownId)]), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(lambda.invocations.length).toBeGreaterThan(0);
    expect(seen.map((s) => [s.offset, s.value, s.schema?.id])).toEqual([
      [0, { id: 'o-1', amount: 1, currency: 'EUR' }, v1],
    ]);
    const letters = [...store.letters.values()].flatMap((byOffset) => [...byOffset.values()]);
    expect(letters.map((l) => [l.offset, l.reason, l.value, l.error.name])).toEqual([
      [1, 'non-retriable', unknownId, 'RecordDecodeError'],
    ]);
  });

  it('routes by the raw key bytes: a key format, even one mapping every key to one value, changes no route', async () => {
    const contexts = new Map<string, HandlerContext[]>();
    const record = (name: string) => (raw: KafkaRecord, context: HandlerContext) => {
      // @ts-expect-error a processor without formats hands over a KafkaRecord, which has no decoded value
      void raw.decodedValue;
      contexts.set(name, [...(contexts.get(name) ?? []), context]);
    };
    const everyKeyTheSame: RecordFormat<string> = { format: 'string', decode: () => ({ value: 'same' }) };
    const plain = defineProcessor({
      name: 'orders-view',
      topics: ['orders'],
      initialSegments: 8,
      handler: record('plain'),
    });
    const keyed = defineProcessor({
      name: 'orders-view',
      topics: ['orders'],
      initialSegments: 8,
      key: everyKeyTheSame,
      handler: record('keyed'),
    });
    const log = Array.from({ length: 40 }, (_, i) => ({
      topic: 'orders',
      partition: 0,
      offset: i,
      key: `key-${i % 13}`,
    }));

    await dispatch(testDispatcher(plain, new MemoryTokenStore()), kafkaEvent(log));
    await dispatch(testDispatcher(keyed, new MemoryTokenStore()), kafkaEvent(log));

    const routes = (name: string) =>
      contexts
        .get(name)!
        .map((c) => [c.offset, c.sequencingKey, c.segment])
        .sort((x, y) => (x[0] as number) - (y[0] as number));
    expect(routes('keyed')).toEqual(routes('plain'));
    expect(new Set(routes('keyed').map((r) => JSON.stringify(r[2]))).size).toBeGreaterThan(1);
    const parsed = parseKafkaEvent(kafkaEvent(log)).records.map((r) => routingKeyOf(keyed, r));
    expect(parsed).toEqual(log.map((r) => r.key));
  });

  it('refuses a format that is not one, naming the part', () => {
    expect(() =>
      defineProcessor({ name: 'orders-view', topics: ['orders'], value: string as never, handler: () => {} }),
    ).toThrow(
      'processor "orders-view": value must be a record format such as string(), json() or avro({...}), got a function (call it: string(), not string)',
    );
  });
});
