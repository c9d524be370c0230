import { describe, expect, it } from 'vitest';
import {
  changeLayout,
  type ChangeLayoutOptions,
  type LayoutChangeProgress,
  type LayoutChangeRequest,
} from '../../../shared/coordination/change-layout.js';
import { ConfigurationError, LayoutError } from '../../../shared/errors.js';
import { assertCompleteCover } from '../../../shared/routing/layout.js';
import { segmentName } from '../../../shared/routing/segment.js';
import { DEFAULT_DISPATCHER_SETTINGS } from '../../../shared/settings.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import type { TokenStore } from '../../../shared/tokens/token-store.js';
import { ManualClock } from '../../support/clock.js';
import { freshDynamoStore } from '../../support/dynamodb.js';

/** A clock that only moves when the change sleeps, and everything the change reported. */
function run(store: TokenStore, clock: ManualClock) {
  const steps: LayoutChangeProgress[] = [];
  const sleeps: number[] = [];
  const options = (extra: ChangeLayoutOptions = {}): ChangeLayoutOptions => ({
    clock: clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
    onProgress: (progress) => {
      steps.push(progress);
    },
    ...extra,
  });
  return {
    steps,
    sleeps,
    names: () => steps.map((s) => s.step),
    change: (request: LayoutChangeRequest, extra?: ChangeLayoutOptions) => changeLayout(store, request, options(extra)),
  };
}

const stored = async (store: TokenStore, processor: string) => {
  const layout = await store.readLayout(processor);
  return {
    version: layout.version,
    change: layout.change,
    segments: layout.segments.map((s) => `${segmentName(s)}:${s.state}`),
  };
};

