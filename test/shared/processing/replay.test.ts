import { describe, expect, it } from 'vitest';
import { kafkaEvent } from '../../../local/testing.js';
import { ReplayMode } from '../../../shared/processing/processor.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import { PartitionToken } from '../../../shared/tokens/token.js';
import type { TokenStore } from '../../../shared/tokens/token-store.js';
import { freshDynamoStore } from '../../support/dynamodb.js';
import { fanOutStack } from '../../support/fan-out.js';
import { dispatch, eventOf, keyedLog, ScriptedHandler, testDispatcher, testProcessor } from '../../support/harness.js';
import { lambdaContext } from '../../support/lambda.js';
import { writeReset } from '../../support/replay.js';

const stores: Array<[string, () => Promise<TokenStore>]> = [
  ['DynamoDB Local', () => freshDynamoStore()],
  ['in-memory', async () => new MemoryTokenStore()],
];

const partition0 = { processor: 'orders-view', topic: 'orders', partition: 0 };

/** Offsets 0 to `last` of partition 0, a key of their own each. */
const log = (last: number) => keyedLog(Array.from({ length: last + 1 }, (_, offset) => `key-${offset}`));

/** Rewinds partition 0 to its start, as a reset does, with the token it had as the replay token. */
async function resetToStart(store: TokenStore, resetId = 'reset-1') {
  const [state] = (await store.readState('orders-view')).partitions;
  await writeReset(store, partition0, { token: PartitionToken.initial(), replay: { resetId, token: state!.token } });
}

const replayFlags = (handler: ScriptedHandler) =>
  handler.calls.filter((c) => c.succeeded).map((c) => [c.offset, c.context.replay] as const);

describe.each(stores)('a replay after a reset (%s)', (_name, makeStore) => {
  it('is true for records below the position at the reset and false from it on, and ends once passed', async () => {
    const store = await makeStore();
    const before = new ScriptedHandler();
    await dispatch(testDispatcher(testProcessor({ handler: before.for() }), store), eventOf(log(9)));
    await resetToStart(store);
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);

    await dispatch(dispatcher, eventOf(log(14)));

    expect(replayFlags(before).every(([, replay]) => !replay)).toBe(true);
    expect(replayFlags(handler)).toEqual(Array.from({ length: 15 }, (_, offset) => [offset, offset < 10]));
    const [state] = (await store.readState('orders-view')).partitions;
    expect(state!.replay).toBeNull();
    expect(state!.token.lowWatermark()).toBe(15);
  });

  it('stays on the partition while the token has not passed it, and the checkpoint that passes it removes it', async () => {
    const store = await makeStore();
    await dispatch(testDispatcher(testProcessor({ handler: () => {} }), store), eventOf(log(9)));
    await resetToStart(store);
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);

    await dispatch(dispatcher, eventOf(log(4)));
    const during = (await store.readState('orders-view')).partitions[0]!;
    await dispatch(dispatcher, eventOf(log(12).slice(5)));
    const after = (await store.readState('orders-view')).partitions[0]!;

    expect(during.replay?.resetId).toBe('reset-1');
    expect(replayFlags(handler)).toEqual(Array.from({ length: 13 }, (_, offset) => [offset, offset < 10]));
    expect(after.replay).toBeNull();
  });

  it('is false for a record still unfinished at the reset, and true for its neighbours done out of order', async () => {
    const store = await makeStore();
    // orders-0@3 fails both attempts of its delivery: its key is blocked, the others are done.
    const failing = new ScriptedHandler([['orders-0@3', 2]]);
    await dispatch(
      testDispatcher(testProcessor({ handler: failing.for(), initialSegments: 1 }), store),
      eventOf(log(5)),
    );
    await resetToStart(store);
    const handler = new ScriptedHandler();

    await dispatch(
      testDispatcher(testProcessor({ handler: handler.for(), initialSegments: 1 }), store),
      eventOf(log(5)),
    );

    expect(replayFlags(handler)).toEqual([
      [0, true],
      [1, true],
      [2, true],
      [3, false],
      [4, true],
      [5, true],
    ]);
  });

  it("with replay: 'skip', hands replayed records to no handler, counts them done and checkpoints past them", async () => {
    const store = await makeStore();
    await dispatch(testDispatcher(testProcessor({ handler: () => {} }), store), eventOf(log(9)));
    await resetToStart(store);
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for(), replay: ReplayMode.Skip }), store);

    const result = await dispatch(dispatcher, eventOf(log(14)));

    expect(handler.successes()).toEqual([10, 11, 12, 13, 14].map((offset) => `orders-0@${offset}`));
    expect(replayFlags(handler).every(([, replay]) => !replay)).toBe(true);
    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(result.partitions[0]).toMatchObject({ handled: 5, replaySkipped: 10, skipped: 0 });
    const [state] = (await store.readState('orders-view')).partitions;
    expect(state!.token.lowWatermark()).toBe(15);
    expect(state!.replay).toBeNull();
  });
});

