import protobufjs from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confluentRegistry } from '../../../shared/formats/confluent-registry.js';
import { glueRegistry } from '../../../shared/formats/glue-registry.js';
import { protobuf } from '../../../shared/formats/protobuf.js';
import { DecodeFailure } from '../../../shared/formats/record-decode-error.js';
import {
  confluentProtobuf,
  decodeError,
  glueFramed,
  glueProtobufPayload,
  LocalConfluentRegistry,
  LocalGlueRegistry,
} from '../../support/schema-registry.js';

/** v1 of the file. `Apple`, declared last, sorts first: Glue numbers messages by full name, Confluent by position. */
const SHOP_V1 = `syntax = "proto3";
package shop;
message Order {
  string id = 1;
  int64 amount = 2;
  message Line { string sku = 1; int32 qty = 2; }
  repeated Line lines = 3;
}
message Refund { string order_id = 1; int32 amount = 2; }
message Apple { string variety = 1; }
`;

/** v2 adds a field to Order. */
const SHOP_V2 = SHOP_V1.replace('repeated Line lines = 3;', 'repeated Line lines = 3;\n  string currency = 4;');

const v1 = protobufjs.parse(SHOP_V1).root;
const v2 = protobufjs.parse(SHOP_V2).root;
const encode = (root: protobufjs.Root, name: string, value: object) => {
  const type = root.lookupType(name);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
};
const plain = (message: unknown) => (message as protobufjs.Message).toJSON();

let confluent: LocalConfluentRegistry;
let glue: LocalGlueRegistry;
beforeAll(async () => {
  [confluent, glue] = await Promise.all([LocalConfluentRegistry.start(), LocalGlueRegistry.start()]);
});
afterAll(() => Promise.all([confluent.close(), glue.close()]));

describe('Confluent Protobuf framing', () => {
  it('is the Confluent client’s header, then the message indexes as zigzag varints, then the message', async () => {
    const id = confluent.add(SHOP_V1, 'PROTOBUF');
    const message = encode(v1, 'shop.Order', { id: 'o-1' });
    // The client encodes the file's first message with the header, but leaves the indexes out.
    const byClient = await confluent.producerClient().encode(id, { id: 'o-1' });

    expect(confluentProtobuf(id, [0], message)).toEqual(
      Buffer.concat([byClient.subarray(0, 5), Buffer.from([0]), byClient.subarray(5)]),
    );
    expect(confluentProtobuf(id, [1, 0], message).subarray(5, 8)).toEqual(Buffer.from([0x04, 0x02, 0x00]));
  });
});

