import { MalformedEventError, MalformedRecordError } from '../errors.js';
import { KafkaRecord, TimestampType, topicPartitionId, type KafkaHeader } from './kafka-record.js';

/** Which kind of cluster the Kafka event source polls: Amazon MSK or a self-managed Apache Kafka cluster. */
export const KafkaEventSource = {
  Msk: 'aws:kafka',
  SelfManaged: 'SelfManagedKafka',
} as const;
/** The `eventSource` value of a Lambda Kafka event. */
export type KafkaEventSource = (typeof KafkaEventSource)[keyof typeof KafkaEventSource];

/**
 * Every `eventSource` spelling accepted, with the source it names. Lambda writes `SelfManagedKafka`; Powertools'
 * sample events (and some AWS samples) write `aws:SelfManagedKafka`, read as the same source.
 */
const EVENT_SOURCES: ReadonlyMap<string, KafkaEventSource> = new Map<string, KafkaEventSource>([
  [KafkaEventSource.Msk, KafkaEventSource.Msk],
  [KafkaEventSource.SelfManaged, KafkaEventSource.SelfManaged],
  ['aws:SelfManagedKafka', KafkaEventSource.SelfManaged],
]);

/**
 * The raw record shape inside a Lambda Kafka event. `key` and `value` are base64; each header is a one-entry
 * object mapping the header name to its bytes as numbers (Lambda writes Java's signed bytes, -128..127).
 */
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

/** The raw Lambda Kafka event: records grouped under `"<topic>-<partition>"`. */
export interface RawKafkaEvent {
  eventSource: string;
  eventSourceArn?: string;
  bootstrapServers?: string;
  records: Record<string, RawKafkaRecord[]>;
}

/** A parsed batch: every readable record, and one error for each record that could not be read. */
export interface ParsedKafkaBatch {
  /** `aws:kafka` or `SelfManagedKafka` (also for an event spelled `aws:SelfManagedKafka`). */
  readonly eventSource: KafkaEventSource;
  /** The MSK cluster ARN; `undefined` for self-managed Kafka. */
  readonly eventSourceArn: string | undefined;
  /** The brokers, split from the event's comma-separated string; empty when the event names none. */
  readonly bootstrapServers: readonly string[];
  /** Every valid record, in event order. */
  readonly records: readonly KafkaRecord[];
  /** One error per record that could not be read; report these failed so Lambda does not drop them. */
  readonly malformed: readonly MalformedRecordError[];
}

const TIMESTAMP_TYPES: readonly string[] = Object.values(TimestampType);

/** A Lambda Kafka event whose envelope is checked and whose records are not parsed yet. */
export interface KafkaEventEnvelope {
  /** `aws:kafka` or `SelfManagedKafka` (also for an event spelled `aws:SelfManagedKafka`). */
  readonly eventSource: KafkaEventSource;
  /** The MSK cluster ARN; `undefined` for self-managed Kafka. */
  readonly eventSourceArn: string | undefined;
  /** The brokers, split from the event's comma-separated string; empty when the event names none. */
  readonly bootstrapServers: readonly string[];
  /** Each `"<topic>-<partition>"` key of `records` with its raw records, in event order. */
  readonly entries: ReadonlyArray<readonly [entryKey: string, records: readonly unknown[]]>;
}

/**
 * Checks what makes a Lambda Kafka event usable as a whole, without parsing a record: it is an object, its
 * `eventSource` is `aws:kafka` or `SelfManagedKafka` (or `aws:SelfManagedKafka`, as Powertools' samples spell it),
 * `records` is an object and every entry of it is an array.
 * Throws MalformedEventError naming the first of these that fails. A non-string `eventSourceArn` or
 * `bootstrapServers` is read as absent, since nothing in processing depends on them.
 */
export function readKafkaEventEnvelope(event: unknown): KafkaEventEnvelope {
  if (!isPlainObject(event)) throw new MalformedEventError(`a Kafka event must be an object, got ${describe(event)}`);
  const source = typeof event.eventSource === 'string' ? EVENT_SOURCES.get(event.eventSource) : undefined;
  if (source === undefined) {
    throw new MalformedEventError(
      `eventSource must be "${KafkaEventSource.Msk}" or "${KafkaEventSource.SelfManaged}" (also spelled ` +
        `"aws:SelfManagedKafka"), got ${describe(event.eventSource)}`,
    );
  }
  const grouped = event.records;
  if (!isPlainObject(grouped)) {
    throw new MalformedEventError(`records must be an object keyed "<topic>-<partition>", got ${describe(grouped)}`);
  }
  // Checked before any record is parsed: a batch with a broken entry is refused whole, never half-processed.
  const entries = Object.entries(grouped);
  for (const [entryKey, entry] of entries) {
    if (!Array.isArray(entry)) {
      throw new MalformedEventError(`records["${entryKey}"] must be an array of records, got ${describe(entry)}`);
    }
  }
  const servers = event.bootstrapServers;
  return {
    eventSource: source,
    eventSourceArn: typeof event.eventSourceArn === 'string' ? event.eventSourceArn : undefined,
    bootstrapServers:
      typeof servers === 'string'
        ? servers
            .split(',')
            .map((server) => server.trim())
            .filter((server) => server !== '')
        : [],
    entries: entries as Array<[string, unknown[]]>,
  };
}

