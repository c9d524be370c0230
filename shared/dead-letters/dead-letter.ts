import { createHash } from 'node:crypto';
import type { KafkaHeader, KafkaRecordFields, TimestampType } from '../kafka/kafka-record.js';

/** Why a record was parked. */
export const ParkReason = {
  /** It failed `deadLetter.afterAttempts` handler attempts over its deliveries. */
  Failed: 'failed',
  /** Its handler threw an error that is not retriable (`NonRetriableError`). */
  NonRetriable: 'non-retriable',
  /** It could not be read from the event. */
  Malformed: 'malformed',
  /** Its sequencing key could not be derived, or its topic is not the processor's. */
  Unroutable: 'unroutable',
  /** An earlier record of its key is parked: it waits behind it, never run out of order. */
  BehindParked: 'behind-parked',
} as const;
export type ParkReason = (typeof ParkReason)[keyof typeof ParkReason];

/**
 * The per-partition keys malformed and unroutable records are parked under: they keep each other's order and never
 * hold back a real key.
 */
export const SyntheticKey = { Malformed: '(malformed)', Unroutable: '(unroutable)' } as const;
export type SyntheticKey = (typeof SyntheticKey)[keyof typeof SyntheticKey];

/** Whether a key names one of the synthetic keys. */
export function isSyntheticKey(key: string): key is SyntheticKey {
  return key === SyntheticKey.Malformed || key === SyntheticKey.Unroutable;
}

/**
 * A short, safe name for a sequencing key in item keys and map paths: 16 bytes of SHA-256, base64url. Synthetic keys
 * are hashed apart from real keys of the same text.
 */
export function keyDigest(key: string, synthetic = false): string {
  return createHash('sha256')
    .update(synthetic ? `\u0000${key}` : keyBytes(key))
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

/** Whether a string is well-formed UTF-16 (no lone surrogate), so UTF-8 can carry it unchanged. */
export function isWellFormedText(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * The bytes a key is hashed and stored as. A well-formed key is its UTF-8; a key that is not (the sequencing key of
 * key bytes that are not UTF-8 starts with a lone surrogate) is 0xFF, which UTF-8 never contains, then its UTF-16.
 */
export function keyBytes(key: string): Buffer {
  return isWellFormedText(key)
    ? Buffer.from(key, 'utf8')
    : Buffer.concat([Buffer.from([0xff]), Buffer.from(key, 'utf16le')]);
}

/** Reads {@link keyBytes} back. */
export function keyFromBytes(bytes: Buffer): string {
  return bytes[0] === 0xff ? bytes.subarray(1).toString('utf16le') : bytes.toString('utf8');
}

/** The error a letter keeps: enough to diagnose without the logs. */
export interface LetterError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** Longest stack and message kept on a letter. */
const STACK_LIMIT = 4_096;
const MESSAGE_LIMIT = 2_048;

/** An error as a letter keeps it: name, message and the head of its stack. */
export function letterError(error: unknown): LetterError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error).slice(0, MESSAGE_LIMIT) };
  return {
    name: error.name,
    message: error.message.slice(0, MESSAGE_LIMIT),
    ...(error.stack ? { stack: error.stack.slice(0, STACK_LIMIT) } : {}),
  };
}

/** A parked record: everything needed to handle it later and to diagnose it. Bytes are kept as delivered. */
export interface DeadLetter {
  readonly processor: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: TimestampType;
  /** The sequencing key, or a {@link SyntheticKey} for malformed and unroutable records. */
  readonly sequencingKey: string;
  readonly synthetic: boolean;
  /** {@link keyDigest} of the sequencing key. */
  readonly digest: string;
  readonly key: Buffer | undefined;
  readonly value: Buffer | null;
  readonly headers: readonly KafkaHeader[];
  /** The event's entry as delivered, for a record that could not be read (JSON, at most 300 KB). */
  readonly raw?: string;
  readonly reason: ParkReason;
  readonly error: LetterError;
  /** Handler attempts over all deliveries and redrives (0 for records that never ran). */
  readonly attempts: number;
  readonly firstFailureAt: number;
  readonly lastFailureAt: number;
  readonly parkedAt: number;
  /** The partition claim's epoch that parked it. */
  readonly epoch: number;
}

