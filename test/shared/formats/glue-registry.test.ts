import avsc from 'avsc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { avro } from '../../../shared/formats/avro.js';
import { glueRegistry, uuidOf } from '../../../shared/formats/glue-registry.js';
import { jsonSchema } from '../../../shared/formats/json-schema.js';
import { DecodeFailure } from '../../../shared/formats/record-decode-error.js';
import { decodeError, glueFramed, LocalGlueRegistry } from '../../support/schema-registry.js';

const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [{ name: 'id', type: 'string' }],
} as const;
const orderV2 = { ...orderV1, fields: [...orderV1.fields, { name: 'priority', type: 'int', default: 0 }] } as const;
const avroOf = (schema: object, value: object) => avsc.Type.forSchema(schema as avsc.Schema).toBuffer(value);

let glue: LocalGlueRegistry;
beforeAll(async () => {
  glue = await LocalGlueRegistry.start();
});
afterAll(() => glue.close());
afterEach(() => {
  glue.mode = 'up';
});

describe('Glue Schema Registry framing', () => {
  it('names the schema version by the UUID its 16 bytes spell', () => {
    const bytes = Buffer.from('b7b4a7f00000400080000000000000ff', 'hex');

    expect(uuidOf(bytes)).toBe('b7b4a7f0-0000-4000-8000-0000000000ff');
    expect(glueFramed('b7b4a7f0-0000-4000-8000-0000000000ff', Buffer.from([7])).toString('hex')).toBe(
      '0300b7b4a7f00000400080000000000000ff07',
    );
  });
});

describe('avro() with the Glue Schema Registry', () => {
  it('decodes uncompressed and zlib-compressed records, v1 and v2, with a v2 reader', async () => {
    const v1 = glue.add(orderV1);
    const v2 = glue.add(orderV2);
    const format = avro<{ id: string; priority: number }>({
      registry: glueRegistry({ client: glue.client() }),
      schema: orderV2,
    });

    const decoded = await Promise.all([
      format.decode(glueFramed(v1, avroOf(orderV1, { id: 'o-1' }))),
      format.decode(glueFramed(v1, avroOf(orderV1, { id: 'o-2' }), { zlib: true })),
      format.decode(glueFramed(v2, avroOf(orderV2, { id: 'o-3', priority: 2 }), { zlib: true })),
    ]);

    expect(decoded.map((d) => ({ ...d.value }))).toEqual([
      { id: 'o-1', priority: 0 },
      { id: 'o-2', priority: 0 },
      { id: 'o-3', priority: 2 },
    ]);
    expect(decoded[2]!.schema).toEqual({ id: v2, format: 'avro', registry: 'glue', name: 'shop.Order' });
  });

  it('calls GetSchemaVersion once per version id across many records', async () => {
    const v1 = glue.add(orderV1);
    const format = avro({ registry: glueRegistry({ client: glue.client() }) });
    const records = Array.from({ length: 50 }, (_, i) => glueFramed(v1, avroOf(orderV1, { id: `o-${i}` })));

    await Promise.all(records.slice(0, 25).map((r) => format.decode(r)));
    for (const r of records.slice(25)) await format.decode(r);

    expect(glue.fetchesOf(v1)).toBe(1);
    expect(glue.requests.every((r) => r.target === 'AWSGlue.GetSchemaVersion')).toBe(true);
  });

  it('gives an unknown version as SCHEMA_NOT_FOUND (EntityNotFoundException), not retriable', async () => {
    const unknown = '00000000-0000-4000-8000-000000000042';
    const format = avro({ registry: glueRegistry({ client: glue.client() }) });

    const error = await decodeError(() => format.decode(glueFramed(unknown, Buffer.from([2, 0x61]))));

    expect(error).toMatchObject({ code: DecodeFailure.SchemaNotFound, retriable: false, schemaId: unknown });
    expect(error.message).toContain(`schema version ${unknown} is not in the Glue Schema Registry`);
  });

  it('gives a throttled registry as REGISTRY_UNAVAILABLE, retriable, and fetches again once it answers', async () => {
    const v1 = glue.add(orderV1);
    const record = glueFramed(v1, avroOf(orderV1, { id: 'o-1' }));
    const format = avro({ registry: glueRegistry({ client: glue.client() }) });
    glue.mode = 'down';

    const error = await decodeError(() => format.decode(record));
    glue.mode = 'up';
    const decoded = await format.decode(record);

    expect(error).toMatchObject({ code: DecodeFailure.RegistryUnavailable, retriable: true });
    expect(error.message).toContain('Rate exceeded');
    expect({ ...(decoded.value as object) }).toEqual({ id: 'o-1' });
    expect(glue.fetchesOf(v1)).toBe(2);
  });

  it.each([
    [
      'a wrong header version',
      (r: Buffer) => Buffer.concat([Buffer.from([2]), r.subarray(1)]),
      'header version byte is 2, Glue framing starts with 3',
    ],
    [
      'an unknown compression byte',
      (r: Buffer) => Buffer.concat([r.subarray(0, 1), Buffer.from([1]), r.subarray(2)]),
      'compression byte is 1, Glue uses 0 (none) or 5 (zlib)',
    ],
    ['a truncated header', (r: Buffer) => r.subarray(0, 10), '10 byte(s) are too short for Glue framing'],
    [
      'zlib bytes that do not inflate',
      (r: Buffer) => Buffer.concat([r.subarray(0, 1), Buffer.from([5]), r.subarray(2)]),
      'the zlib-compressed payload does not inflate',
    ],
  ])('refuses %s as DESERIALIZATION_ERROR without calling Glue', async (_, corrupt, message) => {
    const record = glueFramed(glue.add(orderV1), avroOf(orderV1, { id: 'o-1' }));
    const before = glue.requests.length;

    const error = await decodeError(() =>
      avro({ registry: glueRegistry({ client: glue.client() }) }).decode(corrupt(record)),
    );

    expect(error).toMatchObject({ code: DecodeFailure.Deserialization, retriable: false });
    expect(error.message).toContain(message);
    expect(glue.requests.length).toBe(before);
  });
});

describe('jsonSchema() with the Glue Schema Registry', () => {
  it('validates each value against the version’s JSON Schema', async () => {
    const id = glue.add(
      { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false },
      'JSON',
    );
    const format = jsonSchema<{ id: string }>({ registry: glueRegistry({ client: glue.client() }) });

    const good = await format.decode(glueFramed(id, Buffer.from('{"id":"o-1"}')));
    const bad = await decodeError(() => format.decode(glueFramed(id, Buffer.from('{"id":7}'))));

    expect(good).toEqual({ value: { id: 'o-1' }, schema: { id, format: 'json-schema', registry: 'glue' } });
    expect(bad).toMatchObject({ code: DecodeFailure.Deserialization, schemaId: id });
    expect(bad.message).toContain(`the value is not JSON valid against schema ${id}`);
  });
});
