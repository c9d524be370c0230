import validateAsl from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { LayoutCoordinator } from '../../shared/coordination/layout-change.js';
import { assertCompleteCover } from '../../shared/routing/layout.js';
import { segmentName } from '../../shared/routing/segment.js';
import type { TokenStore } from '../../shared/tokens/token-store.js';
import { runLocally, synthesizeLayoutDefinitions, type LayoutDefinitions } from '../../local/local-state-machines.js';
import { freshDynamoStore } from '../support/dynamodb.js';
import { Traffic, violations } from '../support/traffic.js';

let definitions: LayoutDefinitions;
beforeAll(() => {
  definitions = synthesizeLayoutDefinitions();
});

let coverChecks = 0;

const FAST = { layoutTtlMs: 200, clockSkewMs: 50, drainTimeoutMs: 10_000, pollSeconds: 1 };

function execute(
  store: TokenStore,
  machine: keyof LayoutDefinitions,
  input: Record<string, unknown>,
  executionName: string,
  settings: Partial<typeof FAST> = {},
) {
  const coordinator = { store, ...FAST, ...settings };
  const steps: string[] = [];
  const stepHooks: Array<(state: string) => void> = [];
  const run = runLocally(definitions[machine], input, {
    coordinator,
    executionName,
    waitMs: 50,
    onStep: async (state) => {
      steps.push(state);
      for (const hook of stepHooks) hook(state);
      // Invariant 5 after every step: the stored layout still covers the hash space exactly once.
      const layout = await store.readLayout(String(input.processor));
      assertCompleteCover(layout.segments);
      coverChecks++;
    },
  });
  return { result: run.result, steps, stepHooks };
}

/** The error name a failed execution ended with (its Fail state's `Error`). */
async function failure(result: Promise<unknown>): Promise<string> {
  try {
    await result;
  } catch (error) {
    return String((error as { cause?: { name?: string } }).cause?.name);
  }
  throw new Error('the execution succeeded');
}

const names = (layout: { segments: readonly { id: number; mask: number; state: string }[] }) =>
  layout.segments.map((s) => `${segmentName(s)}:${s.state}`);

