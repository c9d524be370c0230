import { ConfigurationError } from '../errors.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { Decoded, RecordFormat, SchemaInfo } from './record-format.js';
import type { Frame, SchemaRegistry } from './schema-registry.js';

/** Options of {@link jsonSchema}. */
export interface JsonSchemaOptions {
  /** Where writer schemas come from; the bytes are framed for it. */
  readonly registry: SchemaRegistry;
}

/**
 * JSON framed for a registry and validated against the writer's JSON Schema (the Confluent client's ajv), once per
 * id compiled. A value that does not validate is `DESERIALIZATION_ERROR`. For unframed JSON use `json()`.
 *
 * @example
 * value: jsonSchema<Order>({ registry: confluentRegistry({ url }) })
 */
export function jsonSchema<T = unknown>(options: JsonSchemaOptions): RecordFormat<T> {
  const registry = options?.registry;
  if (!registry || typeof registry.unframe !== 'function' || typeof registry.writerSchema !== 'function') {
    throw new ConfigurationError('jsonSchema() needs { registry }: a SchemaRegistry such as confluentRegistry(...)');
  }
  const readings = new Map<number | string, { parse: (payload: Buffer) => unknown; schema: SchemaInfo }>();
  const read = (reading: { parse: (payload: Buffer) => unknown; schema: SchemaInfo }, frame: Frame): Decoded<T> => {
    try {
      return { value: reading.parse(frame.payload) as T, schema: reading.schema };
    } catch (error) {
      const paths = (error as { paths?: unknown }).paths;
      const where = Array.isArray(paths) && paths.length > 0 ? ` at ${JSON.stringify(paths)}` : '';
      throw new RecordDecodeError(
        DecodeFailure.Deserialization,
        `the value is not JSON valid against schema ${String(frame.id)}: ${messageOf(error)}${where}`,
        { format: 'json-schema', schemaId: frame.id, cause: error },
      );
    }
  };
  return {
    format: 'json-schema',
    decode(bytes: Buffer): Decoded<T> | Promise<Decoded<T>> {
      const frame = registry.unframe(bytes, 'json-schema');
      const reading = readings.get(frame.id);
      if (reading) return read(reading, frame);
      return registry.writerSchema(frame.id, 'json-schema').then((writer) => {
        if (writer.format !== 'json-schema') throw new Error('unreachable: the registry checks the format');
        const schema: SchemaInfo = Object.freeze({ id: frame.id, format: 'json-schema', registry: registry.kind });
        const learned = readings.get(frame.id) ?? { parse: writer.parse, schema };
        readings.set(frame.id, learned);
        return read(learned, frame);
      });
    },
  };
}