describe.each([
  [
    'MemoryTokenStore',
    (clock: ManualClock): Promise<TokenStore> => Promise.resolve(new MemoryTokenStore({ clock: clock.now })),
  ],
  ['DynamoDB Local', (clock: ManualClock): Promise<TokenStore> => freshDynamoStore(clock.now)],
])('changeLayout on %s', (_name, makeStore) => {
  it('splits a segment: begin, checks every pollSeconds until the dispatchers’ layout bound has passed, apply', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    const started = clock.now();
    const change = run(store, clock);

    const result = await change.change({ processor: 'orders', operation: 'split', segment: '0/1' });

    // Default settings: layoutTtlMs 5000 + clockSkewMs 1000, so the check at 5 s waits and the one at 10 s applies.
    expect(change.names()).toEqual(['begin', 'check', 'check', 'apply']);
    expect(change.sleeps).toEqual([5_000, 5_000]);
    expect(clock.now() - started).toBeGreaterThanOrEqual(DEFAULT_DISPATCHER_SETTINGS.layoutTtlMs + 1_000);
    expect(result).toMatchObject({
      processor: 'orders',
      operation: 'split',
      outcome: 'applied',
      layoutVersion: 3,
      segments: ['1/1', '0/3', '2/3'],
    });
    expect(result.changes).toEqual([
      {
        changeId: 'orders-split-0-1-v1',
        operation: 'split',
        segment: '0/1',
        from: ['0/1'],
        to: ['0/3', '2/3'],
        outcome: 'applied',
        layoutVersion: 3,
      },
    ]);
    expect(await stored(store, 'orders')).toEqual({
      version: 3,
      change: undefined,
      segments: ['1/1:active', '0/3:active', '2/3:active'],
    });
  });

  it('merges a segment with its sibling', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 4);

    const result = await run(store, clock).change({ processor: 'orders', operation: 'merge', segment: '3/3' });

    expect(result).toMatchObject({ outcome: 'applied', layoutVersion: 3, segments: ['1/1', '0/3', '2/3'] });
    expect(result.changes[0]).toMatchObject({ operation: 'merge', from: ['1/3', '3/3'], to: ['1/1'] });
    assertCompleteCover(result.layout.segments);
  });

  it('scales up widest-first and back down narrowest-first, one change at a time, each named by its step', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    const change = run(store, clock);

    const up = await change.change({ processor: 'orders', operation: 'scale', segments: 5 });
    const upSteps = change.names();
    const down = await change.change({ processor: 'orders', operation: 'scale', segments: 3 });
    const same = await change.change({ processor: 'orders', operation: 'scale', segments: 3 });

    expect(up).toMatchObject({ outcome: 'applied', segments: ['1/3', '2/3', '3/3', '0/7', '4/7'], layoutVersion: 7 });
    expect(up.changes.map((c) => [c.changeId, c.operation, c.segment, c.outcome])).toEqual([
      ['orders-scale-5-v1-1', 'split', '0/1', 'applied'],
      ['orders-scale-5-v1-2', 'split', '1/1', 'applied'],
      ['orders-scale-5-v1-3', 'split', '0/3', 'applied'],
    ]);
    expect(upSteps.filter((s) => s !== 'check')).toEqual([
      'plan',
      'begin',
      'apply',
      'plan',
      'begin',
      'apply',
      'plan',
      'begin',
      'apply',
      'plan',
    ]);
    expect(down).toMatchObject({ outcome: 'applied', segments: ['1/1', '0/3', '2/3'], layoutVersion: 11 });
    expect(down.changes.map((c) => [c.changeId, c.operation, c.segment])).toEqual([
      ['orders-scale-3-v7-1', 'merge', '4/7'],
      ['orders-scale-3-v7-2', 'merge', '3/3'],
    ]);
    expect(same).toMatchObject({ outcome: 'unchanged', changes: [], layoutVersion: 11 });
  });

  it('rolls back when a claim under the old layout never drains, and says so', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    const holder = await store.claim({
      processor: 'orders',
      topic: 'orders',
      partition: 0,
      owner: 'slow',
      layoutVersion: 1,
      leaseMs: 600_000,
    });
    const change = run(store, clock);

    const result = await change.change(
      { processor: 'orders', operation: 'split', segment: '1/1' },
      { settings: { drainTimeoutMs: 30_000 } },
    );

    expect(result).toMatchObject({ outcome: 'rolledBack', rollbackReason: 'drainTimeout', layoutVersion: 3 });
    expect(result.segments).toEqual(['0/1', '1/1']);
    expect(result.changes).toEqual([expect.objectContaining({ outcome: 'rolledBack', layoutVersion: 3 })]);
    // Checks at 5, 10, ... 30 s: the last one is past the deadline.
    expect(change.names()).toEqual(['begin', 'check', 'check', 'check', 'check', 'check', 'check', 'rollback']);
    const checks = change.steps.filter((s) => s.step === 'check').map((s) => ('state' in s ? s.state.liveClaims : -1));
    expect(checks).toEqual([1, 1, 1, 1, 1, 1]);
    expect(await stored(store, 'orders')).toEqual({
      version: 3,
      change: undefined,
      segments: ['0/1:active', '1/1:active'],
    });
    await store.release(holder);
  });

  it('waits out a claim whose holder died, then applies', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    await store.claim({
      processor: 'orders',
      topic: 'orders',
      partition: 3,
      owner: 'dies',
      layoutVersion: 1,
      leaseMs: 12_000,
    });
    const change = run(store, clock);

    const result = await change.change({ processor: 'orders', operation: 'split', segment: '0/1' });

    expect(result.outcome).toBe('applied');
    expect(change.names()).toEqual(['begin', 'check', 'check', 'check', 'apply']);
  });

  it('waits out the dispatchers’ layoutTtlMs when given their settings, and refuses values that disagree', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    const change = run(store, clock);
    const dispatcherSettings = { layoutTtlMs: 20_000 };

    await expect(
      change.change(
        { processor: 'orders', operation: 'split', segment: '0/1' },
        { dispatcherSettings, layoutTtlMs: 5_000 },
      ),
    ).rejects.toThrow(ConfigurationError);
    await expect(
      change.change(
        { processor: 'orders', operation: 'split', segment: '0/1' },
        { dispatcherSettings, settings: { layoutTtlMs: 5_000 } },
      ),
    ).rejects.toThrow(/disagree/);
    expect((await stored(store, 'orders')).version).toBe(1);
    const started = clock.now();

    const result = await change.change(
      { processor: 'orders', operation: 'split', segment: '0/1' },
      { dispatcherSettings },
    );

    expect(result.outcome).toBe('applied');
    // 20 s + 1 s allowance: checks at 5, 10, 15 and 20 s wait; the one at 25 s applies.
    expect(change.names().filter((s) => s === 'check')).toHaveLength(5);
    expect(clock.now() - started).toBe(25_000);
  });

  it('refuses a change the layout does not allow, writing nothing', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    const change = run(store, clock);

    await expect(change.change({ processor: 'orders', operation: 'split', segment: '0/2' })).rejects.toThrow(
      LayoutError,
    );
    await expect(change.change({ processor: 'orders', operation: 'merge', segment: '0/0' })).rejects.toThrow(
      LayoutError,
    );
    await expect(change.change({ processor: 'orders', operation: 'scale', segments: 0 })).rejects.toThrow(
      ConfigurationError,
    );
    expect(await stored(store, 'orders')).toEqual({
      version: 1,
      change: undefined,
      segments: ['0/1:active', '1/1:active'],
    });
  });

  it('joins a change of the same name already under way instead of starting another; once done, the name is refused', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    const request = { processor: 'orders', operation: 'split', segment: '0/1' } as const;
    let twin: Promise<unknown> | undefined;

    const first = await run(store, clock).change(request, {
      onProgress: (progress) => {
        if (progress.step === 'begin') twin = run(store, clock).change(request, { changeId: progress.state.changeId });
      },
    });
    const second = (await twin) as Awaited<ReturnType<typeof changeLayout>>;

    expect(first.changes[0]!.changeId).toBe('orders-split-0-1-v1');
    expect([first.outcome, second.outcome]).toEqual(['applied', 'applied']);
    expect(second.changes.map((c) => c.changeId)).toEqual(['orders-split-0-1-v1']);
    expect(await stored(store, 'orders')).toMatchObject({
      version: 3,
      segments: ['1/1:active', '0/3:active', '2/3:active'],
    });
    await expect(run(store, clock).change(request, { changeId: 'orders-split-0-1-v1' })).rejects.toThrow(
      /has no segment 0\/1/,
    );
  });
});

