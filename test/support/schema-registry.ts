/**
 * Schema registries served locally for the format tests: a Confluent-compatible REST registry and the Glue
 * `GetSchemaVersion` API, each a small `node:http` server that the real clients (`@kafkajs/confluent-schema-registry`,
 * `@aws-sdk/client-glue`) talk to, counting what they are asked. Plus the Glue and Confluent-Protobuf framing the
 * producers' SerDes write, for records the libraries cannot frame themselves.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { GlueClient } from '@aws-sdk/client-glue';
import { SchemaRegistry as ConfluentClient } from '@kafkajs/confluent-schema-registry';
import protobuf from 'protobufjs';
import { expect } from 'vitest';
import { RecordDecodeError } from '../../shared/formats/record-decode-error.js';

/** A registry's schema types, as Confluent names them (`schemaType`; absent means AVRO). */
export type RegistrySchemaType = 'AVRO' | 'PROTOBUF' | 'JSON';

/** How a local registry answers: normally, or as if it were down (503) / behind a proxy that does not know it (404 page). */
export type RegistryMode = 'up' | 'down' | 'not-a-registry';

interface Listening {
  readonly server: Server;
  readonly url: string;
}

async function listen(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<Listening> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/**
 * A Confluent-compatible registry: `GET /schemas/ids/{id}` as Confluent answers it (`{"schema", "schemaType"}`,
 * `schemaType` left out for Avro; 404 with `error_code` 40403 for an unknown id), the one call decoding needs.
 */
export class LocalConfluentRegistry {
  /** Every request, as `METHOD path`. */
  readonly requests: string[] = [];
  mode: RegistryMode = 'up';
  private readonly schemas = new Map<number, { schema: string; schemaType: RegistrySchemaType }>();
  private nextId = 1;

  private constructor(private readonly listening: Listening) {}

  static async start(): Promise<LocalConfluentRegistry> {
    const holder: { registry?: LocalConfluentRegistry } = {};
    const listening = await listen((req, _body, res) => holder.registry!.handle(req, res));
    return (holder.registry = new LocalConfluentRegistry(listening));
  }

  get url(): string {
    return this.listening.url;
  }

  /** Registers a schema (an Avro schema as an object, others as text) and returns its id. */
  add(schema: object | string, schemaType: RegistrySchemaType = 'AVRO'): number {
    const id = this.nextId++;
    this.schemas.set(id, { schema: typeof schema === 'string' ? schema : JSON.stringify(schema), schemaType });
    return id;
  }

  /** Registers a schema under an id of the test's choosing (a schema registered after records named it). */
  put(id: number, schema: object | string, schemaType: RegistrySchemaType = 'AVRO'): void {
    this.schemas.set(id, { schema: typeof schema === 'string' ? schema : JSON.stringify(schema), schemaType });
  }

  /** How many times schema `id` was fetched. */
  fetchesOf(id: number): number {
    return this.requests.filter((r) => r === `GET /schemas/ids/${id}`).length;
  }

  /** The client producers use, on this registry: its `encode` frames Avro and JSON Schema records. */
  producerClient(): ConfluentClient {
    return new ConfluentClient({ host: this.url, retry: { retries: 0 } });
  }

  close(): Promise<void> {
    return close(this.listening.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    if (this.mode === 'down') return send(res, 503, { error_code: 50003, message: 'Service unavailable' });
    if (this.mode === 'not-a-registry')
      return send(res, 404, '<html>Not Found</html>', { 'content-type': 'text/html' });
    const match = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !match) return send(res, 404, { error_code: 404, message: 'HTTP 404 Not Found' });
    const found = this.schemas.get(Number(match[1]));
    if (!found) return send(res, 404, { error_code: 40403, message: `Schema ${match[1]} not found` });
    send(res, 200, found.schemaType === 'AVRO' ? { schema: found.schema } : found);
  }
}

/** A Glue schema version as `GetSchemaVersion` returns it. */
interface GlueVersion {
  readonly definition: string;
  readonly dataFormat: 'AVRO' | 'PROTOBUF' | 'JSON';
  readonly versionNumber: number;
}

/**
 * The Glue Schema Registry's `GetSchemaVersion` on the AWS JSON 1.1 protocol, as the real service answers it: the
 * version's definition, format, ARN, number and status; `EntityNotFoundException` (400) for an unknown id,
 * `InvalidInputException` for a malformed one, `ThrottlingException` while `mode` is `down`. The real `GlueClient`
 * talks to it ({@link client}), so its serialisation and error classes are the SDK's own.
 */
export class LocalGlueRegistry {
  readonly requests: { target: string; schemaVersionId: unknown }[] = [];
  mode: 'up' | 'down' = 'up';
  private readonly versions = new Map<string, GlueVersion>();

  private constructor(private readonly listening: Listening) {}

  static async start(): Promise<LocalGlueRegistry> {
    const holder: { registry?: LocalGlueRegistry } = {};
    const listening = await listen((req, body, res) => holder.registry!.handle(req, body, res));
    return (holder.registry = new LocalGlueRegistry(listening));
  }

  /** Registers a schema version and returns its id (a UUID). */
  add(definition: object | string, dataFormat: GlueVersion['dataFormat'] = 'AVRO'): string {
    const id = randomUUID();
    const text = typeof definition === 'string' ? definition : JSON.stringify(definition);
    this.versions.set(id, { definition: text, dataFormat, versionNumber: this.versions.size + 1 });
    return id;
  }

  fetchesOf(id: string): number {
    return this.requests.filter((r) => r.schemaVersionId === id).length;
  }

  /** A real GlueClient on this endpoint, with no SDK retries (Tidemark's attempts retry). */
  client(): GlueClient {
    return new GlueClient({
      region: 'eu-west-1',
      endpoint: this.listening.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  }

  close(): Promise<void> {
    return close(this.listening.server);
  }

  private handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const target = String(req.headers['x-amz-target'] ?? '');
    const input = JSON.parse(body || '{}') as { SchemaVersionId?: unknown };
    this.requests.push({ target, schemaVersionId: input.SchemaVersionId });
    const error = (status: number, type: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type });
      res.end(JSON.stringify({ __type: type, Message: message }));
    };
    if (target !== 'AWSGlue.GetSchemaVersion') return error(400, 'UnknownOperationException', target);
    if (this.mode === 'down') return error(400, 'ThrottlingException', 'Rate exceeded');
    const id = input.SchemaVersionId;
    if (typeof id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
      return error(400, 'InvalidInputException', 'SchemaVersionId is not a valid UUID');
    }
    const version = this.versions.get(id);
    if (!version) return error(400, 'EntityNotFoundException', 'Schema version is not found.');
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(
      JSON.stringify({
        SchemaVersionId: id,
        SchemaDefinition: version.definition,
        DataFormat: version.dataFormat,
        SchemaArn: 'arn:aws:glue:eu-west-1:123456789012:schema/tidemark-test/orders',
        VersionNumber: version.versionNumber,
        Status: 'AVAILABLE',
        CreatedTime: '2026-01-01T00:00:00.000Z',
      }),
    );
  }
}

