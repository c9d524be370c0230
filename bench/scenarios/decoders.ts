/**
 * What each record format costs per record once its schema is cached: the format's `decode` alone, and the
 * processor's handler call with it (decoding, the decoded record, the context with the schema) against a handler
 * call without formats. Records are the libraries' own (avsc, protobufjs), framed for a Confluent registry served
 * on localhost by this scenario and for the Glue registry through a client answering `GetSchemaVersion` in memory;
 * each registry is asked once per schema id, in the warm-up, so the timed runs measure the cached path only.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import avsc from 'avsc';
import protobufjs from 'protobufjs';
import type { GetSchemaVersionCommand, GetSchemaVersionResponse } from '@aws-sdk/client-glue';
import { avro } from '../../shared/formats/avro.js';
import { confluentRegistry } from '../../shared/formats/confluent-registry.js';
import { glueRegistry } from '../../shared/formats/glue-registry.js';
import { jsonSchema } from '../../shared/formats/json-schema.js';
import { bytes, json, string } from '../../shared/formats/plain-formats.js';
import { protobuf } from '../../shared/formats/protobuf.js';
import type { RecordFormat } from '../../shared/formats/record-format.js';
import { KafkaRecord } from '../../shared/kafka/kafka-record.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { defineProcessor, type HandlerContext, type RecordHandler } from '../../shared/processing/processor.js';
import { median, round } from '../stats.js';

/** Records decoded per sample: enough for a stable figure, few enough for the scenario to take about a second. */
const RECORDS = 2_000;
const SAMPLES = 5;

/** One format's figures. */
export interface DecoderCost {
  readonly decoder: string;
  /** Bytes of one encoded value (framing included), the median record. */
  readonly valueBytes: number;
  /** `format.decode` alone, schema cached: median over the samples. */
  readonly decodeUsPerRecord: number;
  /** The fastest sample: the figure least disturbed by other work on the machine. */
  readonly bestDecodeUsPerRecord: number;
  /** The processor's handler call with this format as `value`, a no-op handler inside, schema cached. */
  readonly handlerUsPerRecord: number;
  /** What the format adds to a handler call without formats. */
  readonly addedUsPerRecord: number;
}

export interface DecodersReport {
  readonly recordsPerSample: number;
  readonly samples: number;
  /** A handler call without formats, the baseline of `addedUsPerRecord`. */
  readonly rawHandlerUsPerRecord: number;
  /** Schema fetches per registry over the whole scenario: one per schema id, in the warm-up. */
  readonly registryFetches: { readonly confluent: number; readonly glue: number };
  readonly decoders: readonly DecoderCost[];
}

const ORDER_V1 = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'customer', type: 'string' },
    { name: 'amount', type: 'int' },
    { name: 'lines', type: { type: 'array', items: 'string' } },
  ],
};
/** v2 adds a field with a default: reading v1 records with it exercises avsc's resolver. */
const ORDER_V2 = { ...ORDER_V1, fields: [...ORDER_V1.fields, { name: 'currency', type: 'string', default: 'EUR' }] };
const ORDER_PROTO = `syntax = "proto3";
package shop;
message Order { string id = 1; string customer = 2; int32 amount = 3; repeated string lines = 4; }`;
const ORDER_JSON_SCHEMA = JSON.stringify({
  type: 'object',
  properties: {
    id: { type: 'string' },
    customer: { type: 'string' },
    amount: { type: 'integer' },
    lines: { type: 'array', items: { type: 'string' } },
  },
  required: ['id', 'customer', 'amount', 'lines'],
});

const order = (i: number) => ({
  id: `order-${i}`,
  customer: `customer-${i % 97}`,
  amount: i % 1000,
  lines: ['a', 'b'],
});