describe('changeLayout when a step fails', () => {
  /** The store, with `readState` (the drain check's read) failing as `failures` says. */
  function failingChecks(store: TokenStore, failures: Error[]): TokenStore {
    return {
      ...Object.fromEntries(
        (Object.getOwnPropertyNames(Object.getPrototypeOf(store)) as Array<keyof TokenStore>)
          .filter((name) => typeof store[name] === 'function')
          .map((name) => [name, (store[name] as (...args: unknown[]) => unknown).bind(store)]),
      ),
      readState: (processor: string) => {
        const failure = failures.shift();
        return failure ? Promise.reject(failure) : store.readState(processor);
      },
    } as TokenStore;
  }

  it('tries a step again after a transient error, as the state machine retries it', async () => {
    const clock = new ManualClock();
    const memory = new MemoryTokenStore({ clock: clock.now });
    await memory.initialise('orders', 2);
    const throttled = () => Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    const change = run(failingChecks(memory, [throttled(), throttled()]), clock);

    const result = await change.change({ processor: 'orders', operation: 'split', segment: '0/1' });

    expect(result.outcome).toBe('applied');
    // The retries' 1 s and 2 s count towards the drain: the first check, at 8 s, finds it drained.
    expect(change.names()).toEqual(['begin', 'retry', 'retry', 'check', 'apply']);
    expect(
      change.steps.filter((s) => s.step === 'retry').map((s) => ('delayMs' in s ? [s.of, s.delayMs] : [])),
    ).toEqual([
      ['check', 1_000],
      ['check', 2_000],
    ]);
  });

  it('rolls back when a check fails for good, and returns the error', async () => {
    const clock = new ManualClock();
    const memory = new MemoryTokenStore({ clock: clock.now });
    await memory.initialise('orders', 2);
    const broken = new Error('access denied');
    const change = run(failingChecks(memory, [broken]), clock);

    const result = await change.change({ processor: 'orders', operation: 'split', segment: '0/1' });

    expect(result).toMatchObject({
      outcome: 'rolledBack',
      rollbackReason: 'failed',
      error: broken,
      segments: ['0/1', '1/1'],
    });
    expect(change.names()).toEqual(['begin', 'rollback']);
    expect((await memory.readLayout('orders')).change).toBeUndefined();
  });
});
