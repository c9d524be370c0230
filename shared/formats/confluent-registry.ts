import { SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import protobuf from 'protobufjs';
import type { Namespace, Type as ProtobufType } from 'protobufjs';
import type { Type as AvroType } from 'avsc';
import { ConfigurationError } from '../errors.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { SchemaFormat } from './record-format.js';
import {
  expectFormat,
  SchemaCache,
  type Frame,
  type SchemaCacheOptions,
  type SchemaRegistry,
  type WriterSchema,
} from './schema-registry.js';
import { protobufWriter } from './writer-schemas.js';

/** Confluent's wire format: this byte, a 4-byte big-endian schema id, (Protobuf: message indexes), the payload. */
export const CONFLUENT_MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/** What Tidemark calls on a `@kafkajs/confluent-schema-registry` `SchemaRegistry`. */
export interface ConfluentRegistryClient {
  getSchema(id: number): Promise<unknown>;
  readonly cache: { getSchema(id: number): { readonly type?: unknown } | undefined };
}

/** Options of {@link confluentRegistry}. */
export interface ConfluentRegistryOptions extends SchemaCacheOptions {
  /** The registry's base URL (`https://…`, or `http://…` inside a VPC). Required unless `client` is given. */
  readonly url?: string;
  /** Basic auth (Confluent Cloud: an API key and secret). */
  readonly auth?: { readonly username: string; readonly password: string };
  /**
   * A client of your own from `@kafkajs/confluent-schema-registry` (an agent, middlewares, other retries); `url`,
   * `auth` and `retries` are then not used. Typed by what Tidemark calls, so the library's types (which need the DOM
   * lib) stay out of a team's type graph.
   */
  readonly client?: ConfluentRegistryClient;
  /**
   * Retries of one fetch by the client, inside one handler attempt; Tidemark's retry policy retries the attempt.
   * @default 1
   */
  readonly retries?: number;
}

/**
 * A Confluent-compatible schema registry (Confluent Platform or Cloud, Redpanda, Karapace, Apicurio's ccompat
 * API): records framed with magic byte 0 and a 4-byte schema id, writer schemas fetched with
 * `GET /schemas/ids/{id}` by `@kafkajs/confluent-schema-registry`, which also parses them (avsc, protobufjs, ajv)
 * and resolves schema references. Each id is fetched and parsed once per container. Create it once, at module
 * level, and share it between key and value decoders.
 *
 * @example
 * const registry = confluentRegistry({ url: 'https://registry.internal:8081' });
 * defineProcessor({ ..., value: avro<Order>({ registry, schema: orderV2 }), handler });
 */
export function confluentRegistry(options: ConfluentRegistryOptions): SchemaRegistry {
  return new ConfluentRegistry(options);
}

class ConfluentRegistry implements SchemaRegistry {
  readonly kind = 'confluent';
  private readonly client: ConfluentClient;
  private readonly cache: SchemaCache;
  private readonly where: string;

  constructor(options: ConfluentRegistryOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError(`confluentRegistry needs options with a url, got ${String(options)}`);
    }
    const retries = options.retries ?? 1;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
      throw new ConfigurationError(
        `confluentRegistry: retries must be an integer from 0 to 10, got ${String(retries)}`,
      );
    }
    if (options.client) {
      this.client = options.client as unknown as ConfluentClient;
      this.where = 'the given client';
    } else {
      const url = options.url;
      if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+/.test(url)) {
        throw new ConfigurationError(
          `confluentRegistry: url must be the registry's http(s) base URL such as https://registry:8081, got ${JSON.stringify(url)}`,
        );
      }
      this.client = new ConfluentClient({
        host: url.replace(/\/+$/, ''),
        retry: { retries },
        ...(options.auth ? { auth: { username: options.auth.username, password: options.auth.password } } : {}),
      });
      this.where = url;
    }
    this.cache = new SchemaCache(options);
  }

  unframe(bytes: Buffer, format: SchemaFormat): Frame {
    if (bytes.length < HEADER_BYTES) {
      throw framingError(
        format,
        `${bytes.length} byte(s) are too short for Confluent framing (magic byte and 4-byte schema id)`,
      );
    }
    if (bytes[0] !== CONFLUENT_MAGIC_BYTE) {
      throw framingError(format, `magic byte is 0x${hex(bytes[0]!)}, Confluent framing starts with 0x00`);
    }
    const id = bytes.readInt32BE(1);
    if (id <= 0) throw framingError(format, `schema id ${id} is not a registry id (they start at 1)`);
    if (format !== 'protobuf') return { id, payload: bytes.subarray(HEADER_BYTES) };
    // Protobuf: a zigzag varint count, then that many zigzag varint indexes; a count of 0 stands for [0].
    const reader = protobuf.Reader.create(bytes.subarray(HEADER_BYTES));
    try {
      const count = reader.sint32();
      if (count < 0 || count > reader.len) throw new Error(`message index count ${count} is impossible`);
      const messageIndexes = count === 0 ? [0] : Array.from({ length: count }, () => reader.sint32());
      return { id, payload: bytes.subarray(HEADER_BYTES + reader.pos), messageIndexes };
    } catch (error) {
      throw framingError(format, `the Protobuf message indexes cannot be read: ${messageOf(error)}`, id);
    }
  }

  writerSchema(id: number | string, format: SchemaFormat): Promise<WriterSchema> {
    return this.cache
      .get(id, () => this.fetch(Number(id), format))
      .then((schema) => expectFormat(schema, format, id, this.kind));
  }

  /** Fetches and parses through the client (it keeps its own parsed copy too, and joins concurrent requests). */
  private async fetch(id: number, format: SchemaFormat): Promise<WriterSchema> {
    let parsed: unknown;
    try {
      parsed = await this.client.getSchema(id);
    } catch (error) {
      throw this.fetchError(error, id, format);
    }
    const type = this.client.cache.getSchema(id)?.type;
    switch (type) {
      case SchemaType.AVRO:
        return { format: 'avro', type: parsed as AvroType };
      case SchemaType.PROTOBUF: {
        // The client's ProtoSchema keeps the file's first message type, parsed with its own protobufjs 7, whose
        // reader lets a truncated string through. Its root is copied once into this protobufjs, whose does not.
        const message = (parsed as { message?: ProtobufType }).message;
        if (!message?.parent) {
          throw new RecordDecodeError(DecodeFailure.SchemaMismatch, `schema ${id} has no Protobuf message type`, {
            format,
            schemaId: id,
          });
        }
        const root = protobuf.Root.fromJSON(message.root.toJSON());
        const file = message.parent.fullName ? root.lookup(message.parent.fullName) : root;
        return protobufWriter(file as Namespace, 'confluent');
      }
      case SchemaType.JSON: {
        const schema = parsed as { fromBuffer(payload: Buffer): unknown };
        return { format: 'json-schema', parse: (payload) => schema.fromBuffer(payload) };
      }
      default:
        throw new RecordDecodeError(
          DecodeFailure.SchemaMismatch,
          `schema ${id} has a schema type Tidemark cannot read`,
          {
            format,
            schemaId: id,
          },
        );
    }
  }

  private fetchError(error: unknown, id: number, format: SchemaFormat): RecordDecodeError {
    const status = (error as { status?: unknown } | null)?.status;
    const message = messageOf(error);
    // The client answers a registry's own error body with its message, and anything else (a proxy's page, a network
    // error, reported as status 400) as "Error, status N": only the registry's own 404 says the id does not exist.
    if (status === 404 && !message.includes('Error, status 404')) {
      return new RecordDecodeError(
        DecodeFailure.SchemaNotFound,
        `schema id ${id} is not in the registry at ${this.where}`,
        {
          format,
          schemaId: id,
          cause: error,
        },
      );
    }
    if (typeof status !== 'number' && error instanceof Error && error.name.startsWith('ConfluentSchemaRegistry')) {
      return new RecordDecodeError(
        DecodeFailure.SchemaMismatch,
        `schema ${id} from the registry at ${this.where} cannot be parsed: ${message}`,
        { format, schemaId: id, cause: error },
      );
    }
    return new RecordDecodeError(
      DecodeFailure.RegistryUnavailable,
      `the registry at ${this.where} did not serve schema ${id}: ${message}`,
      { format, schemaId: id, cause: error },
    );
  }
}

function framingError(format: SchemaFormat, message: string, id?: number): RecordDecodeError {
  return new RecordDecodeError(DecodeFailure.Deserialization, message, {
    format,
    ...(id === undefined ? {} : { schemaId: id }),
  });
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
