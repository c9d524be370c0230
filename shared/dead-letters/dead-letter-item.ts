import {
  isWellFormedText,
  PARKED_KEY_BYTES,
  keyBytes,
  keyFromBytes,
  type DeadLetter,
  type ParkedKey,
  type ParkReason,
  type SourceSkip,
} from './dead-letter.js';
import { topicPartitionId, type TimestampType } from '../kafka/kafka-record.js';
import type { FailureCount } from '../tokens/token-store.js';
import { tokenKeys } from '../tokens/token-table.js';

/**
 * How dead letters, parked keys, attempt counts and skips are stored in the token table (document-client form:
 * Buffers become binary attributes, so bytes are kept as delivered).
 */
type Item = Record<string, unknown>;

/** A parked key's entry in the partition item's `parked` map: short names, since every checkpoint carries them. */
export function parkedEntryItem(entry: {
  key: string;
  synthetic: boolean;
  count: number;
  since: number;
  nextAttemptAt: number;
  leaseEpoch: number;
}): Item {
  const whole = keyBytes(entry.key).length <= PARKED_KEY_BYTES;
  return {
    // A long key keeps its head, for people; the entry is found by its digest.
    ...storedKey('k', whole ? entry.key : headOf(entry.key)),
    ...(whole ? {} : { kt: true }),
    y: entry.synthetic,
    c: entry.count,
    r: 0,
    t: entry.since,
    a: 0,
    n: entry.nextAttemptAt,
    le: entry.leaseEpoch,
    lu: 0,
  };
}

/**
 * A sequencing key as an attribute: text when UTF-8 can carry it, else binary under `<name>Bytes` (the key of bytes
 * that are not UTF-8 holds a lone surrogate, which a DynamoDB string cannot).
 */
function storedKey(name: string, key: string): Item {
  return isWellFormedText(key) ? { [name]: key } : { [`${name}Bytes`]: keyBytes(key) };
}

/** The first characters of a long key, never cutting a surrogate pair in two. */
function headOf(key: string): string {
  const head = key.slice(0, 128);
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}

function keyOf(item: Item, name: string): string {
  const bytes = item[`${name}Bytes`];
  return bytes === undefined ? String(item[name]) : keyFromBytes(Buffer.from(bytes as Uint8Array));
}

/** Reads the partition item's `parked` map. */
export function parkedKeysOf(map: unknown): Map<string, ParkedKey> {
  const out = new Map<string, ParkedKey>();
  if (map === null || typeof map !== 'object') return out;
  for (const [digest, raw] of Object.entries(map as Record<string, Item>)) {
    out.set(digest, {
      digest,
      key: keyOf(raw, 'k'),
      truncated: raw.kt === true,
      synthetic: raw.y === true,
      parked: Number(raw.c ?? 0),
      resolved: Number(raw.r ?? 0),
      since: Number(raw.t ?? 0),
      attempts: Number(raw.a ?? 0),
      nextAttemptAt: Number(raw.n ?? 0),
      ...(raw.e === undefined ? {} : { lastError: String(raw.e) }),
      lease: {
        owner: raw.lo === undefined ? undefined : String(raw.lo),
        epoch: Number(raw.le ?? 0),
        until: Number(raw.lu ?? 0),
      },
    });
  }
  return out;
}

/** Attempt counts as stored: `[[offset, attempts, firstFailureAt], ...]` in JSON. */
export function failuresItem(failures: readonly FailureCount[]): string {
  return JSON.stringify(failures.map((f) => [f.offset, f.attempts, f.firstFailureAt]));
}

export function failuresOf(text: unknown): Map<number, FailureCount> {
  const out = new Map<number, FailureCount>();
  if (typeof text !== 'string') return out;
  try {
    for (const [offset, attempts, firstFailureAt] of JSON.parse(text) as Array<[number, number, number]>) {
      out.set(Number(offset), {
        offset: Number(offset),
        attempts: Number(attempts),
        firstFailureAt: Number(firstFailureAt),
      });
    }
  } catch {
    // Counts are an optimisation of when to park: unreadable ones start again from zero, nothing is lost.
  }
  return out;
}

/** A letter as an item of the token table. */
export function letterItem(letter: DeadLetter): Item {
  return {
    ...tokenKeys.letter(
      letter.processor,
      topicPartitionId(letter.topic, letter.partition),
      letter.digest,
      letter.offset,
    ),
    kind: 'letter',
    processor: letter.processor,
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    timestamp: letter.timestamp,
    timestampType: letter.timestampType,
    ...storedKey('sequencingKey', letter.sequencingKey),
    synthetic: letter.synthetic,
    digest: letter.digest,
    ...(letter.key === undefined ? {} : { key: letter.key }),
    value: letter.value,
    headers: letter.headers.map((h) => ({ n: h.name, v: h.value })),
    ...(letter.raw === undefined ? {} : { raw: letter.raw }),
    reason: letter.reason,
    error: { ...letter.error },
    attempts: letter.attempts,
    firstFailureAt: letter.firstFailureAt,
    lastFailureAt: letter.lastFailureAt,
    parkedAt: letter.parkedAt,
    epoch: letter.epoch,
  };
}

/** Reads a letter item. Binary attributes come back as Uint8Array; they are handed out as Buffers. */
export function letterFrom(item: Item): DeadLetter {
  const bytes = (value: unknown) => Buffer.from(value as Uint8Array);
  const error = (item.error ?? {}) as Record<string, unknown>;
  return {
    processor: String(item.processor),
    topic: String(item.topic),
    partition: Number(item.partition),
    offset: Number(item.offset),
    timestamp: Number(item.timestamp),
    timestampType: item.timestampType as TimestampType,
    sequencingKey: keyOf(item, 'sequencingKey'),
    synthetic: item.synthetic === true,
    digest: String(item.digest),
    key: item.key === undefined || item.key === null ? undefined : bytes(item.key),
    value: item.value === undefined || item.value === null ? null : bytes(item.value),
    headers: ((item.headers ?? []) as Array<{ n: string; v: unknown }>).map((h) => ({ name: h.n, value: bytes(h.v) })),
    ...(item.raw === undefined ? {} : { raw: String(item.raw) }),
    reason: item.reason as ParkReason,
    error: {
      name: String(error.name ?? 'Error'),
      message: String(error.message ?? ''),
      ...(error.stack === undefined ? {} : { stack: String(error.stack) }),
    },
    attempts: Number(item.attempts ?? 0),
    firstFailureAt: Number(item.firstFailureAt ?? 0),
    lastFailureAt: Number(item.lastFailureAt ?? 0),
    parkedAt: Number(item.parkedAt ?? 0),
    epoch: Number(item.epoch ?? 0),
  };
}

/** A source skip as an item. */
export function skipItem(skip: SourceSkip): Item {
  return {
    ...tokenKeys.skip(skip.processor, topicPartitionId(skip.topic, skip.partition), skip.from),
    kind: 'skip',
    ...skip,
  };
}

export function skipFrom(item: Item): SourceSkip {
  return {
    processor: String(item.processor),
    topic: String(item.topic),
    partition: Number(item.partition),
    from: Number(item.from),
    to: Number(item.to),
    at: Number(item.at),
    requestId: String(item.requestId),
  };
}
