import { describe, expect, it } from 'vitest';
import type { DispatchResult } from '../../../shared/processing/dispatcher.js';
import { batchMetrics, embeddedMetrics } from '../../../shared/observability/metrics.js';

const report = (overrides: Partial<DispatchResult['partitions'][number]>): DispatchResult['partitions'][number] => ({
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
  redeliverFrom: undefined,
  ...overrides,
});

describe('batch metrics', () => {
  it('sums handled, skipped, failed, parked and handed-back records over partitions, counting abandoned partitions whole', () => {
    const result: DispatchResult = {
      layoutVersion: 1,
      response: { batchItemFailures: [] },
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
          redeliverFrom: 4,
        }),
        report({
          topicPartition: 'orders-1',
          delivered: 5,
          notStarted: 5,
          redeliverFrom: 0,
          abandoned: 'claimed by x',
        }),
      ],
    };

    expect(batchMetrics(result)).toEqual({
      RecordsHandled: 6,
      RecordsSkipped: 1,
      RecordsFailed: 2,
      RecordsHandedBack: 8,
      PartitionsAbandoned: 1,
      RecordsParked: 2,
      RecordsUnparkable: 1,
      RecordsSkippedBySource: 3,
    });
  });

  it('formats one CloudWatch EMF line in the Tidemark namespace with the Processor dimension', () => {
    const line = embeddedMetrics(
      'orders-view',
      {
        RecordsHandled: 3,
        RecordsSkipped: 0,
        RecordsFailed: 1,
        RecordsHandedBack: 1,
        PartitionsAbandoned: 0,
        RecordsParked: 2,
        RecordsUnparkable: 0,
        RecordsSkippedBySource: 0,
      },
      1_700_000_000_000,
    );

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
            ].map((Name) => ({ Name, Unit: 'Count' })),
          },
        ],
      },
      Processor: 'orders-view',
      RecordsHandled: 3,
      RecordsSkipped: 0,
      RecordsFailed: 1,
      RecordsHandedBack: 1,
      PartitionsAbandoned: 0,
      RecordsParked: 2,
      RecordsUnparkable: 0,
      RecordsSkippedBySource: 0,
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
