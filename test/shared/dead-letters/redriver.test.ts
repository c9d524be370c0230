import { describe, expect, it } from 'vitest';
import { NonRetriableError } from '../../../shared/errors.js';
import { FencedError } from '../../../shared/errors.js';
import type { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import type { HandlerContext } from '../../../shared/processing/processor.js';
import { Redriver } from '../../../shared/dead-letters/redriver.js';
import { ManualClock } from '../../support/clock.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import { dispatch, eventOf, recordAt, testDispatcher, testProcessor } from '../../support/harness.js';

/** A handler whose poison keys fail until healed, recording every successful call. */
function switchableHandler() {
  const state = {
    poisoned: new Set<string>(['k']),
    successes: [] as Array<{ offset: number; key: string; redrive: boolean }>,
    delayMs: 0,
  };
  const handler = async (record: KafkaRecord, context: HandlerContext) => {
    if (state.delayMs) await new Promise((resolve) => setTimeout(resolve, state.delayMs));
    if (state.poisoned.has(context.sequencingKey)) throw new NonRetriableError(`poisoned ${context.sequencingKey}`);
    state.successes.push({ offset: record.offset, key: context.sequencingKey, redrive: context.redrive });
  };
  return { state, handler };
}

async function parkedSetup(clock?: ManualClock) {
  const stores = await freshStores(clock?.now);
  const { state, handler } = switchableHandler();
  const processor = testProcessor({ handler, deadLetter: { redriveBaseDelayMs: 1_000, redriveMaxDelayMs: 8_000 } });
  const dispatcher = testDispatcher(processor, stores.store, clock ? { clock: clock.now } : {});
  const redriver = new Redriver({ processor, ...stores, logger: silentLogger, clock: clock?.now });
  const [entry] = await (async () => {
    await dispatch(dispatcher, eventOf([recordAt(0, 'k'), recordAt(1, 'j'), recordAt(2, 'k'), recordAt(3, 'k')]));
    return stores.deadLetters.listParkedKeys('orders-view');
  })();
  const ref = { processor: 'orders-view', topic: 'orders', partition: 0, digest: entry!.digest };
  return { ...stores, state, dispatcher, redriver, ref };
}

const far = () => Date.now() + 60_000;

describe('Redriver on DynamoDB Local', () => {
  it("handles a key's letters in offset order, then the key's live records flow again", async () => {
    const { state, dispatcher, redriver, ref, deadLetters } = await parkedSetup();
    state.poisoned.clear();

    const result = await redriver.redriveKey(ref, { deadline: far() });
    const live = await dispatch(dispatcher, eventOf([recordAt(4, 'k'), recordAt(5, 'j')]));

    expect(result).toMatchObject({ outcome: 'drained', redriven: 3, key: 'k' });
    expect(live.partitions[0]).toMatchObject({ handled: 2, parked: 0 });
    expect(state.successes.filter((s) => s.key === 'k')).toEqual([
      { offset: 0, key: 'k', redrive: true },
      { offset: 2, key: 'k', redrive: true },
      { offset: 3, key: 'k', redrive: true },
      { offset: 4, key: 'k', redrive: false },
    ]);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map());
    expect(await deadLetters.listParkedKeys('orders-view')).toEqual([]);
  });

  it('keeps parking live records of the key behind a redrive under way, and redrives them in order after it', async () => {
    const { state, dispatcher, redriver, ref, deadLetters } = await parkedSetup();
    state.poisoned.clear();
    state.delayMs = 40;

    const redriving = redriver.redriveKey(ref, { deadline: far() });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const live = await dispatch(dispatcher, eventOf([recordAt(4, 'k'), recordAt(5, 'j'), recordAt(6, 'k')]));
    const first = await redriving;
    const second = await redriver.redriveKey(ref, { deadline: far() });

    expect(live.partitions[0]).toMatchObject({ parked: 2, handled: 1 });
    expect(first.redriven + second.redriven).toBe(5);
    expect(state.successes.filter((s) => s.key === 'k').map((s) => s.offset)).toEqual([0, 2, 3, 4, 6]);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map());
    expect((await deadLetters.listParkedKeys('orders-view'))[0]).toMatchObject({ parked: 5, resolved: 5 });
  });

  it('records a failed redrive and schedules the next one with exponential backoff', async () => {
    const clock = new ManualClock(Date.now());
    const { redriver, ref, deadLetters } = await parkedSetup(clock);

    const first = await redriver.redriveKey(ref, { deadline: clock.now() + 60_000 });
    const [afterFirst] = await deadLetters.listParkedKeys('orders-view');
    clock.advance(10_000);
    await redriver.redriveKey(ref, { deadline: clock.now() + 60_000 });
    const [afterSecond] = await deadLetters.listParkedKeys('orders-view');

    expect(first).toMatchObject({ outcome: 'failed', redriven: 0 });
    expect(first.detail).toMatch(/poisoned k/);
    expect(afterFirst).toMatchObject({ attempts: 1, lastError: 'NonRetriableError: poisoned k' });
    // base 1 s: the first retry 0.5 to 1 s later, the second 1 to 2 s later (half fixed, half jitter).
    expect(afterFirst!.nextAttemptAt - (clock.now() - 10_000)).toBeGreaterThanOrEqual(500);
    expect(afterFirst!.nextAttemptAt - (clock.now() - 10_000)).toBeLessThanOrEqual(1_000);
    expect(afterSecond!.attempts).toBe(2);
    expect(afterSecond!.nextAttemptAt - clock.now()).toBeGreaterThanOrEqual(1_000);
    expect(afterSecond!.nextAttemptAt - clock.now()).toBeLessThanOrEqual(2_000);
    const [letter] = await deadLetters.readLetters(ref, { limit: 1 });
    expect(letter).toMatchObject({ offset: 0, attempts: 3 });
  });

  it('redrives only keys that are due, and reports the parked-key gauges', async () => {
    const clock = new ManualClock(Date.now());
    const { state, redriver } = await parkedSetup(clock);
    state.poisoned.clear();

    const early = await redriver.redriveDue({ remainingMs: () => 60_000 });
    clock.advance(1_001);
    const due = await redriver.redriveDue({ remainingMs: () => 60_000 });

    expect(early).toMatchObject({ keys: [], redriven: 0, parkedKeys: 1, oldestParkedAgeSeconds: 0 });
    expect(due).toMatchObject({ redriven: 3, parkedKeys: 1, oldestParkedAgeSeconds: 1 });
    expect(due.keys.map((k) => k.outcome)).toEqual(['drained']);
  });

  it("fences a redriver paused past its lease: its resolve is refused and the successor's run counts each letter once", async () => {
    const clock = new ManualClock(Date.now());
    const { deadLetters, ref } = await parkedSetup(clock);

    const zombie = await deadLetters.takeLease(ref, { owner: 'redrive/zombie', leaseMs: 5_000 });
    clock.advance(5_001);
    const successor = await deadLetters.takeLease(ref, { owner: 'redrive/successor', leaseMs: 5_000 });
    const late = deadLetters.resolve(zombie, 0, { leaseMs: 5_000 });

    await expect(late).rejects.toThrow(FencedError);
    expect(successor.epoch).toBe(zombie.epoch + 1);
    await deadLetters.resolve(successor, 0, { leaseMs: 5_000 });
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/k', [2, 3]]]));
    expect((await deadLetters.listParkedKeys('orders-view'))[0]).toMatchObject({ parked: 3, resolved: 1 });
  });

  it('refuses a second live lease, and deleting letters while a redrive holds the key', async () => {
    const { deadLetters, ref } = await parkedSetup();

    await deadLetters.takeLease(ref, { owner: 'redrive/a', leaseMs: 30_000 });

    await expect(deadLetters.takeLease(ref, { owner: 'redrive/b', leaseMs: 30_000 })).rejects.toThrow(
      /being redriven by another holder/,
    );
    await expect(deadLetters.deleteLetters(ref, [0], { by: 'ops', reason: 'test' })).rejects.toThrow(
      /a redrive holds the key/,
    );
  });

  it('deletes letters with an audit item each, and the key flows once all are resolved', async () => {
    const { state, dispatcher, deadLetters, ref } = await parkedSetup();

    const deleted = await deadLetters.deleteLetters(ref, [0, 2, 3, 99], { by: 'alice', reason: 'bad data' });
    state.poisoned.clear();
    const live = await dispatch(dispatcher, eventOf([recordAt(4, 'k')]));

    expect(deleted).toBe(3);
    expect(live.partitions[0]).toMatchObject({ handled: 1, parked: 0 });
    const audit = await deadLetters.listAudit('orders-view');
    expect(audit.map((a) => [a.action, a.by, a.reason])).toEqual(
      Array.from({ length: 3 }, () => ['delete-letter', 'alice', 'bad data']),
    );
    expect(audit.map((a) => a.target).sort()).toEqual(
      [0, 2, 3].map((offset) => `orders-0/${ref.digest}@${offset}`).sort(),
    );
  });
});
