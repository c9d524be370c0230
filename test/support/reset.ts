import type { KafkaAdmin, PartitionWatermarks } from '../../shared/kafka/kafka-admin.js';

/** One partition of an in-memory cluster: the offsets it keeps and, optionally, each record's timestamp. */
export interface MemoryPartition {
  readonly low: number;
  readonly high: number;
  /** Timestamp of offset `low + i`; without them every record is at time 0. */
  readonly timestamps?: readonly number[];
}

/**
 * The offset side of a Kafka cluster in memory, for plans that need what librdkafka's mock cluster cannot answer
 * (offsets by timestamp) or a `low` above 0 (retention). Group calls are not part of planning: they throw, so a
 * test that reaches them fails.
 */
export function memoryKafkaAdmin(topics: Readonly<Record<string, readonly MemoryPartition[]>>): KafkaAdmin {
  const partitionsOf = (topic: string) => {
    const partitions = topics[topic];
    if (!partitions) throw new Error(`memoryKafkaAdmin has no topic "${topic}"`);
    return partitions;
  };
  const unsupported = async (): Promise<never> => {
    throw new Error('memoryKafkaAdmin has no consumer groups');
  };
  return {
    async watermarks(topic): Promise<PartitionWatermarks[]> {
      return partitionsOf(topic).map((p, partition) => ({ partition, low: p.low, high: p.high }));
    },
    async offsetsAt(topic, timestampMs) {
      return partitionsOf(topic).map((p, partition) => {
        const index = (p.timestamps ?? []).findIndex((t) => t >= timestampMs);
        return { partition, offset: index < 0 ? p.high : p.low + index };
      });
    },
    groupState: unsupported,
    groupOffsets: unsupported,
    setGroupOffsets: unsupported,
    async close() {},
  };
}
