import { MalformedEventError, MalformedRecordError } from './errors.js';
import { KafkaRecord, TimestampType, type KafkaHeader } from './kafka-record.js';

/** Where the event came from: Amazon MSK or a self-managed Kafka cluster. */
export const KafkaEventSource = {
  Msk: 'aws:kafka',
  SelfManaged: 'SelfManagedKafka',
} as const;
export type KafkaEventSource = (typeof KafkaEventSource)[keyof typeof KafkaEventSource];

/** The raw record shape inside a Lambda Kafka event. */
export interface RawKafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  key?: string | null;
  value: string | null;
  headers: Array<Record<string, number[]>>;
}

/** The raw Lambda Kafka event. */
export interface RawKafkaEvent {
  eventSource: string;
  eventSourceArn?: string;
  bootstrapServers?: string;
  records: Record<string, RawKafkaRecord[]>;
}

/** A parsed batch: every readable record, and an error for each record that is not. */
export interface ParsedKafkaBatch {
  readonly eventSource: KafkaEventSource;
  readonly eventSourceArn: string | undefined;
  readonly bootstrapServers: readonly string[];
  /** Every valid record, in event order. */
  readonly records: readonly KafkaRecord[];
  readonly malformed: readonly MalformedRecordError[];
}

const SOURCES: readonly string[] = Object.values(KafkaEventSource);
const TIMESTAMP_TYPES: readonly string[] = Object.values(TimestampType);
// Buffer.from(…, 'base64') ignores characters outside the alphabet; an event with them is corrupt, so check first.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parses a Lambda Kafka event. Throws MalformedEventError only when the event as a whole is unusable; a bad
 * record becomes a MalformedRecordError in `malformed` and the other records are still returned.
 */
export function parseKafkaEvent(event: unknown): ParsedKafkaBatch {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new MalformedEventError(`expected a Kafka event object, got ${describe(event)}`);
  }
  const raw = event as Partial<RawKafkaEvent>;
  if (!SOURCES.includes(raw.eventSource as string)) {
    throw new MalformedEventError(
      `eventSource must be "aws:kafka" or "SelfManagedKafka", got ${JSON.stringify(raw.eventSource) ?? 'nothing'}`,
    );
  }
  if (raw.records === null || typeof raw.records !== 'object' || Array.isArray(raw.records)) {
    throw new MalformedEventError(`records must be an object keyed "<topic>-<partition>", got ${describe(raw.records)}`);
  }
  const records: KafkaRecord[] = [];
  const malformed: MalformedRecordError[] = [];
  for (const [entryKey, entry] of Object.entries(raw.records)) {
    if (!Array.isArray(entry)) {
      throw new MalformedEventError(`records["${entryKey}"] must be an array of records, got ${describe(entry)}`);
    }
    entry.forEach((rawRecord, index) => {
      try {
        records.push(parseKafkaRecord(rawRecord, entryKey, index));
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        malformed.push(error);
      }
    });
  }
  return {
    eventSource: raw.eventSource as KafkaEventSource,
    eventSourceArn: typeof raw.eventSourceArn === 'string' ? raw.eventSourceArn : undefined,
    bootstrapServers: typeof raw.bootstrapServers === 'string'
      ? raw.bootstrapServers.split(',').map((s) => s.trim()).filter(Boolean)
      : [],
    records,
    malformed,
  };
}

/**
 * Parses one raw record found at `records[entryKey][index]`. Throws MalformedRecordError naming the record and
 * what is wrong, with its offset whenever the offset itself could be read.
 */
export function parseKafkaRecord(raw: unknown, entryKey: string, index: number): KafkaRecord {
  const location = `records["${entryKey}"][${index}]`;
  let offset: number | undefined;
  const fail = (message: string) => new MalformedRecordError(message, { location, topicPartition: entryKey, offset });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail(`expected a record object, got ${describe(raw)}`);
  const r = raw as Record<string, unknown>;
  if (Number.isSafeInteger(r.offset) && (r.offset as number) >= 0) offset = r.offset as number;
  else throw fail(`offset must be a non-negative integer, got ${describe(r.offset)}`);
  if (typeof r.topic !== 'string' || r.topic === '') throw fail(`topic must be a non-empty string, got ${describe(r.topic)}`);
  if (!Number.isInteger(r.partition) || (r.partition as number) < 0) {
    throw fail(`partition must be a non-negative integer, got ${describe(r.partition)}`);
  }
  if (`${r.topic}-${r.partition as number}` !== entryKey) {
    throw fail(`record says topic "${r.topic}" partition ${r.partition as number} but is listed under "${entryKey}"`);
  }
  if (typeof r.timestamp !== 'number' || !Number.isFinite(r.timestamp)) {
    throw fail(`timestamp must be a number, got ${describe(r.timestamp)}`);
  }
  if (!TIMESTAMP_TYPES.includes(r.timestampType as string)) {
    throw fail(`timestampType must be CREATE_TIME or LOG_APPEND_TIME, got ${describe(r.timestampType)}`);
  }
  const key = r.key === undefined || r.key === null ? undefined : decode(r.key, 'key', fail);
  const value = r.value === null ? null : decode(r.value, 'value', fail);
  return new KafkaRecord({
    topic: r.topic,
    partition: r.partition as number,
    offset,
    timestamp: r.timestamp,
    timestampType: r.timestampType as TimestampType,
    key,
    value,
    headers: parseHeaders(r.headers, fail),
  });
}

function decode(text: unknown, field: string, fail: (message: string) => Error): Buffer {
  if (typeof text !== 'string') throw fail(`${field} must be a base64 string, got ${describe(text)}`);
  if (!BASE64.test(text)) throw fail(`${field} is not valid base64`);
  return Buffer.from(text, 'base64');
}

function parseHeaders(raw: unknown, fail: (message: string) => Error): KafkaHeader[] {
  // Lambda always sends headers; a record without them simply has none.
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw fail(`headers must be an array, got ${describe(raw)}`);
  return raw.map((entry: unknown, i) => {
    const pairs = entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? Object.entries(entry) : [];
    if (pairs.length !== 1) throw fail(`headers[${i}] must be an object with exactly one header name, got ${describe(entry)}`);
    const [name, bytes] = pairs[0]!;
    if (!Array.isArray(bytes) || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      throw fail(`headers[${i}] "${name}" must be an array of byte values 0..255`);
    }
    return { name, value: Buffer.from(bytes as number[]) };
  });
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
