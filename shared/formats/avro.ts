import avsc from 'avsc';
import type { ForSchemaOptions, Resolver, Schema, Type } from 'avsc';
import { ConfigurationError } from '../errors.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { Decoded, RecordFormat, SchemaInfo } from './record-format.js';
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

/** How one writer id is read: the type to read with, the resolver from the writer's (none when equal), its info. */
interface AvroReading {
  readonly type: Type;
  readonly resolver?: Resolver;
  readonly schema: SchemaInfo;
}

/**
 * Framed Avro: the writer schema by id, resolved to the reader schema once per id. A known id decodes
 * synchronously, without asking the registry again; the first record of an id waits for it.
 */
class RegistryAvro<T> implements RecordFormat<T> {
  readonly format = 'avro';
  private readonly readings = new Map<number | string, AvroReading | RecordDecodeError>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly reader: Type | undefined,
  ) {}

  decode(bytes: Buffer): Decoded<T> | Promise<Decoded<T>> {
    const frame = this.registry.unframe(bytes, 'avro');
    const reading = this.readings.get(frame.id);
    return reading ? read<T>(reading, frame.payload, frame.id) : this.learn(frame.id, frame.payload);
  }

  private async learn(id: number | string, payload: Buffer): Promise<Decoded<T>> {
    const writer = await this.registry.writerSchema(id, 'avro');
    if (writer.format !== 'avro') throw new Error('unreachable: the registry checks the format');
    let reading = this.readings.get(id);
    if (!reading) {
      reading = this.resolve(id, writer.type);
      this.readings.set(id, reading);
    }
    return read<T>(reading, payload, id);
  }

  private resolve(id: number | string, writer: Type): AvroReading | RecordDecodeError {
    const schema: SchemaInfo = Object.freeze({ id, format: 'avro', registry: this.registry.kind, ...nameOf(writer) });
    if (!this.reader) return { type: writer, schema };
    if (this.reader.equals(writer)) return { type: this.reader, schema };
    try {
      return { type: this.reader, resolver: this.reader.createResolver(writer), schema };
    } catch (error) {
      return new RecordDecodeError(
        DecodeFailure.SchemaMismatch,
        `writer schema ${String(id)} cannot be read with the reader schema: ${messageOf(error)}`,
        { format: 'avro', schemaId: id, cause: error },
      );
    }
  }
}

function read<T>(reading: AvroReading | RecordDecodeError, payload: Buffer, id: number | string): Decoded<T> {
  if (reading instanceof RecordDecodeError) throw reading;
  return { value: readAvro(() => reading.type.fromBuffer(payload, reading.resolver) as T, id), schema: reading.schema };
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
