import { createHash } from 'node:crypto';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { keyDigest } from '../dead-letters/dead-letter.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import { EffectRefusal, EffectRefusedError } from './effect-errors.js';

/** Where a record sits, as the effect helpers need it: the parts of `HandlerContext` they read. */
export interface RecordPosition {
  readonly processor: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly sequencingKey: string;
}

/** The expression placeholders the helpers add; an effect may not use them itself. */
export const POSITION_NAME = '#tidemarkPosition';
export const POSITION_VALUE = ':tidemarkOffset';

/**
 * The attribute that holds, on an item, the offset of the last record of one sequencing key (of one processor, in
 * one topic partition) applied to it: `tidemark:<processor>:<topic>-<partition>:<key digest>`. A key's records
 * come in one partition and in offset order, so "below this offset" means "applied before"; the partition is in the
 * name, so a key that moves to another partition (a topic given more partitions) starts a position of its own there
 * instead of comparing offsets of two partitions. Splits and merges of segments move no key between partitions.
 */
export function positionAttribute(position: RecordPosition): string {
  return `tidemark:${position.processor}:${topicPartitionId(position.topic, position.partition)}:${keyDigest(position.sequencingKey)}`;
}

/** The condition every exactly-once write carries: the item never saw this key, or only its earlier records. */
export const POSITION_CONDITION = `(attribute_not_exists(${POSITION_NAME}) OR ${POSITION_NAME} < ${POSITION_VALUE})`;

/** `(position condition) AND (the effect's own condition)`. */
export function withPositionCondition(condition: string | undefined): string {
  return condition === undefined || condition.trim() === ''
    ? POSITION_CONDITION
    : `${POSITION_CONDITION} AND (${condition})`;
}

/** The first top-level `SET` keyword: not a placeholder (`#set`, `:set`), not inside a name or a document path. */
const SET_CLAUSE = /(?<![#:\w.])SET(?![\w])/i;

/**
 * The effect's update expression with `SET <position> = <offset>` added: into its own SET clause when it has one
 * (DynamoDB allows each clause once), else as a clause of its own. Clause keywords are reserved words, so they can
 * only appear as keywords.
 */
export function withPositionUpdate(expression: string): string {
  const assignment = `${POSITION_NAME} = ${POSITION_VALUE}`;
  const match = SET_CLAUSE.exec(expression);
  if (!match) return `${expression.trim()} SET ${assignment}`;
  const at = match.index + match[0].length;
  return `${expression.slice(0, at)} ${assignment},${expression.slice(at)}`;
}

/** Names and values of the effect with the position's added; an effect that uses the helper's own is refused. */
export function withPositionPlaceholders(
  position: RecordPosition,
  names: Record<string, string> | undefined,
  values: Record<string, unknown> | undefined,
): { names: Record<string, string>; values: Record<string, unknown> } {
  if (names && Object.hasOwn(names, POSITION_NAME)) throw reservedPlaceholder(POSITION_NAME);
  if (values && Object.hasOwn(values, POSITION_VALUE)) throw reservedPlaceholder(POSITION_VALUE);
  return {
    names: { ...names, [POSITION_NAME]: positionAttribute(position) },
    values: { ...values, [POSITION_VALUE]: position.offset },
  };
}

function reservedPlaceholder(name: string): EffectRefusedError {
  return new EffectRefusedError(
    EffectRefusal.Invalid,
    `the effect uses the placeholder ${name}, which the exactly-once helper adds itself: rename it`,
  );
}

/** The stored offset of a raw item's position (`{ N: "42" }`), or undefined when the item has none. */
export function storedOffset(item: Record<string, unknown> | undefined, attribute: string): number | undefined {
  const value = item?.[attribute] as { N?: string } | number | undefined;
  if (typeof value === 'number') return value;
  return value?.N === undefined ? undefined : Number(value.N);
}

/**
 * A canonical text of a request (keys sorted; sets, binary, bigints and numbers each in a form of their own), for
 * hashing and for the size estimate: the same effect always gives the same text.
 */
export function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `b"${Buffer.from(value).toString('base64')}"`;
  if (value instanceof Set) return `set[${[...value].map(canonical).sort().join(',')}]`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    // A NumberValue of the document client (a number too large for a double): its text is the number.
    if (value instanceof NumberValue) return value.toString();
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(String(value));
}

/** The identity of an item: its table and key. */
export function itemIdentity(tableName: string | undefined, key: Record<string, unknown> | undefined): string {
  return `${tableName ?? ''}\u0000${canonical(key ?? {})}`;
}

/** SHA-256 of a text, as base64url. */
export function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
