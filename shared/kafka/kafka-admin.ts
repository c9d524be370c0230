/**
 * What the admin side reads from and changes in the Kafka cluster: high-water marks for record lag, offsets by time
 * for a reset, and the event source's consumer group. Never used on the dispatch path. The kafkajs implementation is
 * `createKafkaAdmin` (shared/kafka/kafkajs-admin.ts); tests use librdkafka's mock cluster through it.
 */
export interface KafkaAdmin {
  /** Per partition of `topic`: the earliest offset still kept (`low`) and the next offset to be written (`high`). */
  watermarks(topic: string): Promise<PartitionWatermarks[]>;
  /** Per partition of `topic`: the first offset whose record timestamp is at or after `timestampMs` (`high` when none). */
  offsetsAt(topic: string, timestampMs: number): Promise<Array<{ partition: number; offset: number }>>;
  /** The consumer group's state as the broker reports it (`Empty`, `Stable`, `Dead`, …) and its member count. */
  groupState(groupId: string): Promise<{ state: string; members: number }>;
  /** The group's committed offsets on `topic`: the next offset it reads per partition, `null` where none is committed. */
  groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number | null }>>;
  /** Moves the group's committed offsets on `topic`. The broker refuses while the group has members. */
  setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: ReadonlyArray<{ partition: number; offset: number }>,
  ): Promise<void>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** One partition's retained offsets. */
export interface PartitionWatermarks {
  readonly partition: number;
  /** The earliest offset still kept. */
  readonly low: number;
  /** The next offset to be written: the partition's end. */
  readonly high: number;
}
