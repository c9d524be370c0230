import { assertProcessorName, CONCURRENCY, TOPIC_NAME } from '../settings.js';
import { resolveDeadLetterPolicy, type DeadLetterPolicy } from '../dead-letters/dead-letter-policy.js';
import { ConfigurationError } from '../errors.js';
import { defaultHash, type HashFunction } from '../routing/hash.js';
import type { KafkaRecord } from '../kafka/kafka-record.js';
import { MAX_SEGMENTS } from '../routing/layout.js';
import type { Logger } from '../observability/logger.js';
import { decodingHandler, type FormattedHandler } from '../formats/decoded-record.js';
import type { RecordFormat, SchemaInfo } from '../formats/record-format.js';
import { resolveRetryPolicy, type RetryPolicy } from './retry-policy.js';
import type { Segment } from '../routing/segment.js';
import {
  Sequencing,
  sequencingKeyOf,
  validateSequencingPolicy,
  type SequencingPolicy,
} from '../routing/sequencing-policy.js';

/** What a handler learns about the record it is given. */
export interface HandlerContext {
  readonly processor: string;
  /** The segment the record was routed to, and the layout version that routing used. */
  readonly segment: Segment;
  readonly layoutVersion: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly sequencingKey: string;
  /** 1 on the first try, then 2, 3, ... within this delivery (or this redrive). */
  readonly attempt: number;
  /**
   * True when a parked dead letter is handled again by a redrive (its key's later records wait behind it); the
   * record's offset is already behind the partition's token.
   */
  readonly redrive: boolean;
  /**
   * True when the record was handled before a reset and comes again in its replay: the token the partition had at
   * the reset (its replay token) covers it. False for every record past that point, in a redrive, and when no reset
   * is being replayed. With the processor's `replay: 'skip'`, replayed records never reach the handler.
   */
  readonly replay: boolean;
  /**
   * The fencing epoch of the partition claim (of the key's redrive lease, in a redrive): it grows with every grant. A handler writing to a store that can
   * compare it (a conditional write on "epoch <= :epoch") can reject a zombie that woke after losing its lease.
   */
  readonly epoch: number;
  /** Epoch milliseconds after which work of this batch can no longer be checkpointed. */
  readonly deadline: number;
  /**
   * Lambda's `awsRequestId` of the invocation that runs the handler: the dispatch invocation in inline mode, the
   * segment worker's in fan-out mode, the redrive invocation's in a redrive. Use it to find the invocation's logs
   * or to correlate the handler's own writes with the invocation that made them.
   */
  readonly requestId: string;
  readonly logger: Logger;
  /** The writer schema the value named (registry id, format, type name), when the processor's `value` format has one. */
  readonly schema?: SchemaInfo;
  /** The writer schema the key named, when the processor's `key` format has one. */
  readonly keySchema?: SchemaInfo;
}

/** What a processor does with the records a reset brings again (those handled before the reset). */
export const ReplayMode = {
  /** Hand them to the handler, with `context.replay` true. */
  Handle: 'handle',
  /** Do not hand them to the handler: they count as done (metric `RecordsReplaySkipped`). */
  Skip: 'skip',
} as const;
export type ReplayMode = (typeof ReplayMode)[keyof typeof ReplayMode];

const REPLAY_MODES: readonly string[] = Object.values(ReplayMode);

/**
 * Handles one record. Throw to fail it: it is retried, its key blocked and the record reported back; after
 * `deadLetter.afterAttempts` attempts (at once for a `NonRetriableError`) it is parked with the key's later records.
 */
export type RecordHandler = (record: KafkaRecord, context: HandlerContext) => Promise<void> | void;

/**
 * A team's processor, as written: name, topics, handler and how records are ordered and retried. `K` and `V` are
 * what the `key` and `value` formats decode to (inferred from them).
 */
export interface ProcessorDefinition<K = never, V = never> {
  /** Names the processor in the token store: letters, digits, '.', '_' or '-'. */
  readonly name: string;
  /** The topics the processor consumes; records of any other topic are reported failed. */
  readonly topics: readonly string[];
  /** Gets a `KafkaRecord`; with `key` or `value` formats, a `DecodedRecord` (`decodedKey`, `decodedValue`). */
  readonly handler: FormattedHandler<K, V>;
  /**
   * How the handler gets the record key (`record.decodedKey`): `string()`, `json()`, `avro({...})`, ... Routing
   * always uses the raw key bytes, so decoding never changes the order. @default none: `record.key` is the bytes
   */
  readonly key?: RecordFormat<K>;
  /**
   * How the handler gets the record value (`record.decodedValue`), e.g. `avro({ registry, schema })`. A value that
   * cannot be decoded is parked at once with its raw bytes (retried first while the registry is unavailable).
   * @default none: `record.value` is the bytes
   */
  readonly value?: RecordFormat<V>;
  /** What must stay in order. @default Sequencing.key() */
  readonly sequencing?: SequencingPolicy;
  /** Records handled at once per invocation (inline) or per segment worker (fan-out). @default 16 */
  readonly concurrency?: number;
  /** @default DEFAULT_RETRY_POLICY (3 attempts, 100 ms doubling to 2 s, full jitter) */
  readonly retry?: Partial<RetryPolicy>;
  /** Maps a sequencing key to a 32-bit hash. @default Java String.hashCode, as Axon does */
  readonly hash?: HashFunction;
  /** Segments created the first time the processor runs. @default 4 */
  readonly initialSegments?: number;
  /**
   * Longest wait for one handler call. Past it the call counts as failed with all of its delivery's attempts (it
   * may still be running, so it is not retried beside itself), its key is blocked, and the batch checkpoints the rest.
   * @default half of the invocation's time left when its records start (at least 1 s)
   */
  readonly recordTimeoutMs?: number;
  /** When failing, malformed and unroutable records are parked, and how parked keys are redriven. @default DEFAULT_DEAD_LETTER_POLICY */
  readonly deadLetter?: Partial<DeadLetterPolicy>;
  /**
   * What to do with the records a reset brings again (those the partition's token covered at the reset): `'handle'`
   * them with `context.replay` true, or `'skip'` them (not handed to the handler; they count as done, metric
   * `RecordsReplaySkipped`), for a handler whose effects must not happen twice, such as sending mail.
   * @default 'handle'
   */
  readonly replay?: ReplayMode;
}

