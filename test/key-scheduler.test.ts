import { describe, expect, it } from 'vitest';
import { NonRetriableError } from '../shared/errors.js';
import { runInKeyOrder, type KeyOrderOptions } from '../shared/key-scheduler.js';

interface Item {
  key: string;
  offset: number;
}

const items = (...spec: Array<[string, number]>): Item[] => spec.map(([key, offset]) => ({ key, offset }));
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

function options(overrides: Partial<KeyOrderOptions<Item>> = {}): KeyOrderOptions<Item> {
  return {
    concurrency: 4,
    retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0, jitter: false },
    invoke: tick,
    canStart: () => true,
    hasTimeFor: () => true,
    ...overrides,
  };
}

describe('runInKeyOrder', () => {
  it('runs each key in offset order, never two records of a key at once, and never more than the bound', async () => {
    const batch = items(['a', 5], ['b', 1], ['a', 2], ['c', 3], ['a', 9], ['b', 4], ['c', 8]);
    const started: string[] = [];
    const running = new Set<string>();
    let most = 0;
    let overlap = false;

    const outcomes = await runInKeyOrder(
      batch,
      options({
        concurrency: 2,
        invoke: async (item) => {
          if (running.has(item.key)) overlap = true;
          running.add(item.key);
          most = Math.max(most, running.size);
          started.push(`${item.key}${item.offset}`);
          await tick();
          running.delete(item.key);
        },
      }),
    );

    expect(outcomes.every((o) => o.status === 'done')).toBe(true);
    expect(overlap).toBe(false);
    expect(most).toBe(2);
    for (const key of ['a', 'b', 'c']) {
      const offsets = started.filter((s) => s.startsWith(key)).map((s) => Number(s.slice(1)));
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    }
  });

  it('gives a free slot to the key with the most records left first', async () => {
    const batch = items(['short', 0], ['long', 1], ['long', 2], ['long', 3], ['other', 4]);
    const started: string[] = [];

    await runInKeyOrder(
      batch,
      options({ concurrency: 1, invoke: (item) => void started.push(`${item.key}${item.offset}`) }),
    );

    // Once the chains are equally long, the lowest offset goes first.
    expect(started).toEqual(['long1', 'long2', 'short0', 'long3', 'other4']);
  });

  it('retries a failing record, then blocks its key while other keys finish', async () => {
    const batch = items(['a', 0], ['a', 1], ['b', 2], ['a', 3]);
    const calls: string[] = [];

    const outcomes = await runInKeyOrder(
      batch,
      options({
        invoke: (item, attempt) => {
          calls.push(`${item.key}${item.offset}#${attempt}`);
          if (item.offset === 1) throw new Error('down');
        },
      }),
    );

    expect(outcomes).toEqual([
      { status: 'done', attempts: 1 },
      { status: 'failed', attempts: 3, error: new Error('down') },
      { status: 'done', attempts: 1 },
      { status: 'blocked', blockedBy: 1 },
    ]);
    expect(calls.filter((c) => c.startsWith('a1'))).toEqual(['a1#1', 'a1#2', 'a1#3']);
    expect(calls).not.toContain('a3#1');
  });

  it('does not retry a non-retriable error, and stops retrying when there is no time to wait', async () => {
    const batch = items(['a', 0], ['b', 1]);
    const attempts: string[] = [];

    const outcomes = await runInKeyOrder(
      batch,
      options({
        retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 100, jitter: false },
        hasTimeFor: (delay) => delay < 50,
        invoke: (item, attempt) => {
          attempts.push(`${item.key}#${attempt}`);
          throw item.key === 'a' ? new NonRetriableError('never') : new Error('later');
        },
      }),
    );

    expect(outcomes.map((o) => [o.status, 'attempts' in o ? o.attempts : undefined])).toEqual([
      ['failed', 1],
      ['failed', 1],
    ]);
    expect(attempts.sort()).toEqual(['a#1', 'b#1']);
  });

  it('gives the slot back while a key waits to retry', async () => {
    const batch = items(['slow', 0], ['fast', 1]);
    const started: string[] = [];
    let failed = false;

    await runInKeyOrder(
      batch,
      options({
        concurrency: 1,
        retry: { maxAttempts: 2, baseDelayMs: 30, maxDelayMs: 30, jitter: false },
        invoke: (item) => {
          started.push(item.key);
          if (item.key === 'slow' && !failed) {
            failed = true;
            throw new Error('once');
          }
        },
      }),
    );

    expect(started).toEqual(['slow', 'fast', 'slow']);
  });

  it('marks a record and the rest of its key not started once canStart says no', async () => {
    const batch = items(['a', 0], ['a', 1], ['b', 2]);

    const outcomes = await runInKeyOrder(batch, options({ canStart: async (item) => item.offset === 0 }));

    expect(outcomes).toEqual([{ status: 'done', attempts: 1 }, { status: 'notStarted' }, { status: 'notStarted' }]);
  });

  it('answers at once for an empty batch', async () => {
    await expect(runInKeyOrder([], options())).resolves.toEqual([]);
  });
});
