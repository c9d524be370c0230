import { isUtf8 } from 'node:buffer';
import { ConfigurationError, SequencingKeyError } from '../errors.js';
import type { KafkaRecord } from '../kafka/kafka-record.js';

/**
 * What must stay in order. Records whose sequencing keys are equal are handled one after another in offset order;
 * records with different keys may run at the same time.
 *
 * - `key`: the Kafka record key (the default).
 * - `header`: the last value of the named header.
 * - `jsonField`: a field of the JSON value, by dot path (`"order.id"`; a numeric segment indexes an array).
 * - `partition`: the whole partition is one sequence (strict partition order, no parallelism inside it).
 * - `none`: every record is its own sequence (full concurrency).
 */
export type SequencingPolicy =
  | { readonly kind: 'key' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'jsonField'; readonly path: string }
  | { readonly kind: 'partition' }
  | { readonly kind: 'none' };

const FIELDS_BY_KIND = {
  key: [],
  header: ['name'],
  jsonField: ['path'],
  partition: [],
  none: [],
} as const satisfies Record<SequencingPolicy['kind'], readonly string[]>;

const KINDS = Object.keys(FIELDS_BY_KIND) as Array<SequencingPolicy['kind']>;

/** Factories for {@link SequencingPolicy}; `header` and `jsonField` throw ConfigurationError on a bad argument. */
export const Sequencing = {
  /**
   * Order by the Kafka record key, as {@link sequencingText} makes it text: a UTF-8 key is its text, any other key a
   * form no UTF-8 key can take. A record without a key is ordered with no other record.
   */
  key: (): SequencingPolicy => validateSequencingPolicy({ kind: 'key' }),
  /**
   * Order by the last value of header `name`, made text as keys are ({@link sequencingText}). A record without the
   * header cannot be routed.
   */
  header: (name: string): SequencingPolicy => validateSequencingPolicy({ kind: 'header', name }),
  /** Order by the JSON field at dot path `path` (e.g. `"order.id"`). A record without it cannot be routed. */
  jsonField: (path: string): SequencingPolicy => validateSequencingPolicy({ kind: 'jsonField', path }),
  /** Order the whole partition: one record at a time per partition. */
  partition: (): SequencingPolicy => validateSequencingPolicy({ kind: 'partition' }),
  /** No ordering: every record may run concurrently with every other. */
  none: (): SequencingPolicy => validateSequencingPolicy({ kind: 'none' }),
} as const;

/**
 * Checks a sequencing policy given as data (for example from configuration) and returns a frozen copy holding only
 * its known fields. Throws ConfigurationError saying what was given and which kinds are allowed.
 */
export function validateSequencingPolicy(policy: unknown): SequencingPolicy {
  const allowed = `allowed kinds: ${KINDS.join(', ')}`;
  if (policy === null || typeof policy !== 'object' || Array.isArray(policy)) {
    throw new ConfigurationError(
      `a sequencing policy must be an object such as { kind: 'key' }, got ${describe(policy)}; ${allowed}`,
    );
  }
  const given = policy as Record<string, unknown>;
  const kind = given.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(FIELDS_BY_KIND, kind)) {
    throw new ConfigurationError(`unknown sequencing policy kind ${describe(kind)}; ${allowed}`);
  }
  const known: readonly string[] = FIELDS_BY_KIND[kind as SequencingPolicy['kind']];
  // A stray field usually means a mistake (e.g. `{ kind: 'key', name: 'tenant' }` meant a header), so refuse it.
  const unexpected = Object.keys(given).filter((field) => field !== 'kind' && !known.includes(field));
  if (unexpected.length > 0) {
    const expected = known.length === 0 ? 'no other fields' : `only ${known.join(', ')}`;
    throw new ConfigurationError(
      `sequencing policy kind "${kind}" takes ${expected}, got also ${unexpected.join(', ')}`,
    );
  }
  switch (kind) {
    case 'header': {
      const name = given.name;
      if (typeof name !== 'string' || name === '') {
        throw new ConfigurationError(`sequencing by header needs a non-empty header name, got ${describe(name)}`);
      }
      return Object.freeze({ kind, name });
    }
    case 'jsonField': {
      const path = given.path;
      if (typeof path !== 'string' || path.split('.').some((segment) => segment === '')) {
        throw new ConfigurationError(
          `sequencing by JSON field needs a dot path of non-empty field names such as "order.id", got ${describe(path)}`,
        );
      }
      return Object.freeze({ kind, path });
    }
    default:
      return Object.freeze({ kind: kind as 'key' | 'partition' | 'none' });
  }
}

/**
 * The record's sequencing key under `policy`. Throws SequencingKeyError, naming the record's topic-partition and
 * offset and what is missing, when a `header` or `jsonField` policy finds nothing to sequence by.
 */
export function sequencingKeyOf(policy: SequencingPolicy, record: KafkaRecord): string {
  switch (policy.kind) {
    case 'key':
      // Without a key Kafka promises no order with other records, so the record stands alone.
      return record.key === undefined ? ownKey(record) : sequencingText(record.key);
    case 'header': {
      const value = record.header(policy.name);
      if (value === undefined) {
        throw keyError(record, `header "${policy.name}"`, 'the record has no such header', { header: policy.name });
      }
      return sequencingText(value);
    }
    case 'jsonField':
      return jsonFieldOf(policy.path, record);
    case 'partition':
      return record.topicPartition;
    case 'none':
      return ownKey(record);
  }
}

/**
 * Starts the sequencing key of bytes that are not valid UTF-8: an unpaired high surrogate, which no UTF-8 text can
 * contain (see {@link sequencingText}).
 */
export const BINARY_KEY_PREFIX = '\uD800';