describe('layout state machines (synthesized from CDK)', () => {
  it('validates every definition with asl-validator and keeps them on JSONPath', () => {
    for (const [name, definition] of Object.entries(definitions)) {
      const copy = structuredClone(definition);
      const { isValid, errors } = validateAsl(copy);
      expect({ name, isValid, errors }).toEqual({ name, isValid: true, errors: [] });
      expect(JSON.stringify(definition)).not.toContain('JSONata');
    }
  });

  it('splits a segment while traffic flows, without loss, repeats or order violations', async () => {
    const store = await freshDynamoStore();
    const traffic = new Traffic(store, {
      processor: 'split-live',
      partitions: 3,
      keys: 12,
      segments: 2,
      failures: [
        ['orders-0@5', 3],
        ['orders-1@20', 2],
      ],
    }).start();
    await new Promise((resolve) => setTimeout(resolve, 300));

    const { result, steps, stepHooks } = execute(
      store,
      'split',
      { processor: 'split-live', segment: '0/1' },
      'split-live-split-0-1-v1',
    );
    let callsBeforeApply = -1;
    stepHooks.push((state) => {
      if (state === 'Apply change') callsBeforeApply = traffic.handler.calls.length;
    });
    const output = (await result) as { outcome: string; layoutVersion: number };
    await new Promise((resolve) => setTimeout(resolve, 300));
    await traffic.stop();

    const layout = await store.readLayout('split-live');
    expect(output).toMatchObject({ outcome: 'applied', layoutVersion: 3 });
    expect(names(layout)).toEqual(['1/1:active', '0/3:active', '2/3:active']);
    expect(layout.change).toBeUndefined();
    expect(steps[0]).toBe('Begin change');
    expect(coverChecks).toBeGreaterThanOrEqual(steps.length);
    expect(steps.at(-1)).toBe('Apply change');
    expect(violations(traffic)).toEqual([]);
    // After the split, records of the old half ran under the new masks.
    const late = traffic.handler.calls.filter((c) => c.context.layoutVersion === 3);
    expect(late.length).toBeGreaterThan(0);
    expect(
      late.every((c) => (c.context.segment.mask === 1 ? c.context.segment.id === 1 : c.context.segment.mask === 3)),
    ).toBe(true);
    // Never under a mask no longer live: nothing of the draining half ran under v2, nor under v1 after the apply.
    const oldHalf = (c: (typeof late)[number]) => c.context.segment.id === 0 && c.context.segment.mask === 1;
    expect(traffic.handler.calls.filter((c) => c.context.layoutVersion === 2 && oldHalf(c))).toEqual([]);
    expect(
      traffic.handler.calls.slice(callsBeforeApply).filter((c) => c.context.layoutVersion === 1 && oldHalf(c)),
    ).toEqual([]);
    expect(callsBeforeApply).toBeGreaterThan(0);
    // Dispatchers held the draining half's records and handled them once the split was applied.
    expect(traffic.released).toBeGreaterThan(0);
  });

  it('merges right after a split while traffic flows', async () => {
    const store = await freshDynamoStore();
    // Failures hold one half back, so at the merge the halves' positions differ.
    const traffic = new Traffic(store, {
      processor: 'merge-live',
      partitions: 2,
      keys: 10,
      segments: 2,
      failures: [
        ['orders-0@3', 4],
        ['orders-1@9', 3],
        ['orders-0@30', 3],
      ],
    }).start();
    await new Promise((resolve) => setTimeout(resolve, 200));

    await execute(store, 'split', { processor: 'merge-live', segment: '1/1' }, 'merge-live-split-1-1-v1').result;
    const merged = (await execute(
      store,
      'merge',
      { processor: 'merge-live', segment: '3/3' },
      'merge-live-merge-3-3-v3',
    ).result) as { outcome: string };
    await traffic.stop();

    expect(merged.outcome).toBe('applied');
    const layout = await store.readLayout('merge-live');
    expect(names(layout)).toEqual(['0/1:active', '1/1:active']);
    expect(layout.version).toBe(5);
    expect(violations(traffic)).toEqual([]);
  });

  it('lets only one of two executions racing on the same segment change the layout', async () => {
    const store = await freshDynamoStore();
    await store.initialise('race', 2);

    const outcomes = await Promise.allSettled([
      execute(store, 'split', { processor: 'race', segment: '0/1' }, 'race-split-0-1-v1-a').result,
      execute(store, 'split', { processor: 'race', segment: '0/1' }, 'race-split-0-1-v1-b').result,
    ]);

    const fulfilled = outcomes.filter((o) => o.status === 'fulfilled');
    const rejected = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect((rejected[0]!.reason as { cause?: { name?: string } }).cause?.name).toBe('ChangeRefused');
    const layout = await store.readLayout('race');
    expect(names(layout)).toEqual(['1/1:active', '0/3:active', '2/3:active']);
    expect(layout.version).toBe(3);
    assertCompleteCover(layout.segments);
  });

  it('treats a repeated execution of the same name as one change, run concurrently or again later', async () => {
    const store = await freshDynamoStore();
    await store.initialise('repeat', 2);
    const name = 'repeat-split-0-1-v1';

    const [first, second] = (await Promise.all([
      execute(store, 'split', { processor: 'repeat', segment: '0/1' }, name).result,
      execute(store, 'split', { processor: 'repeat', segment: '0/1' }, name).result,
    ])) as Array<{ outcome: string; layoutVersion: number }>;
    const later = execute(store, 'split', { processor: 'repeat', segment: '0/1' }, name);

    expect([first!.outcome, second!.outcome]).toEqual(['applied', 'applied']);
    expect(await failure(later.result)).toBe('ChangeRefused');
    const layout = await store.readLayout('repeat');
    expect(names(layout)).toEqual(['1/1:active', '0/3:active', '2/3:active']);
    expect(layout.version).toBe(3);
  });

  it('rolls back a drain that times out because a claim under the old layout stays live', async () => {
    const store = await freshDynamoStore();
    await store.initialise('stuck', 2);
    // A dispatcher that keeps renewing a claim routed with layout v1 and never finishes in time.
    const holder = await store.claim({
      processor: 'stuck',
      topic: 'orders',
      partition: 0,
      owner: 'slow',
      layoutVersion: 1,
      leaseMs: 60_000,
    });

    const outcome = execute(store, 'split', { processor: 'stuck', segment: '1/1' }, 'stuck-split-1-1-v1', {
      drainTimeoutMs: 600,
    });

    expect(await failure(outcome.result)).toBe('ChangeRolledBack');
    expect(outcome.steps.filter((s) => s === 'Check drain').length).toBeGreaterThanOrEqual(2);
    expect(outcome.steps.at(-1)).toBe('Roll back');
    const layout = await store.readLayout('stuck');
    expect(names(layout)).toEqual(['0/1:active', '1/1:active']);
    expect(layout.version).toBe(3);
    expect(layout.change).toBeUndefined();
    await store.release(holder);
  });

  it('waits out a holder that dies mid-drain, then applies', async () => {
    const store = await freshDynamoStore();
    await store.initialise('dying', 2);
    const started = Date.now();
    await store.claim({
      processor: 'dying',
      topic: 'orders',
      partition: 3,
      owner: 'dies',
      layoutVersion: 1,
      leaseMs: 1_500,
    });

    const output = (await execute(store, 'split', { processor: 'dying', segment: '0/1' }, 'dying-split-0-1-v1')
      .result) as { outcome: string };

    expect(output.outcome).toBe('applied');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(names(await store.readLayout('dying'))).toEqual(['1/1:active', '0/3:active', '2/3:active']);
  });

  it('scales up widest-first and back down narrowest-first while traffic flows', async () => {
    const store = await freshDynamoStore();
    await store.initialise('scaled', 2);
    const traffic = new Traffic(store, { processor: 'scaled', partitions: 2, keys: 16, segments: 2 }).start();

    await execute(store, 'scale', { processor: 'scaled', target: 5 }, 'scaled-scale-5-v1').result;
    const up = await store.readLayout('scaled');
    await execute(store, 'scale', { processor: 'scaled', target: 3 }, 'scaled-scale-3-v7').result;
    const down = await store.readLayout('scaled');
    await traffic.stop();

    expect(names(up)).toEqual(['1/3:active', '2/3:active', '3/3:active', '0/7:active', '4/7:active']);
    expect(names(down)).toEqual(['1/1:active', '0/3:active', '2/3:active']);
    assertCompleteCover(up.segments);
    assertCompleteCover(down.segments);
    expect(violations(traffic)).toEqual([]);
  });

  it('rolls back a change abandoned long past its deadline before starting the next one', async () => {
    const store = await freshDynamoStore();
    await store.initialise('abandoned', 2);
    let now = Date.now();
    const clock = () => now;
    const coordinator = new LayoutCoordinator(store, { settings: { ...FAST, staleChangeGraceMs: 60_000 }, clock });
    await coordinator.begin({
      processor: 'abandoned',
      operation: 'split',
      segment: '0/1',
      changeId: 'stopped-execution',
    });
    await expect(
      coordinator.begin({ processor: 'abandoned', operation: 'split', segment: '1/1', changeId: 'too-early' }),
    ).rejects.toThrow(/another change \(stopped-execution: split 0\/1\) is under way/);

    now += FAST.drainTimeoutMs + 60_001;
    const state = await coordinator.begin({
      processor: 'abandoned',
      operation: 'split',
      segment: '1/1',
      changeId: 'next',
    });

    const layout = await store.readLayout('abandoned');
    expect(state.changeId).toBe('next');
    expect(names(layout)).toEqual(['0/1:active', '1/1:draining']);
    expect(layout.change?.id).toBe('next');
  });

  it('refuses a merge whose sibling is split further, naming the finer segments', async () => {
    const store = await freshDynamoStore();
    await store.initialise('refused', 3);

    const outcome = execute(store, 'merge', { processor: 'refused', segment: '1/1' }, 'refused-merge-1-1-v1');

    expect(await failure(outcome.result)).toBe('ChangeRefused');
    const coordinator = new LayoutCoordinator(store);
    await expect(
      coordinator.begin({ processor: 'refused', operation: 'merge', segment: '1/1', changeId: 'x' }),
    ).rejects.toThrow('cannot merge 1/1: its sibling 0/1 is split further (0/3, 2/3); merge those first');
    expect((await store.readLayout('refused')).version).toBe(1);
  });
});