/**
 * Parses a Lambda Kafka event.
 *
 * Throws MalformedEventError only when the event as a whole is unusable (see {@link readKafkaEventEnvelope}). Any
 * other fault is confined to its record: it becomes a MalformedRecordError in `malformed` and the other records are
 * still returned.
 */
export function parseKafkaEvent(event: unknown): ParsedKafkaBatch {
  const { entries, ...envelope } = readKafkaEventEnvelope(event);
  const records: KafkaRecord[] = [];
  const malformed: MalformedRecordError[] = [];
  for (const [entryKey, entry] of entries) {
    entry.forEach((raw, index) => {
      try {
        records.push(parseKafkaRecord(raw, entryKey, index));
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        malformed.push(error);
      }
    });
  }
  return { ...envelope, records, malformed };
}

/** The offset of a raw record if it has a readable one (a non-negative safe integer), whatever else is wrong. */
export function readableOffset(raw: unknown): number | undefined {
  if (!isPlainObject(raw)) return undefined;
  const offset = raw.offset;
  return typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0 ? offset : undefined;
}

/**
 * Parses the raw record found at `records[entryKey][index]` of a Lambda Kafka event.
 *
 * Throws MalformedRecordError, located `records["<entryKey>"][<index>]`, naming the first field that is wrong; its
 * `offset` is set whenever the record's offset itself is valid, so the caller can report that offset failed.
 *
 * Accepted shapes: `timestampType` is `CREATE_TIME` or `LOG_APPEND_TIME` only (see {@link TimestampType});
 * `key` absent or null means no key; `value` null is a tombstone and `""` an empty value; `headers` absent or null
 * means no headers; header bytes may be signed (-128..127, as Lambda writes Java bytes) or unsigned (0..255).
 */
export function parseKafkaRecord(raw: unknown, entryKey: string, index: number): KafkaRecord {
  // The offset is read first so that every error can carry it.
  const offset = readableOffset(raw);
  try {
    return readRecord(raw, entryKey, offset);
  } catch (error) {
    if (!(error instanceof RecordProblem)) throw error;
    throw new MalformedRecordError(error.message, {
      location: `records["${entryKey}"][${index}]`,
      topicPartition: entryKey,
      offset,
    });
  }
}

/** A fault in a field of a raw record; {@link parseKafkaRecord} adds where the record sits. */
class RecordProblem extends Error {}

function readRecord(raw: unknown, entryKey: string, offset: number | undefined): KafkaRecord {
  if (!isPlainObject(raw)) throw new RecordProblem(`a record must be an object, got ${describe(raw)}`);
  if (offset === undefined) {
    throw new RecordProblem(`offset must be a non-negative integer, got ${describe(raw.offset)}`);
  }
  const { topic, partition, timestamp, timestampType } = raw;
  if (typeof topic !== 'string' || topic === '') {
    throw new RecordProblem(`topic must be a non-empty string, got ${describe(topic)}`);
  }
  if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0) {
    throw new RecordProblem(`partition must be a non-negative integer, got ${describe(partition)}`);
  }
  const actual = topicPartitionId(topic, partition);
  if (actual !== entryKey) {
    throw new RecordProblem(
      `the record is for "${actual}" (topic "${topic}", partition ${partition}) but is listed under "${entryKey}"`,
    );
  }
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw new RecordProblem(`timestamp must be a finite number, got ${describe(timestamp)}`);
  }
  // NO_TIMESTAMP_TYPE (pre-0.10 message format) is refused: Lambda documents only these two and KafkaRecord has no
  // way to say "no timestamp".
  if (typeof timestampType !== 'string' || !TIMESTAMP_TYPES.includes(timestampType)) {
    throw new RecordProblem(`timestampType must be ${TIMESTAMP_TYPES.join(' or ')}, got ${describe(timestampType)}`);
  }
  return new KafkaRecord({
    topic,
    partition,
    offset,
    timestamp,
    timestampType: timestampType as TimestampType,
    key: raw.key === undefined || raw.key === null ? undefined : decodeBase64(raw.key, 'key'),
    value: raw.value === null ? null : decodeBase64(raw.value, 'value'),
    headers: parseHeaders(raw.headers),
  });
}

/**
 * Decodes base64 exactly as Java's `Base64.getDecoder()` accepts it (the basic RFC 4648 decoder the JVM side of a
 * Kafka pipeline uses), because Buffer.from silently skips or misreads what it cannot decode:
 *
 * ```text
 * (c c c c)* (c c [==] | c c c [=])?      c: A-Z a-z 0-9 + /
 * ```
 *
 * Padding is optional, but when present it completes the last group of four; a lone character in the last group
 * (length 4n + 1) holds no byte and is refused; nothing outside the standard alphabet is read (no whitespace, no
 * base64url `-` or `_`); the unused low bits of the last character are ignored, not checked (the AWS docs' sample key
 * `abcDEFghiJKLmnoPQRstuVWXyz1234==` decodes, as in Java). Checked against JDK 17 (`test/kafka-event.test.ts`).
 */
