import type { IConversionOptions, Message, Type } from 'protobufjs';
import { ConfigurationError } from '../errors.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { Decoded, RecordFormat, SchemaInfo } from './record-format.js';
import type { Frame, SchemaRegistry, WriterSchema } from './schema-registry.js';
import { protobufName } from './writer-schemas.js';

/** Options of {@link protobuf}. */
export interface ProtobufOptions {
  /**
   * The protobufjs message type to decode with (`root.lookupType('shop.Order')`, or a static module's class's
   * type). Without a registry it is required. With one it is the reader type: a record whose writer message has
   * another full name is refused (`SCHEMA_MISMATCH`); without it, records decode with the writer's message type.
   */
  readonly type?: Type;
  /** Where writer schemas come from; the bytes are framed for it (Confluent: with message indexes). */
  readonly registry?: SchemaRegistry;
  /**
   * Hand the handler a plain object made with protobufjs's `toObject` and these options (`{ longs: String,
   * enums: String, defaults: true }`) instead of the decoded message.
   */
  readonly toObject?: IConversionOptions;
}

/**
 * Protobuf with protobufjs: plain (the message type given in code) or framed for a registry, whose framing says
 * which message of the writer schema the record is (Confluent's message-index path, Glue's message index).
 *
 * @example
 * value: protobuf<Order>({ registry: confluentRegistry({ url }), type: root.lookupType('shop.Order') })
 */
export function protobuf<T = Message>(options: ProtobufOptions): RecordFormat<T> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(`protobuf() takes { type } or { registry, type? }, got ${String(options)}`);
  }
  const { type, registry, toObject } = options;
  if (type !== undefined && (typeof type.decode !== 'function' || typeof type.fullName !== 'string')) {
    throw new ConfigurationError('protobuf(): type must be a protobufjs message Type (root.lookupType(name))');
  }
  if (type === undefined && registry === undefined) {
    throw new ConfigurationError(
      'protobuf() needs a message type (plain Protobuf) or a registry (framed records), got neither',
    );
  }
  if (
    registry !== undefined &&
    (typeof registry.unframe !== 'function' || typeof registry.writerSchema !== 'function')
  ) {
    throw new ConfigurationError(
      'protobuf(): registry must be a SchemaRegistry such as confluentRegistry(...) or glueRegistry(...)',
    );
  }
  const read = (message: Type, bytes: Buffer, id?: number | string): T => {
    try {
      const decoded = message.decode(bytes);
      return (toObject ? message.toObject(decoded, toObject) : decoded) as T;
    } catch (error) {
      throw new RecordDecodeError(
        DecodeFailure.Deserialization,
        `the bytes are not a Protobuf ${protobufName(message)}: ${messageOf(error)}`,
        { format: 'protobuf', ...(id === undefined ? {} : { schemaId: id }), cause: error },
      );
    }
  };
  if (registry === undefined) return { format: 'protobuf', decode: (bytes) => ({ value: read(type!, bytes) }) };
  // Per writer id and message-index path: the type to read with and the schema info, or why not. Found once.
  const readings = new Map<string, { type: Type; schema: SchemaInfo } | RecordDecodeError>();
  const resolve = (writer: WriterSchema, id: number | string, indexes: readonly number[]) => {
    if (writer.format !== 'protobuf') throw new Error('unreachable: the registry checks the format');
    const written = writer.messageAt(indexes);
    if (!written) {
      return new RecordDecodeError(
        DecodeFailure.SchemaMismatch,
        `schema ${String(id)} has no message at index [${indexes.join(', ')}]`,
        { format: 'protobuf', schemaId: id },
      );
    }
    const name = protobufName(written);
    if (type && protobufName(type) !== name) {
      return new RecordDecodeError(
        DecodeFailure.SchemaMismatch,
        `the record is a ${name} (schema ${String(id)}), the decoder reads ${protobufName(type)}`,
        { format: 'protobuf', schemaId: id },
      );
    }
    const schema: SchemaInfo = Object.freeze({ id, format: 'protobuf', registry: registry.kind, name });
    return { type: type ?? written, schema };
  };
  const decodeWith = (reading: { type: Type; schema: SchemaInfo } | RecordDecodeError, frame: Frame): Decoded<T> => {
    if (reading instanceof RecordDecodeError) throw reading;
    return { value: read(reading.type, frame.payload, frame.id), schema: reading.schema };
  };
  return {
    format: 'protobuf',
    decode(bytes: Buffer): Decoded<T> | Promise<Decoded<T>> {
      const frame = registry.unframe(bytes, 'protobuf');
      const indexes = frame.messageIndexes ?? [0];
      const key = `${String(frame.id)}/${indexes.join('.')}`;
      const reading = readings.get(key);
      if (reading) return decodeWith(reading, frame);
      return registry.writerSchema(frame.id, 'protobuf').then((writer) => {
        const found = readings.get(key) ?? resolve(writer, frame.id, indexes);
        readings.set(key, found);
        return decodeWith(found, frame);
      });
    },
  };
}
