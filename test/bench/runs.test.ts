import { describe, expect, it } from 'vitest';
import { KeyOrderedConsumer } from '../../bench/runs.js';
import { makePartitionLog } from '../../bench/workload.js';
import { MemoryTokenStore } from '../../shared/tokens/memory-token-store.js';

describe('key-ordered consumer', () => {
  it('keeps a consumer warm across runs: each run is handled in full, under the workload offsets, on one claim item', async () => {
    const log = makePartitionLog({ partition: 0, count: 300, keys: 20, seed: 3 });
    const store = new MemoryTokenStore();
    const consumer = new KeyOrderedConsumer({ concurrency: 10, store, processorName: 'bench-warm', segments: 2 });
    const seen: number[][] = [];

    for (let run = 0; run < 3; run++) {
      const offsets: number[] = [];
      const result = await consumer.run({
        logs: [log],
        batchSize: 100,
        handler: async (_partition: number, offset: number) => void offsets.push(offset),
      });
      expect(result).toMatchObject({ records: 300, handled: 300, skipped: 0, redeliveries: 0, batches: 3 });
      seen.push(offsets.sort((a, b) => a - b));
    }

    const expected = Array.from({ length: 300 }, (_, i) => i);
    expect(seen).toEqual([expected, expected, expected]);
    // One processor and one claim item for all three runs: only the shifted offsets kept them from being skipped.
    const state = await store.readState('bench-warm');
    expect(state.partitions).toHaveLength(1);
  });
});
