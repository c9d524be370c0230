import { afterEach, describe, expect, it, vi } from 'vitest';
import { countEffect, EffectMetric, takeEffectCounts } from '../../../shared/effects/effect-metrics.js';
import { ProcessorMetrics } from '../../../shared/observability/metrics.js';
import { captureStdout } from '../../support/stdout.js';

afterEach(() => vi.restoreAllMocks());

describe('effect metrics', () => {
  it("go out with the processor's next metrics line, once, and only its own processor's", () => {
    takeEffectCounts('orders-view');
    countEffect('orders-view', EffectMetric.AlreadyApplied, 3);
    countEffect('orders-view', EffectMetric.TransactionConflicts);
    countEffect('other-view', EffectMetric.Applied);
    const stdout = captureStdout();
    const metrics = new ProcessorMetrics({ processor: 'orders-view' });

    metrics.batch({ partitions: [] }, Date.now());
    metrics.flush();

    const lines = stdout.emf();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ Processor: 'orders-view', EffectsAlreadyApplied: 3, TransactionConflicts: 1 });
    expect(lines[0]!._aws.CloudWatchMetrics[0]!.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'EffectsAlreadyApplied', Unit: 'Count' },
        { Name: 'TransactionConflicts', Unit: 'Count' },
      ]),
    );
    expect(lines[0]).not.toHaveProperty('EffectsApplied');
    expect(takeEffectCounts('other-view')).toEqual([['EffectsApplied', 1]]);
  });
});