function decodeBase64(text: unknown, field: string): Buffer {
  if (typeof text !== 'string') {
    const nullable = field === 'value' ? 'a base64 string or null' : 'a base64 string, null or absent';
    throw new RecordProblem(`${field} must be ${nullable}, got ${describe(text)}`);
  }
  // The common case costs one decode and a few native checks; the diagnosis runs only for text that fails.
  const decoded = Buffer.from(text, 'base64');
  if (isJavaBase64(text, decoded.length)) return decoded;
  throw new RecordProblem(`${field} is not valid base64: ${base64Problem(text) ?? 'Java would not decode it'}`);
}

/**
 * Whether `text`, which Buffer.from decoded to `decodedLength` bytes, follows the grammar of {@link decodeBase64},
 * without a regular expression or a loop in JavaScript. The shape is read from the length and the trailing `=`.
 * Buffer.from skips every character outside its alphabet (whitespace, `!`, an inner `=`) or stops at it, so then it
 * yields fewer bytes than the data characters would: with d data characters and d mod 4 ≠ 1, each one missing lowers
 * ⌊3d/4⌋. What the length cannot tell is caught apart: base64url's `-` and `_`, which Buffer.from reads as data, and
 * characters above U+007F, which its fallback decoder may read by their low byte (`Ł`, U+0141, as `A`).
 */
function isJavaBase64(text: string, decodedLength: number): boolean {
  const length = text.length;
  const padding =
    length === 0 || text.charCodeAt(length - 1) !== EQUALS ? 0 : text.charCodeAt(length - 2) === EQUALS ? 2 : 1;
  const data = length - padding;
  if (padding > 0 ? length % 4 !== 0 : data % 4 === 1) return false;
  if (decodedLength !== Math.floor((data * 3) / 4)) return false;
  if (text.includes('-') || text.includes('_')) return false;
  return Buffer.byteLength(text, 'utf8') === length;
}

const EQUALS = 0x3d;

function base64Problem(text: string): string | undefined {
  const stray = /[^A-Za-z0-9+/=]/.exec(text);
  if (stray) return `it contains ${JSON.stringify(stray[0])} at position ${stray.index}, outside the base64 alphabet`;
  const data = text.replace(/=+$/, '');
  const padding = text.length - data.length;
  if (data.includes('=')) return `"=" appears at position ${data.indexOf('=')}, before the end`;
  if (padding > 2) return `it ends with ${padding} "=" but at most 2 are allowed`;
  if (padding > 0 && text.length % 4 !== 0) {
    return `with "=" padding its length must be a multiple of 4, but it is ${text.length}`;
  }
  if (data.length % 4 === 1) {
    return `its length ${data.length} leaves one character in the last group of four, which holds no byte`;
  }
  return undefined;
}

/** Shared by every record without headers (most of them). */
const NO_HEADERS: readonly KafkaHeader[] = Object.freeze([]);

function parseHeaders(raw: unknown): readonly KafkaHeader[] {
  // Lambda always sends `headers`; tolerating its absence (or Go's null for an empty slice) loses nothing.
  if (raw === undefined || raw === null) return NO_HEADERS;
  if (!Array.isArray(raw)) throw new RecordProblem(`headers must be an array, got ${describe(raw)}`);
  if (raw.length === 0) return NO_HEADERS;
  return raw.map((entry: unknown, i): KafkaHeader => {
    if (!isPlainObject(entry)) throw new RecordProblem(`headers[${i}] must be an object, got ${describe(entry)}`);
    const names = Object.keys(entry);
    if (names.length !== 1) {
      const given = names.length === 0 ? 'none' : `${names.length} (${names.map((n) => `"${n}"`).join(', ')})`;
      throw new RecordProblem(`headers[${i}] must have exactly one header name, got ${given}`);
    }
    const name = names[0]!;
    const bytes = entry[name];
    if (!Array.isArray(bytes))
      throw new RecordProblem(`headers[${i}] "${name}" must be an array of bytes, got ${describe(bytes)}`);
    const bad = bytes.findIndex((b: unknown) => typeof b !== 'number' || !Number.isInteger(b) || b < -128 || b > 255);
    if (bad !== -1) {
      throw new RecordProblem(
        `headers[${i}] "${name}" byte ${bad} must be an integer from -128 to 255, got ${describe(bytes[bad])}`,
      );
    }
    // Buffer.from keeps the low 8 bits, turning Java's signed -61 into 0xc3.
    return { name, value: Buffer.from(bytes as number[]) };
  });
}

/** Whether `value` is an object that is neither null nor an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `the ${typeof value} ${String(value)}`;
}
