import { ConfigurationError, TidemarkError } from '../errors.js';
import { KafkaRecord } from '../kafka/kafka-record.js';
import type { HandlerContext, RecordHandler } from '../processing/processor.js';
import { DecodeFailure, messageOf, RecordDecodeError, type RecordPart } from './record-decode-error.js';
import { isRecordFormat, type Decoded, type RecordFormat } from './record-format.js';

/**
 * A record with its key and value decoded by the processor's formats. `key` and `value` are still the raw bytes;
 * `decodedKey` is `undefined` for a record without a key, `decodedValue` `null` for a tombstone. A part without a
 * declared format is its raw bytes.
 */
export class DecodedRecord<K = Buffer, V = Buffer> extends KafkaRecord {
  readonly decodedKey: K | undefined;
  readonly decodedValue: V | null;

  constructor(record: KafkaRecord, decodedKey: K | undefined, decodedValue: V | null) {
    super(record);
    this.decodedKey = decodedKey;
    this.decodedValue = decodedValue;
  }
}

/**
 * The record a handler is given: a {@link KafkaRecord} when the processor declares no format, a
 * {@link DecodedRecord} when it declares `key`, `value` or both (an undeclared part decodes to its bytes).
 */
export type HandlerRecord<K, V> = [K] extends [never]
  ? [V] extends [never]
    ? KafkaRecord
    : DecodedRecord<Buffer, V>
  : DecodedRecord<K, [V] extends [never] ? Buffer : V>;

/** A handler of the records a processor with these formats gets. */
export type FormattedHandler<K, V> = (record: HandlerRecord<K, V>, context: HandlerContext) => Promise<void> | void;

/** A processor's declared formats. */
export interface RecordFormats<K, V> {
  readonly key?: RecordFormat<K>;
  readonly value?: RecordFormat<V>;
}

/**
 * Wraps a handler so that it gets decoded records: each attempt decodes the key and value, then calls it with the
 * schemas in `context.schema` / `context.keySchema`. Decoding runs inside the attempt, so a record that cannot be
 * decoded fails like a handler failure: parked at once with its raw bytes (retried first when the registry was
 * unavailable). Routing never sees this: it reads the raw key. Without formats the handler is returned as is.
 */
export function decodingHandler<K, V>(
  processor: string,
  formats: RecordFormats<K, V>,
  handler: FormattedHandler<K, V>,
): RecordHandler {
  const { key, value } = formats;
  for (const [part, format] of [
    ['key', key],
    ['value', value],
  ] as const) {
    if (format !== undefined && !isRecordFormat(format)) {
      throw new ConfigurationError(
        `processor "${processor}": ${part} must be a record format such as string(), json() or avro({...}), got ${describe(format)}`,
      );
    }
  }
  if (!key && !value) return handler as RecordHandler;
  const call = handler as unknown as (
    record: DecodedRecord<unknown, unknown>,
    context: HandlerContext,
  ) => Promise<void> | void;
  return async (record, context) => {
    const decodedKey = key && record.key !== undefined ? await decodePart(key, 'key', record, record.key) : undefined;
    const decodedValue =
      value && record.value !== null ? await decodePart(value, 'value', record, record.value) : undefined;
    const schemas =
      decodedKey?.schema || decodedValue?.schema
        ? {
            ...(decodedValue?.schema ? { schema: decodedValue.schema } : {}),
            ...(decodedKey?.schema ? { keySchema: decodedKey.schema } : {}),
          }
        : undefined;
    const decoded = new DecodedRecord<unknown, unknown>(
      record,
      decodedKey ? decodedKey.value : record.key,
      decodedValue ? decodedValue.value : record.value,
    );
    return call(decoded, schemas ? { ...context, ...schemas } : context);
  };
}

/** Decodes one part, naming the part and the record in whatever it throws. */
async function decodePart<T>(
  format: RecordFormat<T>,
  part: RecordPart,
  record: KafkaRecord,
  bytes: Buffer,
): Promise<Decoded<T>> {
  try {
    return await format.decode(bytes);
  } catch (error) {
    throw located(error, format, part, record);
  }
}

function located(error: unknown, format: RecordFormat<unknown>, part: RecordPart, record: KafkaRecord): TidemarkError {
  const where = `${part} of ${record.topicPartition} offset ${record.offset}`;
  const context = { topicPartition: record.topicPartition, offset: record.offset };
  if (error instanceof RecordDecodeError) {
    return new RecordDecodeError(error.code, `${where}: ${error.detail}`, {
      format: error.format,
      ...(error.schemaId === undefined ? {} : { schemaId: error.schemaId }),
      part,
      cause: error.cause ?? error,
      context,
    });
  }
  // A format of the team's own that threw something else: its bytes do not decode, unless it says a retry may help.
  const retriable = error instanceof TidemarkError && error.retriable;
  const code = retriable ? DecodeFailure.RegistryUnavailable : DecodeFailure.Deserialization;
  return new RecordDecodeError(code, `${where}: ${messageOf(error)}`, {
    format: format.format,
    part,
    cause: error,
    context,
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function (call it: string(), not string)';
  return typeof value === 'object' ? 'an object without format and decode' : JSON.stringify(value);
}