describe('protobuf() with a Confluent registry', () => {
  it('decodes each message type the index path names: top level in declaration order, nested below', async () => {
    const id = confluent.add(SHOP_V1, 'PROTOBUF');
    const format = protobuf({ registry: confluentRegistry({ url: confluent.url }) });
    const order = { id: 'o-1', amount: '250', lines: [{ sku: 'a', qty: 2 }] };

    const decoded = await Promise.all([
      format.decode(confluentProtobuf(id, [0], encode(v1, 'shop.Order', order))),
      format.decode(confluentProtobuf(id, [0, 0], encode(v1, 'shop.Order.Line', { sku: 'b', qty: 1 }))),
      format.decode(confluentProtobuf(id, [1], encode(v1, 'shop.Refund', { orderId: 'o-1', amount: 5 }))),
      format.decode(confluentProtobuf(id, [2], encode(v1, 'shop.Apple', { variety: 'gala' }))),
    ]);

    expect(decoded.map((d) => [d.schema?.name, plain(d.value)])).toEqual([
      ['shop.Order', order],
      ['shop.Order.Line', { sku: 'b', qty: 1 }],
      ['shop.Refund', { orderId: 'o-1', amount: 5 }],
      ['shop.Apple', { variety: 'gala' }],
    ]);
    expect(decoded[0]!.schema).toEqual({ id, format: 'protobuf', registry: 'confluent', name: 'shop.Order' });
    expect(confluent.fetchesOf(id)).toBe(1);
  });

  it('reads v1 records with a v2 reader type and v2 records with a v1 reader type', async () => {
    const idV1 = confluent.add(SHOP_V1, 'PROTOBUF');
    const idV2 = confluent.add(SHOP_V2, 'PROTOBUF');
    const registry = confluentRegistry({ url: confluent.url });
    const readV2 = protobuf({
      registry,
      type: v2.lookupType('shop.Order'),
      toObject: { longs: String, defaults: true },
    });
    const readV1 = protobuf({ registry, type: v1.lookupType('shop.Order'), toObject: { longs: String } });

    const old = await readV2.decode(confluentProtobuf(idV1, [0], encode(v1, 'shop.Order', { id: 'o-1', amount: 7 })));
    const current = await readV1.decode(
      confluentProtobuf(idV2, [0], encode(v2, 'shop.Order', { id: 'o-2', amount: 8, currency: 'USD' })),
    );

    expect(old.value).toEqual({ id: 'o-1', amount: '7', lines: [], currency: '' });
    expect(current.value).toEqual({ id: 'o-2', amount: '8' });
    expect([old.schema?.id, current.schema?.id]).toEqual([idV1, idV2]);
  });

  it('refuses a record of another message than the reader type (SCHEMA_MISMATCH)', async () => {
    const id = confluent.add(SHOP_V1, 'PROTOBUF');
    const format = protobuf({ registry: confluentRegistry({ url: confluent.url }), type: v1.lookupType('shop.Order') });

    const error = await decodeError(() =>
      format.decode(confluentProtobuf(id, [1], encode(v1, 'shop.Refund', { orderId: 'o' }))),
    );

    expect(error).toMatchObject({ code: DecodeFailure.SchemaMismatch, retriable: false, schemaId: id });
    expect(error.message).toContain(`the record is a shop.Refund (schema ${id}), the decoder reads shop.Order`);
  });

  it('refuses indexes that point at no message, and indexes cut short', async () => {
    const id = confluent.add(SHOP_V1, 'PROTOBUF');
    const format = protobuf({ registry: confluentRegistry({ url: confluent.url }) });
    const header = confluentProtobuf(id, [0], Buffer.alloc(0)).subarray(0, 5);

    const missing = await decodeError(() => format.decode(confluentProtobuf(id, [7], Buffer.from([0x0a, 0x00]))));
    const cut = await decodeError(() => format.decode(Buffer.concat([header, Buffer.from([0x04, 0x02])])));

    expect(missing).toMatchObject({ code: DecodeFailure.SchemaMismatch });
    expect(missing.message).toContain(`schema ${id} has no message at index [7]`);
    expect(cut).toMatchObject({ code: DecodeFailure.Deserialization, retriable: false, schemaId: id });
    expect(cut.message).toContain('the Protobuf message indexes cannot be read');
  });

  it('refuses a message that does not parse (DESERIALIZATION_ERROR)', async () => {
    const id = confluent.add(SHOP_V1, 'PROTOBUF');
    const format = protobuf({ registry: confluentRegistry({ url: confluent.url }) });

    // Field 1 as a length-delimited string of 100 bytes, with 1 byte present.
    const error = await decodeError(() => format.decode(confluentProtobuf(id, [0], Buffer.from([0x0a, 100, 0x61]))));

    expect(error).toMatchObject({ code: DecodeFailure.Deserialization, schemaId: id });
    expect(error.message).toContain('the bytes are not a Protobuf shop.Order');
  });
});

describe('protobuf() with the Glue Schema Registry', () => {
  it('decodes by the message index Glue writes: every message of the file, sorted by full name', async () => {
    const versionId = glue.add(SHOP_V1, 'PROTOBUF');
    const format = protobuf({ registry: glueRegistry({ client: glue.client() }) });
    const record = (index: number, name: string, value: object, zlib = false) =>
      glueFramed(versionId, glueProtobufPayload(index, encode(v1, name, value)), { zlib });

    // Sorted: shop.Apple 0, shop.Order 1, shop.Order.Line 2, shop.Refund 3.
    const decoded = await Promise.all([
      format.decode(record(0, 'shop.Apple', { variety: 'gala' })),
      format.decode(record(1, 'shop.Order', { id: 'o-1' }, true)),
      format.decode(record(2, 'shop.Order.Line', { sku: 'x' })),
      format.decode(record(3, 'shop.Refund', { orderId: 'o-1' })),
    ]);

    expect(decoded.map((d) => [d.schema?.name, plain(d.value)])).toEqual([
      ['shop.Apple', { variety: 'gala' }],
      ['shop.Order', { id: 'o-1' }],
      ['shop.Order.Line', { sku: 'x' }],
      ['shop.Refund', { orderId: 'o-1' }],
    ]);
    expect(decoded[0]!.schema).toEqual({ id: versionId, format: 'protobuf', registry: 'glue', name: 'shop.Apple' });
    expect(glue.fetchesOf(versionId)).toBe(1);
  });
});

describe('protobuf() without a registry', () => {
  it('decodes plain Protobuf with the type given in code', async () => {
    const format = protobuf({ type: v1.lookupType('shop.Refund') });

    const decoded = await format.decode(encode(v1, 'shop.Refund', { orderId: 'o-4', amount: 3 }));

    expect(plain(decoded.value)).toEqual({ orderId: 'o-4', amount: 3 });
  });

  it('refuses a definition without type or registry, or with a type that is not a message type', () => {
    expect(() => protobuf({})).toThrow('protobuf() needs a message type (plain Protobuf) or a registry');
    expect(() => protobuf({ type: {} as never })).toThrow('protobuf(): type must be a protobufjs message Type');
  });
});
