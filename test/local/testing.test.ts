import { describe, expect, it } from 'vitest';
import { defineProcessor } from '../../shared/processing/processor.js';
import { kafkaEvent, runBatch } from '../../local/testing.js';

const FAST_RETRY = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, jitter: false } as const;

describe('tidemark/testing', () => {
  it('runs records through the real dispatcher in key order and reports what Lambda must redeliver', async () => {
    const seen: string[] = [];
    const processor = defineProcessor({
      name: 'orders-view',
      topics: ['orders'],
      retry: FAST_RETRY,
      handler: async (record, context) => {
        if (record.json<{ poison?: boolean }>()?.poison) throw new Error('poison');
        seen.push(`${context.sequencingKey}@${record.offset}`);
      },
    });
    const { response, result } = await runBatch(processor, [
      { offset: 0, key: 'a' },
      { offset: 1, key: 'b', value: { poison: true } },
      { offset: 2, key: 'a' },
      { offset: 3, key: 'b' },
    ]);

    expect(seen.filter((s) => s.startsWith('a'))).toEqual(['a@0', 'a@2']);
    // b's later record waits behind its failed one; the partition is handed back from offset 1.
    expect(seen).not.toContain('b@3');
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 1 } }]);
    expect(result.partitions).toHaveLength(1);
  });

  it('skips records a store already covers when the same batch is delivered again', async () => {
    const calls: number[] = [];
    const processor = defineProcessor({
      name: 'orders-view',
      topics: ['orders'],
      handler: async (record) => {
        calls.push(record.offset);
      },
    });
    const records = [0, 1, 2].map((offset) => ({ offset, key: `k${offset}` }));
    const first = await runBatch(processor, records);
    await runBatch(processor, records, { store: first.store });

    expect(calls.sort()).toEqual([0, 1, 2]);
  });

  it('builds events with keyless records, tombstones, headers and bytes', () => {
    const event = kafkaEvent([
      { topic: 'payments', partition: 3, offset: 7, key: null, value: null, headers: { trace: 'x' } },
      { topic: 'payments', partition: 3, offset: 8, key: new Uint8Array([0xff]), value: 'plain' },
    ]);
    const [first, second] = event.records['payments-3'] as unknown as Array<Record<string, unknown>>;

    expect(first).toMatchObject({ offset: 7, partition: 3, topic: 'payments' });
    expect(first!.key ?? null).toBeNull();
    expect(first!.value ?? null).toBeNull();
    expect(first!.headers).toEqual([{ trace: [...Buffer.from('x')] }]);
    expect(second).toMatchObject({ key: '/w==', value: Buffer.from('plain').toString('base64') });
  });
});
