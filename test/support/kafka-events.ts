import { KafkaEventSource, type RawKafkaEvent, type RawKafkaRecord } from '../../shared/kafka/kafka-event.js';

/** A key or value as a test writes it: text as is, bytes as is, anything else as JSON. */
export type Payload = string | Buffer | Record<string, unknown> | unknown[];

/** What a test may set on a {@link kafkaRecord}; every field has a realistic default. */
export interface KafkaRecordOverrides {
  /** @default "orders" */
  topic?: string;
  /** @default 0 */
  partition?: number;
  /** @default 0 */
  offset?: number;
  /** Epoch milliseconds. @default 1767225600000 + offset */
  timestamp?: number;
  /** @default "CREATE_TIME" */
  timestampType?: string;
  /** The key; `undefined` leaves the field out (no key), `null` sends `key: null`. @default "o-1" */
  key?: Payload | null | undefined;
  /** The value; `null` makes a tombstone. @default {"orderId":"o-1","type":"OrderPlaced"} */
  value?: Payload | null;
  /** Header name → UTF-8 text, in order. @default {} */
  headers?: Record<string, string>;
}

/**
 * A raw record as Lambda sends it, from readable test values: key and value are base64-encoded for you and
 * headers become byte arrays of Java's signed bytes, as Lambda writes them.
 */
export function kafkaRecord(overrides: KafkaRecordOverrides = {}): RawKafkaRecord {
  const offset = overrides.offset ?? 0;
  const key = 'key' in overrides ? overrides.key : 'o-1';
  const value = overrides.value === undefined ? { orderId: 'o-1', type: 'OrderPlaced' } : overrides.value;
  return {
    topic: overrides.topic ?? 'orders',
    partition: overrides.partition ?? 0,
    offset,
    timestamp: overrides.timestamp ?? 1_767_225_600_000 + offset,
    timestampType: overrides.timestampType ?? 'CREATE_TIME',
    ...(key === undefined ? {} : { key: key === null ? null : base64(key) }),
    value: value === null ? null : base64(value),
    headers: Object.entries(overrides.headers ?? {}).map(([name, text]) => ({ [name]: signedBytes(text) })),
  };
}

/** Options for {@link kafkaEvent}. */
export interface KafkaEventOptions {
  /** @default "aws:kafka" */
  eventSource?: string;
  /** `undefined` leaves the field out. @default an MSK cluster ARN for `aws:kafka`, absent otherwise */
  eventSourceArn?: string | undefined;
  /** @default two brokers, comma-separated */
  bootstrapServers?: string;
}

/**
 * A Lambda Kafka event carrying `records`, grouped under `records["<topic>-<partition>"]` in the order given.
 */
export function kafkaEvent(records: readonly RawKafkaRecord[], options: KafkaEventOptions = {}): RawKafkaEvent {
  const eventSource = options.eventSource ?? KafkaEventSource.Msk;
  const arn =
    'eventSourceArn' in options
      ? options.eventSourceArn
      : eventSource === KafkaEventSource.Msk
        ? 'arn:aws:kafka:eu-west-1:123456789012:cluster/tidemark-test/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0-1'
        : undefined;
  const grouped: RawKafkaEvent['records'] = {};
  for (const record of records) (grouped[`${record.topic}-${record.partition}`] ??= []).push(record);
  return {
    eventSource,
    ...(arn === undefined ? {} : { eventSourceArn: arn }),
    bootstrapServers:
      options.bootstrapServers ?? 'b-1.tidemark-test.example.com:9098,b-2.tidemark-test.example.com:9098',
    records: grouped,
  };
}

function base64(payload: Payload): string {
  if (Buffer.isBuffer(payload)) return payload.toString('base64');
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8').toString('base64');
}

function signedBytes(text: string): number[] {
  return [...Buffer.from(text, 'utf8')].map((byte) => (byte > 127 ? byte - 256 : byte));
}
