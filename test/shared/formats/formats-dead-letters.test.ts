import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaEvent } from '../../../local/testing.js';
import { Redriver } from '../../../shared/dead-letters/redriver.js';
import { avro } from '../../../shared/formats/avro.js';
import { confluentRegistry } from '../../../shared/formats/confluent-registry.js';
import { string } from '../../../shared/formats/plain-formats.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import { defineProcessor } from '../../../shared/processing/processor.js';
import { freshStores } from '../../support/dead-letters.js';
import { dispatch, FAST_RETRY, testDispatcher } from '../../support/harness.js';
import { LocalConfluentRegistry } from '../../support/schema-registry.js';

const order = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [{ name: 'id', type: 'string' }],
};
/** The id a producer used before the schema reached this registry (a registry restored late, another region). */
const LATE_ID = 77;

let registry: LocalConfluentRegistry;
beforeAll(async () => {
  registry = await LocalConfluentRegistry.start();
});
afterAll(() => registry.close());

describe('undecodable records on DynamoDB Local', () => {
  it('parks a record of an unknown schema with its raw bytes; once the schema exists the redrive decodes it in order', async () => {
    const { store, deadLetters } = await freshStores();
    const known = registry.add(order);
    const producer = registry.producerClient();
    const lateRecord = Buffer.concat([Buffer.from([0, 0, 0, 0, LATE_ID]), Buffer.from([0x06, 0x6f, 0x2d, 0x31])]); // "o-1"
    const handled: { offset: number; id: string; schemaId: unknown; redrive: boolean }[] = [];
    const processor = defineProcessor({
      name: 'orders-view',
      topics: ['orders'],
      retry: FAST_RETRY,
      key: string(),
      value: avro<{ id: string }>({
        registry: confluentRegistry({ url: registry.url, notFoundTtlMs: 0 }),
        schema: order,
      }),
      handler: (record, context) => {
        handled.push({
          offset: record.offset,
          id: record.decodedValue!.id,
          schemaId: context.schema?.id,
          redrive: context.redrive,
        });
      },
    });
    const events = kafkaEvent([
      { offset: 0, key: 'k', value: lateRecord },
      { offset: 1, key: 'j', value: await producer.encode(known, { id: 'o-2' }) },
      { offset: 2, key: 'k', value: await producer.encode(known, { id: 'o-3' }) },
    ]);

    const live = await dispatch(testDispatcher(processor, store), events);
    const [parked] = await deadLetters.listParkedKeys('orders-view');
    const ref = { processor: 'orders-view', topic: 'orders', partition: 0, digest: parked!.digest };
    const letters = await deadLetters.readLetters(ref);
    registry.put(LATE_ID, order);
    const redriven = await new Redriver({ processor, store, deadLetters, logger: silentLogger }).redriveKey(ref, {
      deadline: Date.now() + 60_000,
    });

    expect(live.response.batchItemFailures).toEqual([]);
    expect(live.partitions[0]).toMatchObject({ handled: 1, parked: 2 });
    expect(letters.map((l) => [l.offset, l.sequencingKey, l.reason, l.error.name])).toEqual([
      [0, 'k', 'non-retriable', 'RecordDecodeError'],
      [2, 'k', 'behind-parked', 'BehindParked'],
    ]);
    expect(letters[0]!.value).toEqual(lateRecord);
    expect(letters[0]!.error.message).toContain(`SCHEMA_NOT_FOUND: value of orders-0 offset 0: schema id ${LATE_ID}`);
    expect(redriven).toMatchObject({ outcome: 'drained', redriven: 2, key: 'k' });
    expect(handled).toEqual([
      { offset: 1, id: 'o-2', schemaId: known, redrive: false },
      { offset: 0, id: 'o-1', schemaId: LATE_ID, redrive: true },
      { offset: 2, id: 'o-3', schemaId: known, redrive: true },
    ]);
  });
});
