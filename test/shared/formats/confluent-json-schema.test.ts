import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confluentRegistry } from '../../../shared/formats/confluent-registry.js';
import { jsonSchema } from '../../../shared/formats/json-schema.js';
import { DecodeFailure } from '../../../shared/formats/record-decode-error.js';
import { decodeError, LocalConfluentRegistry } from '../../support/schema-registry.js';

const ORDER_SCHEMA = JSON.stringify({
  type: 'object',
  properties: { id: { type: 'string' }, amount: { type: 'integer', minimum: 0 } },
  required: ['id', 'amount'],
});

let registry: LocalConfluentRegistry;
beforeAll(async () => {
  registry = await LocalConfluentRegistry.start();
});
afterAll(() => registry.close());

describe('jsonSchema() with a Confluent registry', () => {
  it('decodes JSON the Confluent client framed and validates it against the writer schema', async () => {
    const id = registry.add(ORDER_SCHEMA, 'JSON');
    const bytes = await registry.producerClient().encode(id, { id: 'o-1', amount: 3 });
    const format = jsonSchema<{ id: string; amount: number }>({ registry: confluentRegistry({ url: registry.url }) });

    const decoded = await format.decode(bytes);

    expect(decoded).toEqual({
      value: { id: 'o-1', amount: 3 },
      schema: { id, format: 'json-schema', registry: 'confluent' },
    });
  });

  it('refuses a value the schema does not allow as DESERIALIZATION_ERROR, naming where', async () => {
    const id = registry.add(ORDER_SCHEMA, 'JSON');
    const header = Buffer.from([0, 0, 0, 0, id]);
    const format = jsonSchema({ registry: confluentRegistry({ url: registry.url }) });

    const invalid = await decodeError(() =>
      format.decode(Buffer.concat([header, Buffer.from('{"id":"o","amount":-1}')])),
    );
    const notJson = await decodeError(() => format.decode(Buffer.concat([header, Buffer.from('{"id":')])));

    expect(invalid).toMatchObject({ code: DecodeFailure.Deserialization, retriable: false, schemaId: id });
    expect(invalid.message).toContain('/amount');
    expect(notJson).toMatchObject({ code: DecodeFailure.Deserialization, schemaId: id });
  });

  it('needs a registry', () => {
    expect(() => jsonSchema({} as never)).toThrow('jsonSchema() needs { registry }');
  });
});
