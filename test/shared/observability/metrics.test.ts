import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DispatchResult, PartitionReport } from '../../../shared/processing/dispatcher.js';
import {
  batchMetrics,
  embeddedMetrics,
  partitionLags,
  ProcessorMetrics,
} from '../../../shared/observability/metrics.js';
import { captureStdout } from '../../support/stdout.js';

afterEach(() => vi.restoreAllMocks());

const report = (overrides: Partial<PartitionReport>): PartitionReport => ({
  topicPartition: 'orders-0',
  delivered: 0,
  handled: 0,
  skipped: 0,
  failed: 0,
  blocked: 0,
  notStarted: 0,
  draining: 0,
  released: 0,
  malformed: 0,
  parked: 0,
  unparkable: 0,
  skippedBySource: 0,
  replaySkipped: 0,
  lastRecordAt: null,
  oldestHandledAt: null,
  redeliverFrom: undefined,
  ...overrides,
});

const NOW = 1_767_225_700_000;

/** Two partitions: one checkpointed 90 s behind with its oldest record 120 s old, one handed back whole. */
const twoPartitions: Pick<DispatchResult, 'partitions'> = {
  partitions: [
    report({
      delivered: 12,
      handled: 6,
      skipped: 1,
      failed: 1,
      blocked: 1,
      malformed: 1,
      parked: 2,
      unparkable: 1,
      skippedBySource: 3,
      replaySkipped: 4,
      redeliverFrom: 4,
      lastRecordAt: NOW - 90_000,
      oldestHandledAt: NOW - 120_000,
    }),
    report({ topicPartition: 'orders-1', delivered: 5, notStarted: 5, redeliverFrom: 0, abandoned: 'claimed by x' }),
  ],
};

describe('batch metrics', () => {
  it('sums handled, skipped, failed, parked, replay-skipped and handed-back records, counting abandoned partitions whole', () => {
    expect(batchMetrics(twoPartitions)).toEqual({
      RecordsHandled: 6,
      RecordsSkipped: 1,
      RecordsFailed: 2,
      RecordsHandedBack: 8,
      PartitionsAbandoned: 1,
      RecordsParked: 2,
      RecordsUnparkable: 1,
      RecordsSkippedBySource: 3,
      RecordsReplaySkipped: 4,
    });
  });

  it("gives each partition's time lag and oldest record age in seconds, leaving out partitions with neither", () => {
    const lags = partitionLags(
      {
        partitions: [
          ...twoPartitions.partitions,
          report({ topicPartition: 'orders-2', lastRecordAt: NOW + 5_000 }),
          report({ topicPartition: 'orders-3', oldestHandledAt: NOW - 1_500 }),
        ],
      },
      NOW,
    );

    expect(lags).toEqual([
      { topicPartition: 'orders-0', TimeLagSeconds: 90, OldestRecordAgeSeconds: 120 },
      // A producer clock ahead of ours is no lag.
      { topicPartition: 'orders-2', TimeLagSeconds: 0 },
      { topicPartition: 'orders-3', OldestRecordAgeSeconds: 1.5 },
    ]);
  });

  it('formats one CloudWatch EMF line in the Tidemark namespace with the Processor dimension and no other', () => {
    const line = embeddedMetrics('orders-view', batchMetrics(twoPartitions), 1_700_000_000_000);

    expect(JSON.parse(line)).toEqual({
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: 'Tidemark',
            Dimensions: [['Processor']],
            Metrics: [
              'RecordsHandled',
              'RecordsSkipped',
              'RecordsFailed',
              'RecordsHandedBack',
              'PartitionsAbandoned',
              'RecordsParked',
              'RecordsUnparkable',
              'RecordsSkippedBySource',
              'RecordsReplaySkipped',
            ].map((Name) => ({ Name, Unit: 'Count' })),
          },
        ],
      },
      Processor: 'orders-view',
      ...batchMetrics(twoPartitions),
    });
  });
});

