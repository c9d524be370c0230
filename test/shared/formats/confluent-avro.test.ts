import avsc from 'avsc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { avro } from '../../../shared/formats/avro.js';
import { confluentRegistry } from '../../../shared/formats/confluent-registry.js';
import { DecodeFailure } from '../../../shared/formats/record-decode-error.js';
import { decodeError, LocalConfluentRegistry } from '../../support/schema-registry.js';

const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'int' },
  ],
} as const;

/** v2 adds a field with a default: backward compatible (a v2 reader reads v1 records). */
const orderV2 = {
  ...orderV1,
  fields: [...orderV1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
} as const;

/** A reader that needs a field v1 never wrote, without a default: v1 records cannot be resolved to it. */
const orderNeedsCustomer = {
  ...orderV1,
  fields: [...orderV1.fields, { name: 'customer', type: 'string' }],
} as const;

const avroType = (schema: object) => avsc.Type.forSchema(schema as avsc.Schema);

let registry: LocalConfluentRegistry;
beforeAll(async () => {
  registry = await LocalConfluentRegistry.start();
});
afterAll(() => registry.close());
afterEach(() => {
  registry.mode = 'up';
});

describe('avro() with a Confluent registry', () => {
  it('decodes records the Confluent client encoded, with the schema id and record name for the context', async () => {
    const id = registry.add(orderV1);
    const bytes = await registry.producerClient().encode(id, { id: 'o-1', amount: 250 });
    const format = avro({ registry: confluentRegistry({ url: registry.url }) });

    const decoded = await format.decode(bytes);

    expect({ ...(decoded.value as object) }).toEqual({ id: 'o-1', amount: 250 });
    expect(decoded.schema).toEqual({ id, format: 'avro', registry: 'confluent', name: 'shop.Order' });
  });

  it('reads a v1 record with a v2 reader schema: the added field takes its default', async () => {
    const v1 = registry.add(orderV1);
    const v2 = registry.add(orderV2);
    const producer = registry.producerClient();
    const format = avro<{ id: string; amount: number; currency: string }>({
      registry: confluentRegistry({ url: registry.url }),
      schema: orderV2,
    });

    const old = await format.decode(await producer.encode(v1, { id: 'o-1', amount: 1 }));
    const current = await format.decode(await producer.encode(v2, { id: 'o-2', amount: 2, currency: 'USD' }));

    expect({ ...old.value }).toEqual({ id: 'o-1', amount: 1, currency: 'EUR' });
    expect(old.schema?.id).toBe(v1);
    expect({ ...current.value }).toEqual({ id: 'o-2', amount: 2, currency: 'USD' });
    expect(current.schema?.id).toBe(v2);
  });

  it('reads a v2 record with a v1 reader schema: the field the reader lacks is skipped', async () => {
    const v2 = registry.add(orderV2);
    const format = avro({ registry: confluentRegistry({ url: registry.url }), schema: orderV1 });

    const decoded = await format.decode(
      await registry.producerClient().encode(v2, { id: 'o-3', amount: 3, currency: 'GBP' }),
    );

    expect({ ...(decoded.value as object) }).toEqual({ id: 'o-3', amount: 3 });
  });

  it('refuses a writer schema the reader cannot be resolved from (SCHEMA_MISMATCH, not retriable)', async () => {
    const v1 = registry.add(orderV1);
    const format = avro({ registry: confluentRegistry({ url: registry.url }), schema: orderNeedsCustomer });

    const bytes = await registry.producerClient().encode(v1, { id: 'o', amount: 1 });

    const error = await decodeError(() => format.decode(bytes));

    expect(error).toMatchObject({ code: DecodeFailure.SchemaMismatch, retriable: false, schemaId: v1 });
    expect(error.message).toContain(`writer schema ${v1} cannot be read with the reader schema`);
  });

  it('asks the registry once per schema id across many records, concurrent ones included', async () => {
    const v1 = registry.add(orderV1);
    const v2 = registry.add(orderV2);
    const producer = registry.producerClient();
    const records = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        producer.encode(i % 2 ? v1 : v2, { id: `o-${i}`, amount: i, ...(i % 2 ? {} : { currency: 'EUR' }) }),
      ),
    );
    const before = [registry.fetchesOf(v1), registry.fetchesOf(v2)];
    const format = avro({ registry: confluentRegistry({ url: registry.url }), schema: orderV2 });

    const first = await Promise.all(records.slice(0, 100).map((r) => format.decode(r)));
    const rest = [];
    for (const r of records.slice(100)) rest.push(await format.decode(r));

    expect([...first, ...rest].map((d) => (d.value as { id: string }).id)).toEqual(records.map((_, i) => `o-${i}`));
    expect([registry.fetchesOf(v1) - before[0]!, registry.fetchesOf(v2) - before[1]!]).toEqual([1, 1]);
  });

  it('gives an unknown id as SCHEMA_NOT_FOUND, not retriable, and remembers it for a while', async () => {
    let now = 0;
    const format = avro({
      registry: confluentRegistry({ url: registry.url, notFoundTtlMs: 1_000, clock: () => now }),
      schema: orderV1,
    });
    const unknown = Buffer.from([0, 0, 0, 0x30, 0x39, 0x02, 0x61, 0x02]); // id 12345

    const errors = [];
    for (let i = 0; i < 5; i++) errors.push(await decodeError(() => format.decode(unknown)));
    now = 1_001;
    await decodeError(() => format.decode(unknown));

    expect(errors[0]).toMatchObject({ code: DecodeFailure.SchemaNotFound, retriable: false, schemaId: 12345 });
    expect(errors[0]!.message).toContain(`schema id 12345 is not in the registry at ${registry.url}`);
    expect(registry.fetchesOf(12345)).toBe(2);
  });

  it('gives a registry that is down as REGISTRY_UNAVAILABLE, retriable, and asks again on the next attempt', async () => {
    const v1 = registry.add(orderV1);
    const bytes = await registry.producerClient().encode(v1, { id: 'o-1', amount: 1 });
    const format = avro({ registry: confluentRegistry({ url: registry.url, retries: 0 }) });
    registry.mode = 'down';

    const error = await decodeError(() => format.decode(bytes));
    registry.mode = 'up';
    const decoded = await format.decode(bytes);

    expect(error).toMatchObject({ code: DecodeFailure.RegistryUnavailable, retriable: true, schemaId: v1 });
    expect({ ...(decoded.value as object) }).toEqual({ id: 'o-1', amount: 1 });
  });

  it('treats a 404 that is not the registry answering (a proxy, a wrong URL) as unavailable, not as an unknown id', async () => {
    const v1 = registry.add(orderV1);
    const bytes = await registry.producerClient().encode(v1, { id: 'o-1', amount: 1 });
    registry.mode = 'not-a-registry';

    const error = await decodeError(() =>
      avro({ registry: confluentRegistry({ url: registry.url, retries: 0 }) }).decode(bytes),
    );

    expect(error).toMatchObject({ code: DecodeFailure.RegistryUnavailable, retriable: true });
  });

  it('gives a registry nobody listens on as REGISTRY_UNAVAILABLE', async () => {
    const format = avro({ registry: confluentRegistry({ url: 'http://127.0.0.1:1', retries: 0 }) });

    const error = await decodeError(() => format.decode(Buffer.from([0, 0, 0, 0, 1, 0])));

    expect(error).toMatchObject({ code: DecodeFailure.RegistryUnavailable, retriable: true, schemaId: 1 });
  });

  it.each([
    ['a wrong magic byte', Buffer.from('{"id":"o-1"}'), 'magic byte is 0x7b, Confluent framing starts with 0x00'],
    ['a truncated header', Buffer.from([0, 0, 0]), '3 byte(s) are too short for Confluent framing'],
    ['an empty value', Buffer.alloc(0), '0 byte(s) are too short'],
    ['schema id 0', Buffer.from([0, 0, 0, 0, 0, 2]), 'schema id 0 is not a registry id'],
  ])('refuses %s as DESERIALIZATION_ERROR without asking the registry', async (_, bytes, message) => {
    const before = registry.requests.length;

    const error = await decodeError(() => avro({ registry: confluentRegistry({ url: registry.url }) }).decode(bytes));

    expect(error).toMatchObject({ code: DecodeFailure.Deserialization, retriable: false });
    expect(error.message).toContain(message);
    expect(registry.requests.length).toBe(before);
  });

  it('refuses a truncated payload as DESERIALIZATION_ERROR', async () => {
    const v1 = registry.add(orderV1);
    const bytes = await registry.producerClient().encode(v1, { id: 'order-with-a-long-id', amount: 1 });

    const error = await decodeError(() =>
      avro({ registry: confluentRegistry({ url: registry.url }) }).decode(bytes.subarray(0, bytes.length - 4)),
    );

    expect(error).toMatchObject({ code: DecodeFailure.Deserialization, retriable: false, schemaId: v1 });
    expect(error.message).toContain('the bytes are not Avro of the schema');
  });

  it('refuses an id that holds another format (SCHEMA_MISMATCH)', async () => {
    const protoId = registry.add('syntax = "proto3"; message Order { string id = 1; }', 'PROTOBUF');
    const bytes = Buffer.from([0, 0, 0, 0, protoId, 0x0a, 0x01, 0x61]);

    const error = await decodeError(() => avro({ registry: confluentRegistry({ url: registry.url }) }).decode(bytes));

    expect(error).toMatchObject({ code: DecodeFailure.SchemaMismatch, retriable: false });
    expect(error.message).toContain(
      `schema ${protoId} in the confluent registry is protobuf, but the decoder reads avro`,
    );
  });
});