/**
 * Frames a payload as the Glue SerDe does: header version 3, compression (0 none, 5 zlib of the payload), the
 * schema version UUID as 16 bytes, then the (compressed) payload.
 */
export function glueFramed(versionId: string, payload: Uint8Array, options: { zlib?: boolean } = {}): Buffer {
  const uuid = Buffer.from(versionId.replace(/-/g, ''), 'hex');
  const body = options.zlib ? deflateSync(payload) : Buffer.from(payload);
  return Buffer.concat([Buffer.from([3, options.zlib ? 5 : 0]), uuid, body]);
}

/** A Protobuf message as Glue's serializer writes it: the message index (unsigned varint), then the message. */
export function glueProtobufPayload(messageIndex: number, message: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(protobuf.Writer.create().uint32(messageIndex).finish()), message]);
}

/**
 * A Protobuf record in Confluent's wire format: magic byte 0, the 4-byte big-endian schema id, the message-index
 * path as zigzag varints (its count first; `[0]` as the single byte 0), then the message. The Confluent client's
 * own `encode` leaves the indexes out, so tests frame Protobuf here.
 */
export function confluentProtobuf(schemaId: number, indexes: readonly number[], message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  const path = protobuf.Writer.create();
  if (indexes.length === 1 && indexes[0] === 0) path.sint32(0);
  else {
    path.sint32(indexes.length);
    for (const index of indexes) path.sint32(index);
  }
  return Buffer.concat([header, Buffer.from(path.finish()), message]);
}

/** Runs a decode that must fail (synchronously or not) and returns its RecordDecodeError. */
export async function decodeError(decode: () => unknown): Promise<RecordDecodeError> {
  let error: unknown;
  try {
    await decode();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(RecordDecodeError);
  return error as RecordDecodeError;
}
