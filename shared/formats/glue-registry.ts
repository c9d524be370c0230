import { inflateSync } from 'node:zlib';
import { GetSchemaVersionCommand, GlueClient, type GetSchemaVersionResponse } from '@aws-sdk/client-glue';
import protobuf from 'protobufjs';
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
import { parseDefinition } from './writer-schemas.js';

/** Glue Schema Registry framing: header version byte 3, a compression byte, the 16-byte schema version id. */
export const GLUE_HEADER_VERSION = 3;
/** Glue's compression bytes: none, or zlib (its `COMPRESSION.ZLIB`). */
export const GlueCompression = { None: 0, Zlib: 5 } as const;
const HEADER_BYTES = 18;

/** What {@link glueRegistry} needs of a Glue client: `GetSchemaVersion`. `GlueClient` is one. */
export interface GlueSchemaClient {
  send(command: GetSchemaVersionCommand): Promise<GetSchemaVersionResponse>;
}

/** Options of {@link glueRegistry}. */
export interface GlueRegistryOptions extends SchemaCacheOptions {
  /** A client of your own. @default a GlueClient in `region`, made at the first fetch */
  readonly client?: GlueSchemaClient;
  /** @default the SDK's (AWS_REGION in Lambda) */
  readonly region?: string;
}

const DATA_FORMATS: Readonly<Record<string, SchemaFormat>> = {
  AVRO: 'avro',
  PROTOBUF: 'protobuf',
  JSON: 'json-schema',
};

/** Glue errors that say the version id names nothing; anything else may pass (throttling, a fault, access). */
const NOT_FOUND_ERRORS = new Set(['EntityNotFoundException', 'InvalidInputException']);

/**
 * The AWS Glue Schema Registry: records framed as its SerDe libraries frame them (header version 3, compression
 * none or zlib, schema version UUID), writer schemas fetched with `GetSchemaVersion` and parsed once per container
 * (avsc, protobufjs, the Confluent client's ajv-based JSON Schema). The function's role needs
 * `glue:GetSchemaVersion` on the registry and its schemas.
 *
 * @example
 * const registry = glueRegistry({ region: 'eu-west-1' });
 * defineProcessor({ ..., value: avro<Order>({ registry, schema: orderV2 }), handler });
 */
export function glueRegistry(options: GlueRegistryOptions = {}): SchemaRegistry {
  return new GlueRegistry(options);
}

class GlueRegistry implements SchemaRegistry {
  readonly kind = 'glue';
  private client: GlueSchemaClient | undefined;
  private readonly cache: SchemaCache;

  constructor(private readonly options: GlueRegistryOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError(`glueRegistry takes an options object, got ${String(options)}`);
    }
    if (options.client !== undefined && typeof options.client?.send !== 'function') {
      throw new ConfigurationError('glueRegistry: client must have a send(command) method, such as a GlueClient');
    }
    this.client = options.client;
    this.cache = new SchemaCache(options);
  }

  unframe(bytes: Buffer, format: SchemaFormat): Frame {
    if (bytes.length < HEADER_BYTES) {
      throw framingError(
        format,
        `${bytes.length} byte(s) are too short for Glue framing (2-byte header and 16-byte schema version id)`,
      );
    }
    if (bytes[0] !== GLUE_HEADER_VERSION) {
      throw framingError(format, `header version byte is ${bytes[0]}, Glue framing starts with ${GLUE_HEADER_VERSION}`);
    }
    const id = uuidOf(bytes.subarray(2, HEADER_BYTES));
    const compression = bytes[1];
    let payload = bytes.subarray(HEADER_BYTES);
    if (compression === GlueCompression.Zlib) {
      try {
        payload = inflateSync(payload);
      } catch (error) {
        throw framingError(format, `the zlib-compressed payload does not inflate: ${messageOf(error)}`, id);
      }
    } else if (compression !== GlueCompression.None) {
      throw framingError(format, `compression byte is ${String(compression)}, Glue uses 0 (none) or 5 (zlib)`, id);
    }
    if (format !== 'protobuf') return { id, payload };
    // Glue's Protobuf serializer puts the message index (an unsigned varint) before the message.
    const reader = protobuf.Reader.create(payload);
    try {
      const index = reader.uint32();
      return { id, payload: payload.subarray(reader.pos), messageIndexes: [index] };
    } catch (error) {
      throw framingError(format, `the Protobuf message index cannot be read: ${messageOf(error)}`, id);
    }
  }

  writerSchema(id: number | string, format: SchemaFormat): Promise<WriterSchema> {
    return this.cache
      .get(id, () => this.fetch(String(id), format))
      .then((schema) => expectFormat(schema, format, id, this.kind));
  }

  private async fetch(id: string, format: SchemaFormat): Promise<WriterSchema> {
    this.client ??= new GlueClient(this.options.region ? { region: this.options.region } : {});
    let version: GetSchemaVersionResponse;
    try {
      version = await this.client.send(new GetSchemaVersionCommand({ SchemaVersionId: id }));
    } catch (error) {
      const name = (error as { name?: unknown } | null)?.name;
      const notFound = typeof name === 'string' && NOT_FOUND_ERRORS.has(name);
      throw new RecordDecodeError(
        notFound ? DecodeFailure.SchemaNotFound : DecodeFailure.RegistryUnavailable,
        notFound
          ? `schema version ${id} is not in the Glue Schema Registry: ${messageOf(error)}`
          : `the Glue Schema Registry did not serve schema version ${id}: ${messageOf(error)}`,
        { format, schemaId: id, cause: error },
      );
    }
    const dataFormat = version.DataFormat === undefined ? undefined : DATA_FORMATS[version.DataFormat];
    if (version.SchemaDefinition === undefined || dataFormat === undefined) {
      throw new RecordDecodeError(
        DecodeFailure.SchemaMismatch,
        `schema version ${id} has ${version.SchemaDefinition === undefined ? 'no definition' : `data format ${String(version.DataFormat)}, which Tidemark cannot read`}`,
        { format, schemaId: id },
      );
    }
    return parseDefinition(dataFormat, version.SchemaDefinition, id, 'glue');
  }
}

/** Formats 16 bytes as a UUID (8-4-4-4-12 lowercase hex), as Glue names schema versions. */
export function uuidOf(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function framingError(format: SchemaFormat, message: string, id?: string): RecordDecodeError {
  return new RecordDecodeError(DecodeFailure.Deserialization, message, {
    format,
    ...(id === undefined ? {} : { schemaId: id }),
  });
}
