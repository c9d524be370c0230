import { ConfigurationError } from '../errors.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { Decoded, RecordFormat } from './record-format.js';
import type { SchemaRegistry } from './schema-registry.js';

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
  return {
    format: 'json-schema',
    async decode(bytes: Buffer): Promise<Decoded<T>> {
      const frame = registry.unframe(bytes, 'json-schema');
      const writer = await registry.writerSchema(frame.id, 'json-schema');
      if (writer.format !== 'json-schema') throw new Error('unreachable: the registry checks the format');
      let value: T;
      try {
        value = writer.parse(frame.payload) as T;
      } catch (error) {
        const paths = (error as { paths?: unknown }).paths;
        throw new RecordDecodeError(
          DecodeFailure.Deserialization,
          `the value is not JSON valid against schema ${String(frame.id)}: ${messageOf(error)}${Array.isArray(paths) && paths.length > 0 ? ` at ${JSON.stringify(paths)}` : ''}`,
          { format: 'json-schema', schemaId: frame.id, cause: error },
        );
      }
      return { value, schema: { id: frame.id, format: 'json-schema', registry: registry.kind } };
    },
  };
}