describe('a replay in fan-out mode', () => {
  it("reaches the segment workers' handlers, and 'skip' keeps replayed records from the workers", async () => {
    const store = new MemoryTokenStore();
    const first = fanOutStack({ processor: testProcessor({ handler: () => {} }), store });
    await first.dispatch(eventOf(log(7)), lambdaContext());
    await resetToStart(store);
    const handling = new ScriptedHandler();
    const handle = fanOutStack({ processor: testProcessor({ handler: handling.for() }), store });

    await handle.dispatch(eventOf(log(3)), lambdaContext());
    const skipping = new ScriptedHandler();
    const skip = fanOutStack({ processor: testProcessor({ handler: skipping.for(), replay: 'skip' }), store });
    const response = await skip.dispatch(eventOf(log(9)), lambdaContext());

    expect(replayFlags(handling)).toEqual([0, 1, 2, 3].map((offset) => [offset, true]));
    expect(skipping.successes()).toEqual(['orders-0@8', 'orders-0@9']);
    expect(skip.lambda.invocations.flatMap((i) => (i.payload as { records: unknown[] }).records)).toHaveLength(2);
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await store.readState('orders-view')).partitions[0]!.replay).toBeNull();
  });
});

describe('defineProcessor replay', () => {
  it("refuses a replay mode other than 'handle' or 'skip', naming the processor and the value", () => {
    expect(() => testProcessor({ handler: () => {}, replay: 'ignore' as never })).toThrow(
      `processor "orders-view": replay must be 'handle' or 'skip', got "ignore"`,
    );
    expect(testProcessor({ handler: () => {} }).replay).toBe('handle');
  });
});

describe('time lag on the partition item', () => {
  const now = 1_767_225_600_000;
  /** Partition 0 records with these timestamps, a key of their own each. */
  const timed = (offsets: number[], timestamps: Record<number, number>) =>
    kafkaEvent(offsets.map((offset) => ({ offset, key: `key-${offset}`, timestamp: timestamps[offset] })));
  const timestamps = { 0: now - 50_000, 1: now - 90_000, 2: now - 10_000, 3: now - 70_000, 4: now - 1_000 };

  it('writes the newest covered record time in the checkpoint and reports the oldest handled one', async () => {
    const store = await freshDynamoStore();
    // Offset 4, the newest record, fails its delivery: the checkpoint does not cover it.
    const handler = new ScriptedHandler([['orders-0@4', 2]]);
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);

    const first = await dispatch(dispatcher, timed([0, 1, 2, 3, 4], timestamps));
    const stored = (await store.readState('orders-view')).partitions[0]!.lastRecordAt;
    const second = await dispatch(dispatcher, timed([4], timestamps));
    // A redelivery of older records, all covered, does not move it back.
    const third = await dispatch(dispatcher, timed([0, 1], timestamps));

    expect(first.partitions[0]).toMatchObject({ lastRecordAt: now - 10_000, oldestHandledAt: now - 90_000 });
    expect(stored).toBe(now - 10_000);
    expect(second.partitions[0]).toMatchObject({ lastRecordAt: now - 1_000, oldestHandledAt: now - 1_000 });
    expect(third.partitions[0]).toMatchObject({ skipped: 2, lastRecordAt: now - 1_000, oldestHandledAt: null });
    expect((await store.readState('orders-view')).partitions[0]!.lastRecordAt).toBe(now - 1_000);
  });

  it('reports no time for a partition handed back whole', async () => {
    const store = new MemoryTokenStore();
    const dispatcher = testDispatcher(testProcessor({ handler: () => {} }), store, {
      settings: { claimWaitMs: 0 },
    });
    await store.initialise('orders-view', 4);
    await store.claim({ ...partition0, owner: 'another', layoutVersion: 1, leaseMs: 60_000 });

    const result = await dispatch(dispatcher, timed([0], timestamps));

    expect(result.partitions[0]).toMatchObject({ abandoned: expect.any(String) as string, lastRecordAt: null });
  });
});