/**
 * The sequencing key of key (or header) bytes: distinct bytes always give distinct keys.
 *
 * - Bytes that are valid UTF-8 (including none) give their text, exactly as `bytes.toString('utf8')` does (a
 *   byte-order mark is kept), so Java `String.hashCode` routes them as Axon routes the same key.
 * - Any other bytes give {@link BINARY_KEY_PREFIX} (U+D800) followed by the bytes in standard padded base64.
 *
 * Why the two never meet: decoding valid UTF-8 yields well-formed UTF-16, since UTF-8 cannot encode the surrogate
 * code points U+D800–U+DFFF (`ED A0 80` and its kind are invalid, as are overlong forms, and `isUtf8` refuses them);
 * a high surrogate therefore only ever appears in such text followed by a low surrogate (U+DC00–U+DFFF). The binary
 * form's U+D800 is followed by a base64 character (never empty: empty bytes are valid UTF-8), an unpaired
 * surrogate, so it equals no UTF-8 key's text. Within each form the mapping is one-to-one: valid UTF-8 decodes
 * to one text only, and base64 is one-to-one. Every well-formed string is already some UTF-8 key's text, so an
 * ill-formed string is the only room left for the other keys without changing any UTF-8 key.
 *
 * Note that a key in binary form is not well-formed UTF-16: whatever stores or hashes it must keep the surrogate
 * (Node's UTF-8 encoder, e.g. `createHash().update(key)`, turns it into U+FFFD).
 *
 * The validity check is native and allocates nothing; only invalid bytes pay for the base64 text.
 */
export function sequencingText(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : BINARY_KEY_PREFIX + bytes.toString('base64');
}

/** A key no other record shares: the record's own position. */
function ownKey(record: KafkaRecord): string {
  return `${record.topicPartition}@${record.offset}`;
}

/**
 * The largest record value `jsonField` reads, in bytes: 1 MiB. A default broker takes record batches of at most
 * 1,048,588 bytes (`message.max.bytes`) including a 61-byte batch header, so every value it accepts fits, while a
 * value from a topic configured far larger cannot hold the dispatcher in `JSON.parse` for long. A larger value cannot
 * be routed (SequencingKeyError, parked as unroutable).
 */
export const MAX_JSON_KEY_VALUE_BYTES = 1_048_576;

/**
 * The deepest nesting of arrays and objects `jsonField` reads: 64 levels, far beyond any real event, far below what
 * overflows the stack (`JSON.stringify` of a field 10,000 levels deep throws RangeError). Checked on the raw bytes
 * before parsing, without recursion; a deeper value cannot be routed (SequencingKeyError, parked as unroutable).
 */
export const MAX_JSON_KEY_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * The deepest nesting of `[` and `{` in JSON text `bytes` when it passes `limit`, else undefined. Brackets inside
 * strings do not count (a backslash escapes the byte after it); UTF-8 never puts these ASCII bytes inside a
 * multi-byte character, so the bytes can be scanned as they are. Text that is not JSON is left to `JSON.parse`.
 */
function jsonDepthOver(bytes: Buffer, limit: number): number | undefined {
  // Passing the limit takes more than `limit` opening brackets: a shorter value cannot, and is not scanned.
  if (bytes.length <= limit) return undefined;
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > deepest) deepest = depth;
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) {
      depth--;
    }
  }
  return deepest > limit ? deepest : undefined;
}

function jsonFieldOf(path: string, record: KafkaRecord): string {
  const fail = (why: string, extra: Record<string, unknown> = {}) =>
    keyError(record, `JSON field "${path}"`, why, { path, ...extra });
  if (record.value === null) throw fail('the record is a tombstone (its value is null)');
  const bytes = record.value;
  if (bytes.length > MAX_JSON_KEY_VALUE_BYTES) {
    throw fail(
      `its value is ${bytes.length} bytes, more than the ${MAX_JSON_KEY_VALUE_BYTES} bytes read for a sequencing key`,
      { bytes: bytes.length, maxBytes: MAX_JSON_KEY_VALUE_BYTES },
    );
  }
  const depth = jsonDepthOver(bytes, MAX_JSON_KEY_DEPTH);
  if (depth !== undefined) {
    throw fail(
      `its value nests ${depth} levels deep, more than the ${MAX_JSON_KEY_DEPTH} levels read for a sequencing key`,
      { depth, maxDepth: MAX_JSON_KEY_DEPTH },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw fail(`its value is not valid JSON (${(error as Error).message})`);
  }
  let walked = '';
  for (const segment of path.split('.')) {
    const where = walked === '' ? 'the value' : `"${walked}"`;
    if (Array.isArray(value)) {
      // Only real indexes: "items.length" must not read the array's length property.
      const index = /^(?:0|[1-9]\d*)$/.test(segment) ? Number(segment) : -1;
      if (index < 0 || index >= value.length) throw fail(`${where} is an array with no element "${segment}"`);
      value = value[index];
    } else if (value !== null && typeof value === 'object') {
      // Own fields only, so "constructor" or "__proto__" never resolve to something the JSON did not contain.
      if (!Object.hasOwn(value, segment)) throw fail(`${where} has no field "${segment}"`);
      value = (value as Record<string, unknown>)[segment];
    } else {
      throw fail(`${where} is ${value === null ? 'null' : `a ${typeof value}`}, not an object`);
    }
    walked = walked === '' ? segment : `${walked}.${segment}`;
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function keyError(record: KafkaRecord, by: string, why: string, extra: Record<string, unknown>): SequencingKeyError {
  return new SequencingKeyError(
    `cannot sequence record ${record.topicPartition} offset ${record.offset} by ${by}: ${why}`,
    { context: { topicPartition: record.topicPartition, offset: record.offset, ...extra } },
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
