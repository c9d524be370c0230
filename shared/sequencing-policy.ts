import { ConfigurationError, SequencingKeyError } from './errors.js';
import type { KafkaRecord } from './kafka-record.js';

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
  /** Order by the Kafka record key. A record without a key is ordered with no other record. */
  key: (): SequencingPolicy => validateSequencingPolicy({ kind: 'key' }),
  /** Order by the last value of header `name`, read as UTF-8. A record without the header cannot be routed. */
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
      return record.key === undefined ? ownKey(record) : record.key.toString('utf8');
    case 'header': {
      const value = record.headerText(policy.name);
      if (value === undefined) {
        throw keyError(record, `header "${policy.name}"`, 'the record has no such header', { header: policy.name });
      }
      return value;
    }
    case 'jsonField':
      return jsonFieldOf(policy.path, record);
    case 'partition':
      return record.topicPartition;
    case 'none':
      return ownKey(record);
  }
}

/** A key no other record shares: the record's own position. */
function ownKey(record: KafkaRecord): string {
  return `${record.topicPartition}@${record.offset}`;
}

function jsonFieldOf(path: string, record: KafkaRecord): string {
  const fail = (why: string) => keyError(record, `JSON field "${path}"`, why, { path });
  if (record.value === null) throw fail('the record is a tombstone (its value is null)');
  let value: unknown;
  try {
    value = JSON.parse(record.value.toString('utf8'));
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
