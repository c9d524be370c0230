/** The data formats a {@link RecordFormat} reads. */
export const DataFormat = {
  Bytes: 'bytes',
  String: 'string',
  Json: 'json',
  Avro: 'avro',
  Protobuf: 'protobuf',
  JsonSchema: 'json-schema',
} as const;
export type DataFormat = (typeof DataFormat)[keyof typeof DataFormat];

/** The formats a schema registry holds schemas of. */
export type SchemaFormat = typeof DataFormat.Avro | typeof DataFormat.Protobuf | typeof DataFormat.JsonSchema;

/** The writer schema a framed record named, as the handler sees it in `context.schema` / `context.keySchema`. */
export interface SchemaInfo {
  /** The registry's id: a Confluent schema id (number) or a Glue schema version id (UUID). */
  readonly id: number | string;
  readonly format: SchemaFormat;
  /** Which registry's framing the record carried. */
  readonly registry: string;
  /** The record type's full name: Avro's named type, Protobuf's message (`shop.Order`), when there is one. */
  readonly name?: string;
}

/** What a format made of a key or value: the value, and the writer schema when the bytes named one. */
export interface Decoded<T> {
  readonly value: T;
  readonly schema?: SchemaInfo;
}

/**
 * Decodes a record's key or value bytes. Declared on a processor (`key: string()`, `value: avro({...})`), it runs
 * inside the handler's attempt; the handler gets the result as `record.decodedKey` / `record.decodedValue`. It
 * throws `RecordDecodeError` for bytes it cannot read. Decoding never touches routing: the sequencing key is always
 * taken from the raw bytes.
 */
export interface RecordFormat<T> {
  readonly format: DataFormat;
  decode(bytes: Buffer): Decoded<T> | Promise<Decoded<T>>;
}

/** Whether a value is a {@link RecordFormat}, for a definition's check. */
export function isRecordFormat(value: unknown): value is RecordFormat<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RecordFormat<unknown>).decode === 'function' &&
    typeof (value as RecordFormat<unknown>).format === 'string'
  );
}