export async function measureDecoders(progress: (message: string) => void = () => {}): Promise<DecodersReport> {
  progress(`decoders: ${RECORDS} records per sample, ${SAMPLES} samples, schemas cached`);
  const confluent = await startConfluentRegistry([
    { schema: JSON.stringify(ORDER_V1) },
    { schema: JSON.stringify(ORDER_V2) },
    { schema: ORDER_PROTO, schemaType: 'PROTOBUF' },
    { schema: ORDER_JSON_SCHEMA, schemaType: 'JSON' },
  ]);
  try {
    const glue = glueClient({
      '00000000-0000-4000-8000-000000000001': { SchemaDefinition: JSON.stringify(ORDER_V1), DataFormat: 'AVRO' },
      '00000000-0000-4000-8000-000000000002': { SchemaDefinition: ORDER_PROTO, DataFormat: 'PROTOBUF' },
    });
    const cases = decoderCases(confluent.url, glue);
    const raw = rawHandler();
    // The warm-up fetches and parses each schema (once), and lets V8 compile every path before anything is timed.
    for (const c of cases) {
      for (const r of c.records) await c.format.decode(r);
      await timeHandler(c.handler, c.records);
      await timeHandler(raw, c.records);
    }
    const rawSamples: number[] = [];
    const decoders: DecoderCost[] = [];
    for (const c of cases) decoders.push(await measure(c, raw, rawSamples));
    const report = {
      recordsPerSample: RECORDS,
      samples: SAMPLES,
      rawHandlerUsPerRecord: round(median(rawSamples), 3),
      registryFetches: { confluent: confluent.fetches(), glue: glue.fetches },
      decoders,
    };
    progress(`decoders: ${decoders.map((d) => `${d.decoder} ${d.decodeUsPerRecord} µs`).join(', ')}`);
    return report;
  } finally {
    await confluent.close();
  }
}

interface DecoderCase {
  readonly name: string;
  readonly format: RecordFormat<unknown>;
  readonly records: readonly Buffer[];
  /** A processor's handler with `format` as its value format. */
  readonly handler: RecordHandler;
}

function decoderCases(confluentUrl: string, glue: GlueDouble): DecoderCase[] {
  const confluent = confluentRegistry({ url: confluentUrl });
  const glueReg = glueRegistry({ client: glue });
  const v1 = avsc.Type.forSchema(ORDER_V1 as avsc.Schema);
  const message = protobufjs.parse(ORDER_PROTO).root.lookupType('shop.Order');
  const protoBytes = (i: number) => Buffer.from(message.encode(message.fromObject(order(i))).finish());
  const jsonBytes = (i: number) => Buffer.from(JSON.stringify(order(i)));
  const confluentFramed = (id: number, payload: Buffer, indexes = false) =>
    Buffer.concat([confluentHeader(id), indexes ? Buffer.from([0]) : Buffer.alloc(0), payload]);
  const glueFramed = (version: string, payload: Buffer, zlib = false) =>
    Buffer.concat([
      Buffer.from([3, zlib ? 5 : 0]),
      Buffer.from(version.replace(/-/g, ''), 'hex'),
      zlib ? deflateSync(payload) : payload,
    ]);
  const records = (make: (i: number) => Buffer) => Array.from({ length: RECORDS }, (_, i) => make(i));
  const glueAvro = '00000000-0000-4000-8000-000000000001';
  const glueProto = '00000000-0000-4000-8000-000000000002';
  const cases: Omit<DecoderCase, 'handler'>[] = [
    { name: 'bytes', format: bytes(), records: records(jsonBytes) },
    { name: 'string', format: string(), records: records(jsonBytes) },
    { name: 'json', format: json(), records: records(jsonBytes) },
    { name: 'avro (plain)', format: avro({ schema: ORDER_V1 }), records: records((i) => v1.toBuffer(order(i))) },
    {
      name: 'avro (confluent)',
      format: avro({ registry: confluent }),
      records: records((i) => confluentFramed(1, v1.toBuffer(order(i)))),
    },
    {
      name: 'avro (confluent, v1 read as v2)',
      format: avro({ registry: confluent, schema: ORDER_V2 }),
      records: records((i) => confluentFramed(1, v1.toBuffer(order(i)))),
    },
    { name: 'protobuf (plain)', format: protobuf({ type: message }), records: records(protoBytes) },
    {
      name: 'protobuf (confluent)',
      format: protobuf({ registry: confluent }),
      records: records((i) => confluentFramed(3, protoBytes(i), true)),
    },
    {
      name: 'json-schema (confluent)',
      format: jsonSchema({ registry: confluent }),
      records: records((i) => confluentFramed(4, jsonBytes(i))),
    },
    {
      name: 'avro (glue)',
      format: avro({ registry: glueReg }),
      records: records((i) => glueFramed(glueAvro, v1.toBuffer(order(i)))),
    },
    {
      name: 'avro (glue, zlib)',
      format: avro({ registry: glueReg }),
      records: records((i) => glueFramed(glueAvro, v1.toBuffer(order(i)), true)),
    },
    {
      name: 'protobuf (glue)',
      format: protobuf({ registry: glueReg }),
      records: records((i) => glueFramed(glueProto, Buffer.concat([Buffer.from([0]), protoBytes(i)]))),
    },
  ];
  return cases.map((c) => ({ ...c, handler: formattedHandler(c.format) }));
}