describe('dead-letter gauges', () => {
  it('are written with seconds as the unit of the age and counts for the rest', () => {
    const line = JSON.parse(
      embeddedMetrics('orders-view', { ParkedKeys: 2, OldestParkedAgeSeconds: 90, RecordsRedriven: 5 }, 1),
    ) as { _aws: { CloudWatchMetrics: Array<{ Metrics: unknown[] }> }; ParkedKeys: number };

    expect(line._aws.CloudWatchMetrics[0]!.Metrics).toEqual([
      { Name: 'ParkedKeys', Unit: 'Count' },
      { Name: 'OldestParkedAgeSeconds', Unit: 'Seconds' },
      { Name: 'RecordsRedriven', Unit: 'Count' },
    ]);
    expect(line.ParkedKeys).toBe(2);
  });
});

describe('ProcessorMetrics', () => {
  it('prints a batch as one EMF line: counts summed, one lag value per partition, the handler durations so far', () => {
    const stdout = captureStdout();
    const metrics = new ProcessorMetrics({ processor: 'orders-view' });
    metrics.handlerDuration(12.5);
    metrics.handlerDuration(40);

    metrics.batch(
      { partitions: [...twoPartitions.partitions, report({ topicPartition: 'orders-2', lastRecordAt: NOW - 3_000 })] },
      NOW,
    );

    const [line, ...more] = stdout.emf();
    expect(more).toEqual([]);
    expect(line!._aws.CloudWatchMetrics).toEqual([
      expect.objectContaining({ Namespace: 'Tidemark', Dimensions: [['Processor']] }),
    ]);
    expect(line!._aws.CloudWatchMetrics[0]!.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'RecordsHandedBack', Unit: 'Count' },
        { Name: 'TimeLagSeconds', Unit: 'Seconds' },
        { Name: 'OldestRecordAgeSeconds', Unit: 'Seconds' },
        { Name: 'HandlerDuration', Unit: 'Milliseconds' },
      ]),
    );
    expect(line).toMatchObject({
      Processor: 'orders-view',
      RecordsHandled: 6,
      RecordsHandedBack: 8,
      RecordsReplaySkipped: 4,
      TimeLagSeconds: [90, 3],
      OldestRecordAgeSeconds: 120,
      HandlerDuration: [12.5, 40],
    });
    expect(line).not.toHaveProperty('service');
    expect(line).not.toHaveProperty('Partition');
  });

  it('with the partition dimension, also prints each partition with Processor and Partition', () => {
    const stdout = captureStdout();
    const metrics = new ProcessorMetrics({ processor: 'orders-view', partitionDimension: true });
    metrics.handlerDuration(7);

    metrics.batch(twoPartitions, NOW);

    const [all, first, second, ...more] = stdout.emf();
    expect(more).toEqual([]);
    expect(all!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Processor']]);
    expect(all).toMatchObject({ RecordsHandedBack: 8, HandlerDuration: 7 });
    for (const line of [first, second]) {
      expect(line!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Processor', 'Partition']]);
      expect(line).not.toHaveProperty('HandlerDuration');
    }
    expect(first).toMatchObject({
      Processor: 'orders-view',
      Partition: 'orders-0',
      RecordsHandedBack: 3,
      TimeLagSeconds: 90,
      OldestRecordAgeSeconds: 120,
    });
    expect(second).toMatchObject({ Partition: 'orders-1', RecordsHandedBack: 5, PartitionsAbandoned: 1 });
    expect(second).not.toHaveProperty('TimeLagSeconds');
  });

  it('keeps every handler duration, a line per 100 values as EMF allows', () => {
    const stdout = captureStdout();
    const metrics = new ProcessorMetrics({ processor: 'orders-view' });

    for (let i = 0; i < 250; i++) metrics.handlerDuration(i);
    metrics.flush();

    const values = stdout.emf().map((line) => line.HandlerDuration as number[]);
    expect(values.map((v) => v.length)).toEqual([100, 100, 50]);
    expect(values.flat()).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });

  it('prints nothing when there is nothing to publish', () => {
    const stdout = captureStdout();

    new ProcessorMetrics({ processor: 'orders-view' }).flush();

    expect(stdout.lines).toEqual([]);
  });
});