/** A parked key of one partition, as the partition item keeps it. The key is parked while `parked > resolved`. */
export interface ParkedKey {
  readonly digest: string;
  readonly key: string;
  readonly synthetic: boolean;
  /** Letters parked under this entry. */
  readonly parked: number;
  /** Letters redriven or deleted. */
  readonly resolved: number;
  /** When the entry's first letter was parked. */
  readonly since: number;
  /** Failed redrives since the entry was made. */
  readonly attempts: number;
  /** When the next automatic redrive is due. */
  readonly nextAttemptAt: number;
  /** The last redrive error, if any (at most {@link PARKED_ERROR_CHARS} characters). */
  readonly lastError?: string;
  /**
   * Whether `key` holds only the head of a key too long to keep whole on the partition item (past
   * {@link PARKED_KEY_BYTES}); the entry is then matched by its digest.
   */
  readonly truncated: boolean;
  /** The redrive lease: its epoch grows with every grant. */
  readonly lease: { readonly owner: string | undefined; readonly epoch: number; readonly until: number };
}

/** Longest key kept whole in a parked key's entry; longer ones keep their head and are matched by digest. */
export const PARKED_KEY_BYTES = 512;

/** Characters of a parked key's last redrive error kept on the partition item (the letter keeps the whole error). */
export const PARKED_ERROR_CHARS = 200;

/**
 * Bytes the parked keys of one partition may take on its item, whatever `deadLetter.maxParkedKeys` allows: past
 * it a record that would park a new key is unparkable, as at the count bound.
 */
export const PARKED_MAP_MAX_BYTES = 64 * 1024;

/** About how many bytes a parked key's entry takes on the partition item. */
export function parkedEntrySize(entry: Pick<ParkedKey, 'key' | 'lastError' | 'lease'>): number {
  return (
    160 +
    Math.min(keyBytes(entry.key).length, PARKED_KEY_BYTES) +
    (entry.lastError?.length ?? 0) * 3 +
    (entry.lease.owner?.length ?? 0)
  );
}

/** An event entry as text, as a letter keeps it: JSON where it can be, else whatever `String` makes of it. */
export function entryText(raw: unknown): string {
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return String(raw);
  }
}

/** Whether a key still has letters to redrive. */
export function isParked(entry: ParkedKey): boolean {
  return entry.parked > entry.resolved;
}

/** A range of offsets the event source moved past although they were delivered and not done. */
export interface SourceSkip {
  readonly processor: string;
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
  readonly to: number;
  readonly at: number;
  /** The request id of the invocation whose batch started above the range. */
  readonly requestId: string;
}

/** Builds the letter of a readable record. */
export function letterOf(
  record: KafkaRecordFields,
  fields: Pick<DeadLetter, 'processor' | 'sequencingKey' | 'synthetic' | 'reason' | 'error' | 'attempts' | 'epoch'> & {
    readonly firstFailureAt?: number;
    readonly now: number;
  },
): DeadLetter {
  return {
    processor: fields.processor,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    sequencingKey: fields.sequencingKey,
    synthetic: fields.synthetic,
    digest: keyDigest(fields.sequencingKey, fields.synthetic),
    key: record.key,
    value: record.value,
    headers: record.headers,
    reason: fields.reason,
    error: fields.error,
    attempts: fields.attempts,
    firstFailureAt: fields.firstFailureAt ?? fields.now,
    lastFailureAt: fields.now,
    parkedAt: fields.now,
    epoch: fields.epoch,
  };
}

/** Roughly how many bytes the letter's item takes in DynamoDB (names, values and a margin for the rest). */
export function letterSize(letter: DeadLetter): number {
  let size = 600 + letter.sequencingKey.length * 3 + letter.topic.length;
  size += letter.key?.length ?? 0;
  size += letter.value?.length ?? 0;
  for (const header of letter.headers) size += header.name.length * 3 + header.value.length + 8;
  size += (letter.raw?.length ?? 0) * 3;
  size += (letter.error.name.length + letter.error.message.length + (letter.error.stack?.length ?? 0)) * 3;
  return size;
}

/** The largest letter parked: DynamoDB's item limit is 400 KB; the rest is kept for the item's other attributes. */
export const MAX_LETTER_BYTES = 350_000;