/** Decode alone, the formatted handler and the raw one, interleaved per sample so they share the machine's state. */
async function measure(c: DecoderCase, raw: RecordHandler, rawSamples: number[]): Promise<DecoderCost> {
  const decode: number[] = [];
  const handler: number[] = [];
  const baseline: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (const r of c.records) await c.format.decode(r);
    decode.push(((performance.now() - t0) * 1000) / c.records.length);
    handler.push(await timeHandler(c.handler, c.records));
    baseline.push(await timeHandler(raw, c.records));
  }
  rawSamples.push(...baseline);
  const sizes = c.records.map((r) => r.length).sort((a, b) => a - b);
  return {
    decoder: c.name,
    valueBytes: sizes[Math.floor(sizes.length / 2)]!,
    decodeUsPerRecord: round(median(decode), 3),
    bestDecodeUsPerRecord: round(Math.min(...decode), 3),
    handlerUsPerRecord: round(median(handler), 3),
    addedUsPerRecord: round(Math.max(0, median(handler) - median(baseline)), 3),
  };
}

/** µs per record of calling a processor's handler over records carrying these values. */
async function timeHandler(handler: RecordHandler, values: readonly Buffer[]): Promise<number> {
  const records = values.map(
    (value, offset) =>
      new KafkaRecord({
        topic: 'orders',
        partition: 0,
        offset,
        timestamp: 0,
        timestampType: 'CREATE_TIME',
        key: Buffer.from(`k-${offset % 64}`),
        value,
        headers: [],
      }),
  );
  const t0 = performance.now();
  for (let i = 0; i < records.length; i++) await handler(records[i]!, CONTEXT);
  return ((performance.now() - t0) * 1000) / records.length;
}

const noop = () => {};
const rawHandler = (): RecordHandler =>
  defineProcessor({ name: 'bench-decoders', topics: ['orders'], handler: noop }).handler;
const formattedHandler = (format: RecordFormat<unknown>): RecordHandler =>
  defineProcessor({ name: 'bench-decoders', topics: ['orders'], value: format, handler: noop }).handler;

const CONTEXT: HandlerContext = {
  processor: 'bench-decoders',
  segment: { id: 0, mask: 0 },
  layoutVersion: 1,
  topic: 'orders',
  partition: 0,
  offset: 0,
  sequencingKey: 'k',
  attempt: 1,
  redrive: false,
  replay: false,
  epoch: 1,
  deadline: Number.MAX_SAFE_INTEGER,
  requestId: 'bench',
  logger: silentLogger,
};

function confluentHeader(id: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return header;
}

/** A Confluent-compatible `GET /schemas/ids/{id}` on localhost, ids from 1 in the order given. */
async function startConfluentRegistry(schemas: readonly { schema: string; schemaType?: string }[]) {
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches++;
    const match = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
    const found = match ? schemas[Number(match[1]) - 1] : undefined;
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(found ?? { error_code: 40403, message: 'Schema not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface GlueDouble {
  fetches: number;
  send(command: GetSchemaVersionCommand): Promise<GetSchemaVersionResponse>;
}

/** `GetSchemaVersion` answered from memory, counting calls. */
function glueClient(
  versions: Record<string, { SchemaDefinition: string; DataFormat: 'AVRO' | 'PROTOBUF' }>,
): GlueDouble {
  const double: GlueDouble = {
    fetches: 0,
    send: (command) => {
      double.fetches++;
      const id = command.input.SchemaVersionId!;
      return Promise.resolve({ SchemaVersionId: id, Status: 'AVAILABLE', ...versions[id]! });
    },
  };
  return double;
}
