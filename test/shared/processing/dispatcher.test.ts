import { PutCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { DynamoDbTokenStore } from '../../../shared/tokens/dynamodb-token-store.js';
import { resolveDispatcherSettings } from '../../../shared/settings.js';
import { ConfigurationError, LayoutError, MalformedEventError, UnknownProcessorError } from '../../../shared/errors.js';
import { SegmentRouter } from '../../../shared/routing/layout.js';
import { defaultHash } from '../../../shared/routing/hash.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import { tokenKeys } from '../../../shared/tokens/token-table.js';
import { ManualClock } from '../../support/clock.js';
import { keyDigest, SyntheticKey } from '../../../shared/dead-letters/dead-letter.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import { freshDynamoStore, freshTokenTable, localDynamoDb } from '../../support/dynamodb.js';
import {
  dispatch,
  eventOf,
  keyedLog,
  ScriptedHandler,
  testDispatcher,
  testProcessor,
  topicLog,
  type LogRecord,
} from '../../support/harness.js';

const byKeyInOrder = (handler: ScriptedHandler) => {
  const keys = new Map<string, number[]>();
  for (const call of handler.calls.filter((c) => c.succeeded)) {
    const id = `${call.topicPartition}/${call.key}`;
    keys.set(id, [...(keys.get(id) ?? []), call.offset]);
  }
  return keys;
};

describe('Dispatcher on DynamoDB Local', () => {
  it('handles every record once, each key in offset order, and reports nothing back', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const log = topicLog({ partitions: 2, count: 30, keys: 5 });

    const result = await dispatch(dispatcher, eventOf(log));

    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(handler.successes().sort()).toEqual(log.map((r) => `orders-${r.partition}@${r.offset}`).sort());
    for (const offsets of byKeyInOrder(handler).values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(result.partitions.map((p) => [p.topicPartition, p.handled, p.redeliverFrom])).toEqual([
      ['orders-0', 30, undefined],
      ['orders-1', 30, undefined],
    ]);
  });

  it('skips records a redelivery brings again once they are checkpointed', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const log = topicLog({ partitions: 1, count: 20, keys: 4 });
    await dispatch(dispatcher, eventOf(log.slice(0, 12)));

    const again = await dispatch(dispatcher, eventOf(log));

    expect(handler.successes()).toHaveLength(20);
    expect(again.partitions[0]).toMatchObject({ skipped: 12, handled: 8, redeliverFrom: undefined });
  });

  it('blocks only the key of a failing record and reports its offset for redelivery', async () => {
    const store = await freshDynamoStore();
    // orders-0@3 fails three times: more than the two attempts one delivery allows.
    const handler = new ScriptedHandler([['orders-0@3', 3]]);
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const log: LogRecord[] = [0, 1, 2, 3, 4, 5, 6, 7].map((offset) => ({
      topic: 'orders',
      partition: 0,
      offset,
      key: offset % 2 === 0 ? 'even' : 'odd',
    }));

    const first = await dispatch(dispatcher, eventOf(log));
    const second = await dispatch(dispatcher, eventOf(log.slice(3)));

    expect(first.response).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: 3 } }] });
    expect(first.partitions[0]).toMatchObject({ handled: 5, failed: 1, blocked: 2 });
    expect(second.response).toEqual({ batchItemFailures: [] });
    expect(second.partitions[0]).toMatchObject({ skipped: 2, handled: 3 });
    expect([...handler.successes()].sort()).toEqual(log.map((r) => `orders-0@${r.offset}`).sort());
    expect(byKeyInOrder(handler).get('orders-0/odd')).toEqual([1, 3, 5, 7]);
    expect(byKeyInOrder(handler).get('orders-0/even')).toEqual([0, 2, 4, 6]);
  });

  it("parks a malformed record under the partition's (malformed) key while the rest of the batch is handled", async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const event = eventOf(topicLog({ partitions: 1, count: 6, keys: 6 }));
    event.records['orders-0']![2]!.value = 'not base64 %%%';

    const result = await dispatch(dispatcher, event);

    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(handler.successes().sort()).toEqual(['orders-0@0', 'orders-0@1', 'orders-0@3', 'orders-0@4', 'orders-0@5']);
    expect(result.partitions[0]).toMatchObject({ malformed: 1, handled: 5, parked: 1 });
    const [letter] = await deadLetters.readLetters({
      processor: 'orders-view',
      topic: 'orders',
      partition: 0,
      digest: keyDigest(SyntheticKey.Malformed, true),
    });
    expect(letter).toMatchObject({ offset: 2, reason: 'malformed', sequencingKey: '(malformed)', synthetic: true });
    expect(JSON.parse(letter!.raw!)).toMatchObject({ offset: 2, value: 'not base64 %%%' });
    expect(letter!.error.message).toMatch(/records\["orders-0"\]\[2\]/);
  });

  it('parks every record of a partition whose records are all unreadable, and the partition goes on past them', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const event = eventOf(topicLog({ partitions: 2, count: 3, keys: 3 }));
    for (const raw of event.records['orders-1']!) raw.key = '***';

    const result = await dispatch(dispatcher, event);

    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(handler.successes().sort()).toEqual(['orders-0@0', 'orders-0@1', 'orders-0@2']);
    const unreadable = (await store.readState('orders-view')).partitions.find((p) => p.partition === 1);
    expect(unreadable).toMatchObject({ leaseUntil: 0 });
    expect(unreadable!.token.lowWatermark()).toBe(3);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-1/(malformed)', [0, 1, 2]]]));
  });

  it('parks records without a readable offset under a position of their own, once, and the partition goes on', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const event = eventOf(topicLog({ partitions: 2, count: 4, keys: 3 }));
    const raws = event.records['orders-1']! as unknown as Array<Record<string, unknown>>;
    raws[1]!.offset = 'x';
    raws[2]!.offset = -1;

    const result = await dispatch(dispatcher, event);
    const again = await dispatch(dispatcher, event);

    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(result.partitions.find((p) => p.topicPartition === 'orders-1')).toMatchObject({ parked: 2, handled: 2 });
    expect(
      handler
        .successes()
        .filter((id) => id.startsWith('orders-1'))
        .sort(),
    ).toEqual(['orders-1@0', 'orders-1@3']);
    const letters = (await lettersByKey(deadLetters, 'orders-view')).get('orders-1/(malformed)')!;
    expect(letters).toHaveLength(2);
    expect(letters.every((offset) => offset < 0)).toBe(true);
    expect(again.partitions.find((p) => p.topicPartition === 'orders-1')).toMatchObject({ parked: 0, skipped: 4 });
    expect((await lettersByKey(deadLetters, 'orders-view')).get('orders-1/(malformed)')).toEqual(letters);
    const [entry] = (await deadLetters.listParkedKeys('orders-view')).filter((e) => e.key === '(malformed)');
    expect(entry).toMatchObject({ parked: 2 });
  });

  it('parks an entry none of whose records has an offset without failing the other partitions of the event', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const event = eventOf(topicLog({ partitions: 2, count: 3, keys: 3 }));
    for (const raw of event.records['orders-1']! as unknown as Array<Record<string, unknown>>) delete raw.offset;

    const result = await dispatch(dispatcher, event);
    const again = await dispatch(dispatcher, event);

    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(handler.successes().sort()).toEqual(['orders-0@0', 'orders-0@1', 'orders-0@2']);
    expect((await lettersByKey(deadLetters, 'orders-view')).get('orders-1/(malformed)')).toHaveLength(3);
    expect(again.response).toEqual({ batchItemFailures: [] });
    const [entry] = await deadLetters.listParkedKeys('orders-view');
    expect(entry).toMatchObject({ key: '(malformed)', parked: 3 });
  });

  it('fails the whole batch, and leaves no claim failure unhandled, when the layout cannot be read', async () => {
    const store = await freshDynamoStore();
    const failing = new Proxy(store, {
      get: (target, property, receiver) =>
        property === 'readLayout'
          ? () => Promise.reject(new Error('layout read failed'))
          : (Reflect.get(target, property, receiver) as unknown),
    });
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), failing);

    await expect(dispatch(dispatcher, eventOf(topicLog({ partitions: 2, count: 3, keys: 3 })))).rejects.toThrow(
      'layout read failed',
    );

    expect(handler.successes()).toEqual([]);
    await expect(store.readState('orders-view')).rejects.toThrow(UnknownProcessorError);
  });

  it('refuses an event with an unusable envelope before it takes any claim', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const event = eventOf(topicLog({ partitions: 2, count: 3, keys: 3 })) as unknown as Record<string, unknown>;
    event.eventSource = 'aws:sqs';

    await expect(dispatch(dispatcher, event)).rejects.toThrow(MalformedEventError);

    // Not even the layout was created: nothing was claimed.
    await expect(store.readState('orders-view')).rejects.toThrow(UnknownProcessorError);
    expect(handler.successes()).toEqual([]);
  });

  it('when an event is refused after records started, lets them finish and gives back every claim', async () => {
    const store = await freshDynamoStore();
    let running = 0;
    let runningAtRefusal = -1;
    const handler = async () => {
      running++;
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
    };
    // A fault that is not the event's (here the logger) while the batch is being parsed: the event is refused.
    const logger = {
      ...silentLogger,
      error: (message: string) => {
        if (message.startsWith('malformed record')) throw new Error('log sink down');
      },
    };
    const dispatcher = testDispatcher(testProcessor({ handler, concurrency: 4 }), store, { logger });
    const event = eventOf(topicLog({ partitions: 2, count: 1_500, keys: 20 }));
    (event.records['orders-1']![1_400] as unknown as Record<string, unknown>).value = 42;

    await expect(
      dispatch(dispatcher, event).finally(() => {
        runningAtRefusal = running;
      }),
    ).rejects.toThrow('log sink down');

    expect(runningAtRefusal).toBe(0);
    const partitions = (await store.readState('orders-view')).partitions;
    expect(partitions.map((p) => [p.partition, p.leaseUntil])).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });

  it('keeps key order across parse chunks, also when the event lists a partition out of offset order', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler([], { delayMs: 1 });
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for(), concurrency: 16 }), store);
    const log = topicLog({ partitions: 2, count: 1_200, keys: 7 });
    const event = eventOf(log);
    event.records['orders-1']!.reverse();

    const result = await dispatch(dispatcher, event);

    expect(result.response.batchItemFailures).toEqual([]);
    expect(handler.successes()).toHaveLength(2_400);
    for (const offsets of byKeyInOrder(handler).values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(handler.overlap).toBeUndefined();
  });

  it('parks records of a topic the processor does not consume as unroutable instead of dropping them', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);

    const result = await dispatch(
      dispatcher,
      eventOf(topicLog({ partitions: 1, count: 3, keys: 3, topic: 'payments' })),
    );

    expect(handler.calls).toEqual([]);
    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['payments-0/(unroutable)', [0, 1, 2]]]));
  });

  it('serialises two concurrent deliveries that carry the same request id, so each record is handled once', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler([], { delayMs: 2 });
    const event = eventOf(topicLog({ partitions: 1, count: 20, keys: 3 }));
    const [a, b] = ['a', 'b'].map((name) => testDispatcher(testProcessor({ handler: handler.for(name) }), store));

    const results = await Promise.all([dispatch(a!, event, 'same-request'), dispatch(b!, event, 'same-request')]);

    expect(handler.overlap).toBeUndefined();
    expect(handler.successes()).toHaveLength(20);
    expect(new Set(handler.successes()).size).toBe(20);
    expect(results.flatMap((r) => r.response.batchItemFailures)).toEqual([]);
  });

  it('handles an offset delivered twice in one batch once', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for() }), store);
    const event = eventOf([200, 201, 201, 202].map((offset) => ({ topic: 'orders', partition: 0, offset, key: 'k' })));

    const result = await dispatch(dispatcher, event);

    expect(handler.successes()).toEqual(['orders-0@200', 'orders-0@201', 'orders-0@202']);
    expect(result.partitions[0]).toMatchObject({ delivered: 4, handled: 3, skipped: 1 });
    expect(result.response.batchItemFailures).toEqual([]);
  });

  it('serialises a duplicate concurrent delivery so each record is handled once', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler([], { delayMs: 2 });
    const processorA = testProcessor({ handler: handler.for('a') });
    const processorB = testProcessor({ handler: handler.for('b') });
    const event = eventOf(topicLog({ partitions: 2, count: 25, keys: 3 }));

    const [a, b] = await Promise.all([
      dispatch(testDispatcher(processorA, store), event, 'a'),
      dispatch(testDispatcher(processorB, store), event, 'b'),
    ]);

    expect(handler.overlap).toBeUndefined();
    expect(handler.successes()).toHaveLength(50);
    expect(new Set(handler.successes()).size).toBe(50);
    expect([...a.response.batchItemFailures, ...b.response.batchItemFailures]).toEqual([]);
  });

  it('fences a holder whose lease ran out: its checkpoint is refused and its work handed back', async () => {
    const clock = new ManualClock();
    const store = await freshDynamoStore(clock.now);
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    const zombieCalls: number[] = [];
    const zombie = testDispatcher(
      testProcessor({
        concurrency: 1,
        handler: async (record) => {
          zombieCalls.push(record.offset);
          if (record.offset === 0) await paused;
        },
      }),
      store,
      { clock: clock.now, settings: { leaseMs: 10_000, leaseSafetyMs: 1_000 } },
    );
    const successorHandler = new ScriptedHandler();
    const successor = testDispatcher(testProcessor({ handler: successorHandler.for() }), store, {
      clock: clock.now,
      settings: { leaseMs: 10_000, leaseSafetyMs: 1_000 },
    });
    const event = eventOf(topicLog({ partitions: 1, count: 5, keys: 1 }));

    const zombieRun = dispatch(zombie, event, 'zombie');
    await new Promise((resolve) => setTimeout(resolve, 200));
    clock.advance(11_000);
    const successorResult = await dispatch(successor, event, 'successor');
    release();
    const zombieResult = await zombieRun;

    expect(successorResult.response).toEqual({ batchItemFailures: [] });
    expect(successorHandler.successes()).toEqual([
      'orders-0@0',
      'orders-0@1',
      'orders-0@2',
      'orders-0@3',
      'orders-0@4',
    ]);
    expect(successorHandler.calls[0]!.epoch).toBe(2);
    expect(zombieCalls).toEqual([0]);
    expect(zombieResult.partitions[0]).toMatchObject({
      redeliverFrom: 0,
      abandoned: expect.stringMatching(/taken over/),
    });
  });

  it('refreshes a stale layout when its claim is refused and routes with the current one', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for() });
    const stale = testDispatcher(processor, store, { settings: { layoutTtlMs: 60_000 } });
    const log = topicLog({ partitions: 1, count: 10, keys: 10 });
    await dispatch(stale, eventOf(log.slice(0, 5)));
    const v1 = await store.readLayout('orders-view');
    const [first, ...rest] = v1.segments;
    const v2 = await store.changeLayout('orders-view', 1, [
      ...rest,
      { id: first!.id, mask: (first!.mask << 1) | 1, state: 'active' },
      { id: first!.id + first!.mask + 1, mask: (first!.mask << 1) | 1, state: 'active' },
    ]);
    await dispatch(testDispatcher(processor, store), eventOf([]));
    const fresh = testDispatcher(processor, store);
    await dispatch(fresh, eventOf(log.slice(5, 6)));

    const result = await dispatch(stale, eventOf(log.slice(6)));

    expect(result.layoutVersion).toBe(2);
    const router = new SegmentRouter(v2.segments);
    const late = handler.calls.filter((c) => c.offset >= 6);
    expect(late).toHaveLength(4);
    for (const call of late) {
      expect(call.context.layoutVersion).toBe(2);
      const expected = router.segmentFor(defaultHash(call.key));
      expect(call.context.segment).toEqual({ id: expected.id, mask: expected.mask });
    }
  });

  it('hands back the records of a draining segment and handles them once it reopens', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: 2 });
    await store.initialise('orders-view', 2);
    await store.changeLayout('orders-view', 1, [
      { id: 0, mask: 1, state: 'draining' },
      { id: 1, mask: 1, state: 'active' },
    ]);
    const log = topicLog({ partitions: 1, count: 20, keys: 20 });
    const inDraining = log.filter((r) => (defaultHash(r.key!) & 1) === 0).map((r) => r.offset);

    const during = await dispatch(testDispatcher(processor, store, { settings: { drainWaitMs: 0 } }), eventOf(log));
    await store.changeLayout('orders-view', 2, [
      { id: 0, mask: 1, state: 'active' },
      { id: 1, mask: 1, state: 'active' },
    ]);
    const after = await dispatch(
      testDispatcher(processor, store),
      eventOf(log.filter((r) => r.offset >= Math.min(...inDraining))),
    );

    expect(inDraining.length).toBeGreaterThan(0);
    expect(during.partitions[0]).toMatchObject({ draining: inDraining.length, handled: 20 - inDraining.length });
    expect(during.response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: Math.min(...inDraining) } },
    ]);
    expect(after.response.batchItemFailures).toEqual([]);
    expect(after.partitions[0]!.handled).toBe(inDraining.length);
    expect(handler.successes().sort()).toEqual(log.map((r) => `orders-0@${r.offset}`).sort());
  });

  it('checkpoints what it ran when the layout cannot be re-read while it waits for a drain', async () => {
    const store = await freshDynamoStore();
    await store.initialise('orders-view', 2);
    await store.changeLayout('orders-view', 1, [
      { id: 0, mask: 1, state: 'draining' },
      { id: 1, mask: 1, state: 'active' },
    ]);
    let layoutReads = 0;
    const flaky = new Proxy(store, {
      get: (target, property, receiver) =>
        property === 'readLayout'
          ? (processor: string) =>
              ++layoutReads > 1 ? Promise.reject(new Error('throttled')) : target.readLayout(processor)
          : (Reflect.get(target, property, receiver) as unknown),
    });
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: 2 });
    const log = topicLog({ partitions: 1, count: 20, keys: 20 });
    const inDraining = log.filter((r) => (defaultHash(r.key!) & 1) === 0).map((r) => r.offset);

    const result = await dispatch(testDispatcher(processor, flaky, { settings: { drainWaitMs: 2_000 } }), eventOf(log));

    expect(layoutReads).toBeGreaterThan(1);
    expect(result.partitions[0]).toMatchObject({ draining: inDraining.length, handled: 20 - inDraining.length });
    expect(result.response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: Math.min(...inDraining) } },
    ]);
    const [partition] = (await store.readState('orders-view')).partitions;
    expect(partition!.leaseUntil).toBe(0);
  });

  it('waits for a change that finishes during the batch and routes held records with the new masks', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler();
    const processor = testProcessor({ handler: handler.for(), initialSegments: 2 });
    await store.initialise('orders-view', 2);
    await store.changeLayout('orders-view', 1, [
      { id: 0, mask: 1, state: 'draining' },
      { id: 1, mask: 1, state: 'active' },
    ]);
    const log = topicLog({ partitions: 1, count: 20, keys: 20 });
    const dispatcher = testDispatcher(processor, store, { settings: { drainWaitMs: 5_000, layoutTtlMs: 100 } });

    const result = dispatch(dispatcher, eventOf(log));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await store.changeLayout('orders-view', 2, [
      { id: 0, mask: 3, state: 'active' },
      { id: 2, mask: 3, state: 'active' },
      { id: 1, mask: 1, state: 'active' },
    ]);
    const outcome = await result;

    expect(outcome.response).toEqual({ batchItemFailures: [] });
    expect(outcome.partitions[0]).toMatchObject({ handled: 20, draining: 0 });
    const released = handler.calls.filter((c) => (defaultHash(c.key) & 1) === 0);
    expect(released.length).toBeGreaterThan(0);
    for (const call of released) {
      expect(call.context.layoutVersion).toBe(3);
      expect(call.context.segment.mask).toBe(3);
    }
  });

  it('stops with a LayoutError when the stored layout does not cover the hash space', async () => {
    const tableName = await freshTokenTable();
    const store = new DynamoDbTokenStore({ tableName, client: localDynamoDb() });
    await DynamoDBDocumentClient.from(localDynamoDb()).send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...tokenKeys.layout('orders-view'),
          processor: 'orders-view',
          version: 3,
          segments: [{ id: 0, mask: 1, state: 'active' }],
        },
      }),
    );
    const handler = new ScriptedHandler();

    const result = dispatch(
      testDispatcher(testProcessor({ handler: handler.for() }), store),
      eventOf(topicLog({ partitions: 1, count: 3, keys: 3 })),
    );

    await expect(result).rejects.toThrow(LayoutError);
    await expect(result).rejects.toThrow(/gap/);
    expect(handler.calls).toEqual([]);
  });

  it('tells the handler its segment, partition, offset, attempt, fencing epoch and request id', async () => {
    const store = await freshDynamoStore();
    const handler = new ScriptedHandler([['orders-0@0', 1]]);
    const dispatcher = testDispatcher(testProcessor({ handler: handler.for(), initialSegments: 1 }), store);

    await dispatch(dispatcher, eventOf([{ topic: 'orders', partition: 0, offset: 0, key: 'k' }]), 'request-7');

    expect(handler.calls.map((c) => ({ ...c.context, logger: undefined, deadline: undefined }))).toEqual(
      [1, 2].map((attempt) => ({
        processor: 'orders-view',
        segment: { id: 0, mask: 0 },
        layoutVersion: 1,
        topic: 'orders',
        partition: 0,
        offset: 0,
        sequencingKey: 'k',
        attempt,
        redrive: false,
        replay: false,
        epoch: 1,
        deadline: undefined,
        requestId: 'request-7',
        logger: undefined,
      })),
    );
  });
});

