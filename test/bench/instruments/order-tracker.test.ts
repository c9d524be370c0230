import { describe, expect, it } from 'vitest';
import { LatencyRecorder } from '../../../bench/instruments/latency.js';
import { addOrderReports, OrderTracker } from '../../../bench/instruments/order-tracker.js';
import { runTidemark, runUnordered, simulatedIoHandler } from '../../../bench/runs.js';
import { makePartitionLog } from '../../../bench/workload.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';

describe('order tracker', () => {
  it('counts order violations in unordered and reversed runs and none in a key-ordered run of the same records', async () => {
    const log = makePartitionLog({ partition: 0, count: 400, keys: 10, seed: 7 });
    const unorderedTracker = new OrderTracker([log]);
    const keyOrderedTracker = new OrderTracker([log]);

    await runUnordered([log], 100, 50, simulatedIoHandler(1, unorderedTracker, new LatencyRecorder()));
    await runTidemark({
      logs: [log],
      batchSize: 100,
      concurrency: 50,
      store: new MemoryTokenStore(),
      processorName: 'bench-order-check',
      segments: 4,
      handler: simulatedIoHandler(1, keyOrderedTracker, new LatencyRecorder()),
    });

    const reversedTracker = new OrderTracker([log]);
    for (let offset = log.records.length - 1; offset >= 0; offset--) {
      reversedTracker.start(0, offset);
      reversedTracker.finish(0, offset);
    }

    expect(reversedTracker.report()).toEqual({
      started: 400,
      startInversions: 400 - log.distinctKeys,
      overlaps: 0,
      violations: 400 - log.distinctKeys,
    });
    expect(unorderedTracker.report().started).toBe(400);
    expect(unorderedTracker.report().violations).toBeGreaterThan(0);
    expect(keyOrderedTracker.report()).toEqual({ started: 400, startInversions: 0, overlaps: 0, violations: 0 });
  });

  it('counts an overlap once per start, and refuses a record that is not in its logs', () => {
    const log = makePartitionLog({ partition: 0, count: 50, keys: 5, seed: 1 });
    const key = log.keys[0]!;
    const later = log.keys.indexOf(key, 1);
    expect(later).toBeGreaterThan(0);
    const tracker = new OrderTracker([log]);

    tracker.start(0, 0);
    tracker.start(0, later);
    tracker.finish(0, later);
    tracker.finish(0, 0);

    expect(tracker.report()).toEqual({ started: 2, startInversions: 0, overlaps: 1, violations: 1 });
    expect(addOrderReports([tracker.report(), tracker.report()])).toEqual({
      started: 4,
      startInversions: 0,
      overlaps: 2,
      violations: 2,
    });
    expect(() => tracker.start(1, 0)).toThrow('no record at partition 1, offset 0');
  });
});
