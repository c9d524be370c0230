import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTopicPartition, topicPartitionId } from '../../../shared/kafka/kafka-record.js';
import { TOPIC_NAME } from '../../../shared/settings.js';

const topics = fc.stringMatching(TOPIC_NAME.pattern);

describe('topicPartitionId and parseTopicPartition', () => {
  it('are inverses for every Kafka topic name, dashes and digits included', () => {
    fc.assert(
      fc.property(topics, fc.nat(), (topic, partition) => {
        const id = topicPartitionId(topic, partition);
        expect(id).toBe(`${topic}-${String(partition)}`);
        expect(parseTopicPartition(id)).toEqual({ topic, partition });
      }),
    );
  });

  it('reads the partition after the last dash', () => {
    expect(parseTopicPartition('orders-eu-west-12')).toEqual({ topic: 'orders-eu-west', partition: 12 });
    expect(parseTopicPartition('2024-01-0')).toEqual({ topic: '2024-01', partition: 0 });
    expect(parseTopicPartition('orders--1')).toEqual({ topic: 'orders-', partition: 1 });
  });

  it('names no partition for ids without a topic or a whole, unpadded partition number', () => {
    for (const id of ['orders', 'orders-', '-3', 'orders-03', 'orders-1.5', 'orders-1e3', 'orders- 3']) {
      expect(parseTopicPartition(id), id).toBeUndefined();
    }
  });
});