describe('Dispatcher streaming a large batch', () => {
  it('starts the first records while later ones are still being parsed', async () => {
    // The in-memory store answers a claim at once, so the order of events below does not depend on timing.
    const events: string[] = [];
    const logger = {
      ...silentLogger,
      error: (message: string, fields?: Record<string, unknown>) => {
        events.push(`${message} @${String(fields?.offset)}`);
      },
    };
    const handler = (record: KafkaRecord) => {
      events.push(`handled @${record.offset}`);
    };
    const dispatcher = testDispatcher(testProcessor({ handler, concurrency: 8 }), new MemoryTokenStore(), { logger });
    const event = eventOf(topicLog({ partitions: 1, count: 2_000, keys: 50 }));
    (event.records['orders-0']![1_900] as unknown as Record<string, unknown>).value = 42;

    const result = await dispatch(dispatcher, event);

    const malformedAt = events.indexOf('malformed record @1900');
    expect(malformedAt).toBeGreaterThan(events.indexOf('handled @0'));
    expect(events.slice(0, malformedAt).filter((e) => e.startsWith('handled')).length).toBeGreaterThan(1_000);
    expect(result.response.batchItemFailures).toEqual([]);
    expect(result.partitions[0]).toMatchObject({ parked: 1, handled: 1_999 });
    expect(events.filter((e) => e.startsWith('handled'))).toHaveLength(1_999);
  });
});

