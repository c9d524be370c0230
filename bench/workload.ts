/**
 * Benchmark workload: seeded keyed records per partition, Lambda-shaped events cut from them, and statistics of
 * what a batch allows at best (the critical path of its longest key chain).
 */
import type { RawKafkaEvent, RawKafkaRecord } from '../shared/kafka/kafka-event.js';
import { KafkaRecord, topicPartitionId } from '../shared/kafka/kafka-record.js';
import { toRawRecord } from '../shared/processing/fan-out.js';
import { seededRandom } from '../local/random.js';

export const BENCH_TOPIC = 'bench';

/** The event fields Lambda adds besides the records (MSK shape). */
const EVENT_SOURCE = {
  eventSource: 'aws:kafka',
  eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/tidemark-bench/00000000-0000-0000-0000-000000000000-1',
  bootstrapServers: 'b-1.tidemark-bench:9098,b-2.tidemark-bench:9098',
} as const;

/** One partition's log: raw records with offsets 0..n-1 (the offset is the index), and each record's key. */
export interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly RawKafkaRecord[];
  readonly keys: readonly string[];
  readonly distinctKeys: number;
}

/**
 * `count` records over `keys` keys drawn uniformly at random (seeded), as a Kafka partition holds them: base64 key,
 * a small JSON value and no headers. Keys carry the partition, so partitions never share a key (as Kafka's
 * partitioner guarantees).
 */
export function makePartitionLog(options: {
  partition: number;
  count: number;
  keys: number;
  seed: number;
  timestamp?: number;
}): PartitionLog {
  const random = seededRandom(options.seed + options.partition * 7_919);
  const records: RawKafkaRecord[] = new Array<RawKafkaRecord>(options.count);
  const keys: string[] = new Array<string>(options.count);
  const seen = new Set<string>();
  const timestamp = options.timestamp ?? 1_700_000_000_000;
  for (let offset = 0; offset < options.count; offset++) {
    const key = `p${options.partition}-key-${Math.floor(random() * options.keys)}`;
    keys[offset] = key;
    seen.add(key);
    records[offset] = {
      topic: BENCH_TOPIC,
      partition: options.partition,
      offset,
      timestamp: timestamp + offset,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(key).toString('base64'),
      value: Buffer.from(JSON.stringify({ type: 'OrderUpdated', key, seq: offset })).toString('base64'),
      headers: [],
    };
  }
  return { topic: BENCH_TOPIC, partition: options.partition, records, keys, distinctKeys: seen.size };
}

/** The Lambda event carrying up to `batchSize` records of one partition from `from` on. */
export function eventFrom(log: PartitionLog, from: number, batchSize: number): RawKafkaEvent {
  const records = log.records.slice(from, from + batchSize);
  return { ...EVENT_SOURCE, records: { [topicPartitionId(log.topic, log.partition)]: records } };
}

/**
 * The event of the DynamoDB scenarios (parking, limits): `count` records of an `orders` partition from offset
 * `from` on, the i-th keyed `keyAt(i)`. Their handlers pick records by key or offset, not by a seeded draw.
 */
export function ordersEvent(
  partition: number,
  from: number,
  count: number,
  keyAt: (index: number) => string,
): RawKafkaEvent {
  const records = Array.from({ length: count }, (_, i) =>
    toRawRecord(
      new KafkaRecord({
        topic: 'orders',
        partition,
        offset: from + i,
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key: Buffer.from(keyAt(i)),
        value: Buffer.from('{"type":"OrderUpdated"}'),
        headers: [],
      }),
    ),
  );
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/bench/abc',
    bootstrapServers: 'b-1.bench:9098',
    records: { [topicPartitionId('orders', partition)]: records },
  };
}

/** Every batch of a partition, as the event source would cut them when nothing fails. */
export function batchesOf(log: PartitionLog, batchSize: number): RawKafkaEvent[] {
  const events: RawKafkaEvent[] = [];
  for (let from = 0; from < log.records.length; from += batchSize) events.push(eventFrom(log, from, batchSize));
  return events;
}

/**
 * The least number of handler "rounds" (one round = one handler latency) key-ordered processing needs for the
 * log in batches of `batchSize` at `concurrency`: per batch, at least ceil(records / concurrency) rounds, and at
 * least the length of its longest key chain (a key's records run one after another). With uniform keys the
 * chain, not the concurrency, is often what bounds a batch.
 */
export function criticalPathRounds(
  log: PartitionLog,
  batchSize: number,
  concurrency: number,
): { rounds: number; longestChain: number } {
  let rounds = 0;
  let longestChain = 0;
  for (let from = 0; from < log.keys.length; from += batchSize) {
    const counts = new Map<string, number>();
    let chain = 0;
    const to = Math.min(log.keys.length, from + batchSize);
    for (let i = from; i < to; i++) {
      const key = log.keys[i]!;
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      if (n > chain) chain = n;
    }
    rounds += Math.max(Math.ceil((to - from) / concurrency), chain);
    longestChain = Math.max(longestChain, chain);
  }
  return { rounds, longestChain };
}

/** Scheduling policies the round model compares. */
export type SchedulingPolicy = 'fifo' | 'longestRemainingFirst';

/**
 * A unit-time model of key-ordered scheduling, one batch at a time: every handler call takes one round, at most
 * `concurrency` run per round, a key's next record becomes ready when its previous one ends.
 * - `fifo`: ready records wait in one first-come queue (keys enter in order of their first offset; a key's next
 *   record joins the back of the queue when its previous one ends), as a plain concurrency limiter would.
 * - `longestRemainingFirst`: each round starts the ready keys with the most records left (ties: lowest offset),
 *   the critical-path rule, optimal for chains of unit-time tasks. This is what `runInKeyOrder` does.
 * Returns the total rounds over all batches.
 */
export function modelRounds(
  log: PartitionLog,
  batchSize: number,
  concurrency: number,
  policy: SchedulingPolicy,
): number {
  let total = 0;
  for (let from = 0; from < log.keys.length; from += batchSize) {
    const chains = new Map<string, number>();
    const to = Math.min(log.keys.length, from + batchSize);
    for (let i = from; i < to; i++) chains.set(log.keys[i]!, (chains.get(log.keys[i]!) ?? 0) + 1);
    // Keys in order of first offset (Map insertion order), with their records left.
    const keys = [...chains.entries()].map(([key, left], order) => ({ key, left, order }));
    let queue = keys;
    while (queue.length > 0) {
      total++;
      if (policy === 'longestRemainingFirst') queue.sort((a, b) => b.left - a.left || a.order - b.order);
      const started = queue.slice(0, concurrency);
      const waiting = queue.slice(concurrency);
      for (const entry of started) entry.left--;
      queue = [...waiting, ...started.filter((entry) => entry.left > 0)];
    }
  }
  return total;
}
