import { ConfigurationError, SequencingKeyError } from './errors.js';
import type { KafkaRecord } from './kafka-record.js';

/** What must stay in order: records with the same sequencing key are handled one after another, in offset order. */
export type SequencingPolicy =
  | { readonly kind: 'key' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'jsonField'; readonly path: string }
  | { readonly kind: 'partition' }
  | { readonly kind: 'none' };

const KINDS = ['key', 'header', 'jsonField', 'partition', 'none'] as const;

/** Builds sequencing policies. */
export const Sequencing = {
  /** The Kafka record key (the default). A record without a key is ordered with nothing else. */
  key: (): SequencingPolicy => ({ kind: 'key' }),
  /** The last value of a header, as UTF-8. A record without the header is reported failed. */
  header: (name: string): SequencingPolicy => validateSequencingPolicy({ kind: 'header', name }),
  /** A field of the JSON value, by dot path (`order.id`). A record without it is reported failed. */
  jsonField: (path: string): SequencingPolicy => validateSequencingPolicy({ kind: 'jsonField', path }),
  /** The partition: strict partition order, no parallelism within a partition. */
  partition: (): SequencingPolicy => ({ kind: 'partition' }),
  /** No ordering at all: every record may run at once. */
  none: (): SequencingPolicy => ({ kind: 'none' }),
} as const;

/** Checks a policy given as data; a ConfigurationError says what was given and what is allowed. */
export function validateSequencingPolicy(policy: unknown): SequencingPolicy {
  const candidate = policy as { kind?: unknown; name?: unknown; path?: unknown } | null;
  const kind = candidate?.kind;
  if (!KINDS.includes(kind as (typeof KINDS)[number])) {
    throw new ConfigurationError(`sequencing policy kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  if (kind === 'header' && (typeof candidate!.name !== 'string' || candidate!.name === '')) {
    throw new ConfigurationError(`sequencing by header needs a non-empty header name, got ${JSON.stringify(candidate!.name)}`);
  }
  if (kind === 'jsonField') {
    const path = candidate!.path;
    if (typeof path !== 'string' || path.split('.').some((part) => part === '')) {
      throw new ConfigurationError(`sequencing by JSON field needs a dot path like "order.id", got ${JSON.stringify(path)}`);
    }
  }
  return Object.freeze({ ...(policy as SequencingPolicy) });
}

/** The record's sequencing key under a policy. Throws SequencingKeyError naming the record when there is none. */
export function sequencingKeyOf(policy: SequencingPolicy, record: KafkaRecord): string {
  const own = `${record.topicPartition}@${record.offset}`;
  switch (policy.kind) {
    case 'key':
      return record.key === undefined ? own : record.key.toString('utf8');
    case 'partition':
      return record.topicPartition;
    case 'none':
      return own;
    case 'header': {
      const value = record.headerText(policy.name);
      if (value === undefined) {
        throw new SequencingKeyError(`record ${own} has no header "${policy.name}" to sequence by`, {
          context: { topicPartition: record.topicPartition, offset: record.offset },
        });
      }
      return value;
    }
    case 'jsonField':
      return jsonField(policy.path, record, own);
  }
}

function jsonField(path: string, record: KafkaRecord, own: string): string {
  const fail = (why: string) =>
    new SequencingKeyError(`record ${own} has no JSON field "${path}" to sequence by: ${why}`, {
      context: { topicPartition: record.topicPartition, offset: record.offset, path },
    });
  if (record.value === null) throw fail('it is a tombstone');
  let value: unknown;
  try {
    value = JSON.parse(record.value.toString('utf8'));
  } catch {
    throw fail('its value is not JSON');
  }
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !(part in value)) throw fail(`"${part}" is missing`);
    value = (value as Record<string, unknown>)[part];
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
