/**
 * Parsing a writer schema's definition once, for each format, and finding a Protobuf message type the way each
 * registry's framing numbers them.
 */
import avsc from 'avsc';
import protobuf from 'protobufjs';
import type { Namespace, Type as ProtobufType } from 'protobufjs';
import confluentJsonSchema from '@kafkajs/confluent-schema-registry/dist/JsonSchema.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { SchemaFormat } from './record-format.js';
import type { WriterSchema } from './schema-registry.js';

/** The Confluent client's JSON Schema class (ajv inside), default export of a CommonJS module. */
const JsonSchema = ((confluentJsonSchema as { default?: unknown }).default ??
  confluentJsonSchema) as unknown as new (schema: { type: 'JSON'; schema: string }) => {
  fromBuffer(buffer: Buffer): unknown;
};

/** How a registry's framing numbers a schema's Protobuf message types. */
export type ProtobufNumbering = 'confluent' | 'glue';

/** Parses a schema definition as the registry returned it (Glue's `SchemaDefinition`). */
export function parseDefinition(
  format: SchemaFormat,
  definition: string,
  id: number | string,
  numbering: ProtobufNumbering,
): WriterSchema {
  try {
    switch (format) {
      case 'avro':
        return { format, type: avsc.Type.forSchema(JSON.parse(definition) as avsc.Schema) };
      case 'protobuf': {
        const parsed = protobuf.parse(definition);
        const file = parsed.package ? parsed.root.lookup(parsed.package) : parsed.root;
        return protobufWriter(file as Namespace, numbering);
      }
      case 'json-schema': {
        const schema = new JsonSchema({ type: 'JSON', schema: definition });
        return { format, parse: (payload) => schema.fromBuffer(payload) };
      }
    }
  } catch (error) {
    throw new RecordDecodeError(
      DecodeFailure.SchemaMismatch,
      `schema ${String(id)} is not a ${format} schema that can be parsed: ${messageOf(error)}`,
      { format, schemaId: id, cause: error },
    );
  }
}

/**
 * A Protobuf writer schema over the namespace holding the file's top-level declarations. Confluent's indexes are a
 * path: the first picks a top-level message in declaration order, each next one a message nested in it. Glue's one
 * index numbers every message of the file (nested ones too, level by level) sorted by full name, as its Java
 * serializer's `MessageIndexFinder` does.
 */
export function protobufWriter(file: Namespace, numbering: ProtobufNumbering): WriterSchema {
  const topLevel = messagesIn(file);
  if (numbering === 'confluent') {
    return {
      format: 'protobuf',
      messageAt: (indexes) => {
        let candidates = topLevel;
        let found: ProtobufType | undefined;
        for (const index of indexes) {
          found = candidates[index];
          if (!found) return undefined;
          candidates = messagesIn(found);
        }
        return found;
      },
    };
  }
  const all: ProtobufType[] = [];
  for (let level = topLevel; level.length > 0; level = level.flatMap(messagesIn)) all.push(...level);
  all.sort((a, b) => (a.fullName < b.fullName ? -1 : a.fullName > b.fullName ? 1 : 0));
  return {
    format: 'protobuf',
    messageAt: (indexes) => (indexes.length === 1 ? all[indexes[0]!] : undefined),
  };
}

/** The message types declared directly in a namespace or message, in declaration order. */
function messagesIn(scope: Namespace | ProtobufType): ProtobufType[] {
  return scope.nestedArray.filter((nested): nested is ProtobufType => nested instanceof protobuf.Type);
}

/** A Protobuf message type's full name without protobufjs's leading dot (`shop.Order`). */
export function protobufName(type: ProtobufType): string {
  return type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
}