describe('resolveDispatcherSettings', () => {
  it('fills defaults and refuses settings that cannot work, naming the setting', () => {
    expect(resolveDispatcherSettings({ parseChunk: 16 })).toMatchObject({ parseChunk: 16, leaseMs: 30_000 });

    expect(() => resolveDispatcherSettings({ parseChunk: 0 })).toThrow(
      new ConfigurationError('parseChunk must be >= 1, got 0'),
    );
    expect(() => resolveDispatcherSettings({ maxRanges: 0 })).toThrow('maxRanges must be >= 1, got 0');
    expect(() => resolveDispatcherSettings({ claimWaitMs: 1.5 })).toThrow('claimWaitMs must be a whole number >= 0');
    expect(() => resolveDispatcherSettings({ leaseMs: 3_000 })).toThrow('more than twice leaseSafetyMs (2000)');
  });
});

describe('Dispatcher deadlines', () => {
  it('does not let a hung handler call keep the batch from its checkpoint; its late end writes nothing', async () => {
    const store = await freshDynamoStore();
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const handled: number[] = [];
    const dispatcher = testDispatcher(
      testProcessor({
        recordTimeoutMs: 50,
        handler: async (record) => {
          if (record.offset === 1) await hung;
          handled.push(record.offset);
        },
      }),
      store,
    );

    const result = await dispatch(dispatcher, eventOf(keyedLog(['a', 'b', 'c', 'b'])));
    const tokenAtAnswer = (await store.readState('orders-view')).partitions[0]!.token.serialize();
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(result.response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 1 } }]);
    expect(result.partitions[0]).toMatchObject({ handled: 2, failed: 1, blocked: 1 });
    expect(handled.sort()).toEqual([0, 1, 2]);
    expect((await store.readState('orders-view')).partitions[0]!.token.serialize()).toBe(tokenAtAnswer);
  });

  it('stops waiting for running records at the deadline, reports them back and checkpoints the rest', async () => {
    const store = await freshDynamoStore();
    const dispatcher = testDispatcher(
      testProcessor({
        handler: async (record) => {
          if (record.offset === 2) await new Promise((resolve) => setTimeout(resolve, 2_000));
        },
      }),
      store,
      { settings: { checkpointReserveMs: 3_000 } },
    );

    // 3.3 s left: records may start until 300 ms in, and the run stops waiting then.
    const result = await dispatcher.dispatch(eventOf(keyedLog(['a', 'b', 'c', 'd'])), { remainingMs: () => 3_300 });

    expect(result.response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 2 } }]);
    expect(result.partitions[0]).toMatchObject({ handled: 3, notStarted: 1 });
    expect((await store.readState('orders-view')).partitions[0]!.token.lowWatermark()).toBe(2);
  });
});