describe('avro() without a registry', () => {
  it('decodes plain Avro binary with the schema given in code, parsed once', async () => {
    const type = avroType(orderV1);
    const format = avro<{ id: string; amount: number }>({ schema: orderV1 });

    const decoded = await format.decode(type.toBuffer({ id: 'o-9', amount: 9 }));

    expect({ ...decoded.value }).toEqual({ id: 'o-9', amount: 9 });
    expect(decoded.schema).toBeUndefined();
  });

  it('refuses trailing bytes as DESERIALIZATION_ERROR', async () => {
    const bytes = Buffer.concat([avroType(orderV1).toBuffer({ id: 'o', amount: 1 }), Buffer.from([1])]);

    const error = await decodeError(() => avro({ schema: orderV1 }).decode(bytes));

    expect(error).toMatchObject({ code: DecodeFailure.Deserialization, format: 'avro' });
  });

  it('refuses a definition without schema or registry, and a schema that is not Avro, naming what was wrong', () => {
    expect(() => avro({})).toThrow('avro() needs a schema (plain Avro) or a registry (framed records), got neither');
    expect(() =>
      avro({ schema: { type: 'record', name: 'X', fields: [{ name: 'a', type: 'nope' }] } as never }),
    ).toThrow(/avro\(\): schema is not a valid Avro schema: .*nope/);
    expect(() => confluentRegistry({ url: 'registry:8081' })).toThrow(
      `confluentRegistry: url must be the registry's http(s) base URL such as https://registry:8081, got "registry:8081"`,
    );
  });
});
