import avsc from 'avsc';
import type { ForSchemaOptions, Resolver, Schema, Type } from 'avsc';
import { ConfigurationError } from '../errors.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { Decoded, RecordFormat } from './record-format.js';
import type { SchemaRegistry } from './schema-registry.js';

/** An Avro schema: its JSON (an object, `as const` is fine, or text) or an avsc `Type`; checked when declared. */
export type AvroSchemaInput = Type | string | object;

/** Options of {@link avro}. */
export interface AvroOptions {
  /**
   * Without a registry, the schema the bytes were written with (plain Avro binary, no framing). With one, the
   * reader schema: each record's writer schema (from the registry) is resolved to it, Avro's rules (a field the
   * writer lacks takes its default, a field the reader lacks is skipped). Without it, records decode as written.
   */
  readonly schema?: AvroSchemaInput;
  /** Where writer schemas come from; the bytes are framed for it. */
  readonly registry?: SchemaRegistry;
  /** avsc's `Type.forSchema` options for `schema` (logical types, `wrapUnions`, ...). */
  readonly typeOptions?: Partial<ForSchemaOptions>;
}

/**
 * Avro with avsc: plain binary with the schema given in code, or framed for a registry with reader/writer
 * resolution. Schemas are parsed once (the reader here, each writer when its id is first seen) and each writer's
 * resolver is built once, then kept; decoding a record is avsc's `fromBuffer`.
 *
 * @example
 * value: avro<Order>({ registry: confluentRegistry({ url }), schema: orderV2 })
 */
export function avro<T = unknown>(options: AvroOptions): RecordFormat<T> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(`avro() takes { schema } or { registry, schema? }, got ${String(options)}`);
  }
  const { registry } = options;
  if (options.schema === undefined && registry === undefined) {
    throw new ConfigurationError('avro() needs a schema (plain Avro) or a registry (framed records), got neither');
  }
  if (
    registry !== undefined &&
    (typeof registry.unframe !== 'function' || typeof registry.writerSchema !== 'function')
  ) {
    throw new ConfigurationError(
      'avro(): registry must be a SchemaRegistry such as confluentRegistry(...) or glueRegistry(...)',
    );
  }
  const reader = options.schema === undefined ? undefined : readerType(options.schema, options.typeOptions);
  if (registry === undefined) return plainAvro<T>(reader!);
  return new RegistryAvro<T>(registry, reader);
}

function readerType(schema: AvroSchemaInput, typeOptions: Partial<ForSchemaOptions> | undefined): Type {
  if (avsc.Type.isType(schema)) return schema as Type;
  try {
    return avsc.Type.forSchema((typeof schema === 'string' ? JSON.parse(schema) : schema) as Schema, typeOptions);
  } catch (error) {
    throw new ConfigurationError(`avro(): schema is not a valid Avro schema: ${messageOf(error)}`, { cause: error });
  }
}

function plainAvro<T>(type: Type): RecordFormat<T> {
  return {
    format: 'avro',
    decode: (bytes) => ({ value: readAvro(() => type.fromBuffer(bytes) as T) }),
  };
}

/** Framed Avro: the writer schema by id, resolved to the reader schema once per id. */
class RegistryAvro<T> implements RecordFormat<T> {
  readonly format = 'avro';
  /** Per writer id: how to read it (a resolver, or the reader itself when the schemas are equal), or why not. */
  private readonly readers = new Map<number | string, { resolver?: Resolver; type: Type } | RecordDecodeError>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly reader: Type | undefined,
  ) {}

  async decode(bytes: Buffer): Promise<Decoded<T>> {
    const frame = this.registry.unframe(bytes, 'avro');
    const writer = await this.registry.writerSchema(frame.id, 'avro');
    if (writer.format !== 'avro') throw new Error('unreachable: the registry checks the format');
    const how = this.readers.get(frame.id) ?? this.resolve(frame.id, writer.type);
    if (how instanceof RecordDecodeError) throw how;
    const value = readAvro(() => how.type.fromBuffer(frame.payload, how.resolver) as T, frame.id);
    return { value, schema: { id: frame.id, format: 'avro', registry: this.registry.kind, ...nameOf(writer.type) } };
  }

  private resolve(id: number | string, writer: Type) {
    let how: { resolver?: Resolver; type: Type } | RecordDecodeError;
    if (!this.reader) how = { type: writer };
    else if (this.reader.equals(writer)) how = { type: this.reader };
    else {
      try {
        how = { type: this.reader, resolver: this.reader.createResolver(writer) };
      } catch (error) {
        how = new RecordDecodeError(
          DecodeFailure.SchemaMismatch,
          `writer schema ${String(id)} cannot be read with the reader schema: ${messageOf(error)}`,
          { format: 'avro', schemaId: id, cause: error },
        );
      }
    }
    this.readers.set(id, how);
    return how;
  }
}

function nameOf(type: Type): { name?: string } {
  return type.name === undefined ? {} : { name: type.name };
}

/** Runs avsc's decode, turning what it throws (truncated buffer, trailing data, bad union index) into a typed error. */
function readAvro<T>(read: () => T, id?: number | string): T {
  try {
    return read();
  } catch (error) {
    throw new RecordDecodeError(
      DecodeFailure.Deserialization,
      `the bytes are not Avro of the schema: ${messageOf(error)}`,
      {
        format: 'avro',
        ...(id === undefined ? {} : { schemaId: id }),
        cause: error,
      },
    );
  }
}