/** A checked processor definition with every default filled in. */
export interface Processor {
  readonly name: string;
  readonly topics: readonly string[];
  readonly handler: RecordHandler;
  readonly sequencing: SequencingPolicy;
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  readonly hash: HashFunction;
  readonly initialSegments: number;
  readonly deadLetter: DeadLetterPolicy;
  readonly recordTimeoutMs: number | undefined;
  readonly replay: ReplayMode;
}

/**
 * The sequencing key a record is routed by. Throws ConfigurationError for a topic the processor does not consume
 * and SequencingKeyError when the key cannot be derived: such a record is unroutable.
 */
export function routingKeyOf(processor: Processor, record: KafkaRecord): string {
  if (!processor.topics.includes(record.topic)) {
    throw new ConfigurationError(
      `topic "${record.topic}" is not one of processor "${processor.name}"'s topics (${processor.topics.join(', ')})`,
    );
  }
  return sequencingKeyOf(processor.sequencing, record);
}

/**
 * Defines a processor: checks every setting (a ConfigurationError names what was given and what is allowed) and
 * fills in defaults. Pass the result to `createDispatchHandler` and `createSegmentWorkerHandler`.
 *
 * @example
 * export const orders = defineProcessor({
 *   name: 'order-projection',
 *   topics: ['orders'],
 *   handler: async (record) => project(record.json()),
 * });
 */
export function defineProcessor<K = never, V = never>(definition: ProcessorDefinition<K, V>): Processor {
  assertProcessorName(definition.name);
  const topics = definition.topics;
  if (
    !Array.isArray(topics) ||
    topics.length === 0 ||
    !topics.every((t) => typeof t === 'string' && TOPIC_NAME.pattern.test(t))
  ) {
    throw new ConfigurationError(
      `processor "${definition.name}": topics must be a non-empty list of Kafka topic names, got ${JSON.stringify(topics)}`,
    );
  }
  if (typeof definition.handler !== 'function') {
    throw new ConfigurationError(
      `processor "${definition.name}": handler must be a function, got ${typeof definition.handler}`,
    );
  }
  const concurrency = definition.concurrency ?? CONCURRENCY.default;
  if (!Number.isInteger(concurrency) || concurrency < CONCURRENCY.min || concurrency > CONCURRENCY.max) {
    throw new ConfigurationError(
      `processor "${definition.name}": concurrency must be an integer from ${CONCURRENCY.min} to ${CONCURRENCY.max}, got ${String(concurrency)}`,
    );
  }
  const initialSegments = definition.initialSegments ?? 4;
  if (!Number.isInteger(initialSegments) || initialSegments < 1 || initialSegments > MAX_SEGMENTS) {
    throw new ConfigurationError(
      `processor "${definition.name}": initialSegments must be an integer from 1 to ${MAX_SEGMENTS}, got ${String(initialSegments)}`,
    );
  }
  const timeout = definition.recordTimeoutMs;
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1 || timeout > 900_000)) {
    throw new ConfigurationError(
      `processor "${definition.name}": recordTimeoutMs must be an integer from 1 to 900000 (15 minutes), got ${String(timeout)}`,
    );
  }
  if (definition.hash !== undefined && typeof definition.hash !== 'function') {
    throw new ConfigurationError(
      `processor "${definition.name}": hash must be a function, got ${typeof definition.hash}`,
    );
  }
  const replay = definition.replay ?? ReplayMode.Handle;
  if (!REPLAY_MODES.includes(replay)) {
    throw new ConfigurationError(
      `processor "${definition.name}": replay must be 'handle' or 'skip', got ${JSON.stringify(replay)}`,
    );
  }
  // Decoding wraps the handler, so it runs in each attempt, inline, in a worker and in a redrive alike.
  const handler = decodingHandler(
    definition.name,
    { key: definition.key, value: definition.value },
    definition.handler,
  );
  return Object.freeze({
    name: definition.name,
    topics: Object.freeze([...topics]),
    handler,
    sequencing: validateSequencingPolicy(definition.sequencing ?? Sequencing.key()),
    concurrency,
    retry: resolveRetryPolicy(definition.retry),
    hash: definition.hash ?? defaultHash,
    initialSegments,
    deadLetter: resolveDeadLetterPolicy(definition.deadLetter),
    recordTimeoutMs: definition.recordTimeoutMs,
    replay,
  });
}
