import { describe, expect, it } from 'vitest';
import { NonRetriableError } from '../../../shared/errors.js';
import {
  KeyOrderedRun,
  RecordTimeoutError,
  runInKeyOrder,
  type KeyOrderOptions,
} from '../../../shared/processing/key-scheduler.js';

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

describe('KeyOrderedRun (records added while others run)', () => {
  it('starts records as they are added and answers for all of them, in the order added, at close', async () => {
    const started: string[] = [];
    const run = new KeyOrderedRun(options({ invoke: async (item) => void started.push(`${item.key}${item.offset}`) }));

    run.add(items(['a', 0], ['b', 1]));
    expect(started).toEqual(['a0', 'b1']);
    await tick();
    run.add(items(['a', 2], ['c', 3]));
    const outcomes = await run.close();

    expect(started).toEqual(['a0', 'b1', 'a2', 'c3']);
    expect(outcomes).toEqual(Array.from({ length: 4 }, () => ({ status: 'done', attempts: 1 })));
  });

  it('never runs a key twice at once when more of it arrives while it runs', async () => {
    const running = new Set<string>();
    const order: string[] = [];
    let overlap = false;
    const run = new KeyOrderedRun(
      options({
        concurrency: 3,
        invoke: async (item) => {
          if (running.has(item.key)) overlap = true;
          running.add(item.key);
          order.push(`${item.key}${item.offset}`);
          await tick();
          running.delete(item.key);
        },
      }),
    );

    run.add(items(['a', 0], ['b', 1]));
    run.add(items(['a', 2], ['a', 3]));
    await run.close();

    expect(overlap).toBe(false);
    expect(order.filter((o) => o.startsWith('a'))).toEqual(['a0', 'a2', 'a3']);
  });

  it('moves a waiting key up when it gains records', async () => {
    const started: string[] = [];
    const run = new KeyOrderedRun(
      options({ concurrency: 1, invoke: async (item) => void started.push(`${item.key}${item.offset}`) }),
    );

    run.add(items(['first', 0], ['x', 1], ['y', 2]));
    // "y" now has the most records left; "x" and "first" have one each.
    run.add(items(['y', 3], ['y', 4]));
    await run.close();

    // Then "y" and "x" have one record each: the lower offset goes first.
    expect(started).toEqual(['first0', 'y2', 'y3', 'x1', 'y4']);
  });

  it('blocks records added after their key failed, and hands back those added after a refused start', async () => {
    let allow = true;
    const run = new KeyOrderedRun(
      options({
        retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, jitter: false },
        canStart: (item) => allow || item.key !== 'late',
        invoke: (item) => {
          if (item.key === 'bad') throw new Error('down');
        },
      }),
    );

    run.add(items(['bad', 0], ['late', 1]));
    await tick();
    allow = false;
    run.add(items(['bad', 2], ['late', 3], ['late', 4]));
    const outcomes = await run.close();

    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'done', 'blocked', 'notStarted', 'notStarted']);
    expect(outcomes[2]).toEqual({ status: 'blocked', blockedBy: 0 });
  });

  it('refuses a record that comes before one of its key already added, and any record after close', async () => {
    const run = new KeyOrderedRun(options());
    run.add(items(['a', 5]));

    expect(() => run.add(items(['a', 4]))).toThrow('offset 4 of key "a" added after offset 5');
    await run.close();
    expect(() => run.add(items(['b', 6]))).toThrow('add after close');
  });

  it('abandon starts nothing more and resolves once the records running now have finished', async () => {
    let running = 0;
    let finished = 0;
    const run = new KeyOrderedRun(
      options({
        concurrency: 2,
        invoke: async () => {
          running++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
          finished++;
        },
      }),
    );
    run.add(items(['a', 0], ['b', 1], ['a', 2], ['c', 3]));

    const outcomes = await run.abandon();

    expect(running).toBe(0);
    expect(finished).toBe(2);
    expect(outcomes.map((o) => o.status)).toEqual(['done', 'done', 'notStarted', 'notStarted']);
  });
});

describe('time bounds of a run', () => {
  it('fails an attempt that outlives attemptTimeoutMs with all its attempts, blocks its key, and ignores its late end', async () => {
    const calls: number[] = [];
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const invoke = async (item: Item) => {
      calls.push(item.offset);
      if (item.offset === 0) await hung;
    };

    const outcomes = await runInKeyOrder(
      items(['a', 0], ['a', 1], ['b', 2]),
      options({ invoke, attemptTimeoutMs: 30 }),
    );
    release();
    await tick();

    expect(outcomes[0]).toMatchObject({ status: 'failed', attempts: 3 });
    expect((outcomes[0] as { error: Error }).error).toBeInstanceOf(RecordTimeoutError);
    expect(outcomes.slice(1)).toEqual([
      { status: 'blocked', blockedBy: 0 },
      { status: 'done', attempts: 1 },
    ]);
    expect(calls.sort()).toEqual([0, 2]);
  });

  it('stops waiting at stopWaitingAt: records still running end notStarted, and finishing later changes nothing', async () => {
    const finished: number[] = [];
    const invoke = async (item: Item) => {
      await new Promise((resolve) => setTimeout(resolve, item.offset === 1 ? 300 : 1));
      finished.push(item.offset);
    };
    const run = new KeyOrderedRun(options({ invoke, stopWaitingAt: { at: Date.now() + 60, clock: Date.now } }));
    run.add(items(['a', 0], ['b', 1], ['b', 2]));

    const outcomes = await run.close();
    const finishedWhenAnswered = [...finished];
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(finishedWhenAnswered).toEqual([0]);
    expect(outcomes).toEqual([{ status: 'done', attempts: 1 }, { status: 'notStarted' }, { status: 'notStarted' }]);
    expect(finished).toEqual([0, 1]);
  });
});

describe('onAttemptFailed', () => {
  it('is told of every failed attempt, a timed-out one with a RecordTimeoutError, and not of one whose end no longer counts', async () => {
    const failed: Array<[number, number, string]> = [];
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const invoke = async (item: Item, attempt: number) => {
      if (item.offset === 0) {
        await hung;
        throw new Error('late');
      }
      if (item.offset === 2 && attempt < 3) throw new Error(`try ${attempt}`);
      if (item.offset === 3) throw new NonRetriableError('never');
    };

    const outcomes = await runInKeyOrder(
      items(['a', 0], ['b', 2], ['c', 3]),
      options({
        invoke,
        attemptTimeoutMs: 30,
        onAttemptFailed: (item, attempt, error) =>
          void failed.push([item.offset, attempt, error instanceof RecordTimeoutError ? 'timeout' : String(error)]),
      }),
    );
    release();
    await tick();

    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'done', 'failed']);
    expect(failed.sort((x, y) => x[0] - y[0] || x[1] - y[1])).toEqual([
      [0, 1, 'timeout'],
      [2, 1, 'Error: try 1'],
      [2, 2, 'Error: try 2'],
      [3, 1, 'NonRetriableError: never'],
    ]);
  });

  it('cannot change a run by throwing', async () => {
    const run = (onAttemptFailed?: KeyOrderOptions<Item>['onAttemptFailed']) =>
      runInKeyOrder(
        items(['a', 0], ['a', 1], ['b', 2]),
        options({
          invoke: (item, attempt) => {
            if (item.offset === 0 && attempt === 1) throw new Error('once');
          },
          onAttemptFailed,
        }),
      );

    const plain = await run();
    const observed = await run(() => {
      throw new Error('observer');
    });

    expect(observed).toEqual(plain);
    expect(plain[0]).toEqual({ status: 'done', attempts: 2 });
  });
});
