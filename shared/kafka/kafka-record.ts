/** How the broker set a record's timestamp. */
export const TimestampType = {
  CreateTime: 'CREATE_TIME',
  LogAppendTime: 'LOG_APPEND_TIME',
} as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/** One Kafka record header. Kafka allows a name to repeat, so headers keep their order and duplicates. */
export interface KafkaHeader {
  readonly name: string;
  readonly value: Buffer;
}

/** The fields a {@link KafkaRecord} is made from. */
export interface KafkaRecordFields {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: TimestampType;
  key: Buffer | undefined;
  value: Buffer | null;
  headers: readonly KafkaHeader[];
}

/** Formats the `"<topic>-<partition>"` identifier Lambda uses for a partition. */
export function topicPartitionId(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * Reads a `"<topic>-<partition>"` identifier (the topic may itself contain '-'); undefined when it names no
 * partition.
 */
export function parseTopicPartition(id: string): { topic: string; partition: number } | undefined {
  const cut = id.lastIndexOf('-');
  const digits = id.slice(cut + 1);
  const partition = Number(digits);
  if (cut < 1 || !/^(0|[1-9]\d*)$/.test(digits) || !Number.isSafeInteger(partition)) return undefined;
  return { topic: id.slice(0, cut), partition };
}

/**
 * A Kafka record as a handler sees it: bytes decoded from the event's base64, with helpers for text and JSON.
 * `value` is `null` for a tombstone; `key` is `undefined` when the record has none.
 */
export class KafkaRecord implements KafkaRecordFields {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: TimestampType;
  readonly key: Buffer | undefined;
  readonly value: Buffer | null;
  readonly headers: readonly KafkaHeader[];

  constructor(fields: KafkaRecordFields) {
    this.topic = fields.topic;
    this.partition = fields.partition;
    this.offset = fields.offset;
    this.timestamp = fields.timestamp;
    this.timestampType = fields.timestampType;
    this.key = fields.key;
    this.value = fields.value;
    this.headers = fields.headers;
  }

  /** `"<topic>-<partition>"`, as Lambda names the partition in events and batch item failures. */
  get topicPartition(): string {
    return topicPartitionId(this.topic, this.partition);
  }

  /** Whether the record is a tombstone (null value). */
  get isTombstone(): boolean {
    return this.value === null;
  }

  /** The key as UTF-8 text, or `undefined` when the record has no key. */
  keyText(): string | undefined {
    return this.key?.toString('utf8');
  }

  /** The value as UTF-8 text, or `null` for a tombstone. */
  text(): string | null {
    return this.value === null ? null : this.value.toString('utf8');
  }

  /** The value parsed as JSON, or `null` for a tombstone. Throws `SyntaxError` if it is not JSON. */
  json<T = unknown>(): T | null {
    const text = this.text();
    return text === null ? null : (JSON.parse(text) as T);
  }

  /** The last value of a header (Kafka's convention for repeated names), or `undefined`. */
  header(name: string): Buffer | undefined {
    for (let i = this.headers.length - 1; i >= 0; i--) {
      const header = this.headers[i]!;
      if (header.name === name) return header.value;
    }
    return undefined;
  }

  /** The last value of a header as UTF-8 text, or `undefined`. */
  headerText(name: string): string | undefined {
    return this.header(name)?.toString('utf8');
  }

  /** Headers as a name → bytes map; for a repeated name the last value wins. */
  headerMap(): Map<string, Buffer> {
    return new Map(this.headers.map((h) => [h.name, h.value]));
  }
}
