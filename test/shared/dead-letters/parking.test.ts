import { describe, expect, it } from 'vitest';
import { NonRetriableError } from '../../../shared/errors.js';
import type { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import type { HandlerContext } from '../../../shared/processing/processor.js';
import { Sequencing } from '../../../shared/routing/sequencing-policy.js';
import { EventSourceSimulator, TopicLog } from '../../../local/event-source-simulator.js';
import { toRawRecord } from '../../../shared/processing/fan-out.js';
import { KafkaRecord as Record_ } from '../../../shared/kafka/kafka-record.js';
import { localDynamoDb } from '../../support/dynamodb.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import {
  dispatch,
  eventOf,
  keyedLog,
  recordAt,
  ScriptedHandler,
  testDispatcher,
  testProcessor,
  type LogRecord,
} from '../../support/harness.js';

/** The construct's deployed default: Lambda retries a batch that made no progress 10 times. */
const LAMBDA_RETRIES = 10;

/** A topic log with these keys, one record each, in order. */
function logOf(keys: string[]): TopicLog {
  const log = new TopicLog('orders', 1);
  for (const key of keys) {
    log.append(0, {
      ...toRawRecord(
        new Record_({
          topic: 'orders',
          partition: 0,
          offset: 0,
          timestamp: Date.now(),
          timestampType: 'CREATE_TIME',
          key: Buffer.from(key),
          value: Buffer.from('{}'),
          headers: [],
        }),
      ),
    });
  }
  return log;
}

describe('parking failing records on DynamoDB Local', () => {
  it("parks a poison record with the default retry settings, parks its key's later records behind it in order, and the partition never reaches Lambda's retry limit", async () => {
    const { store, deadLetters } = await freshStores();
    const keys = ['a', 'poison', 'b', 'poison', 'c', 'poison', 'a', 'b', 'c', 'poison'];
    const calls: Array<{ offset: number; key: string }> = [];
    const handler = (record: KafkaRecord, context: HandlerContext) => {
      calls.push({ offset: record.offset, key: context.sequencingKey });
      if (context.sequencingKey === 'poison') throw new Error('poison');
    };
    // Defaults everywhere but the retry delays' base, which only makes the test fast (the count is what matters).
    const dispatcher = testDispatcher(
      testProcessor({ handler, retry: { baseDelayMs: 1, maxDelayMs: 2 }, initialSegments: 2 }),
      store,
    );
    const simulator = new EventSourceSimulator(
      logOf(keys),
      (event, invocation) =>
        dispatcher
          .dispatch(event, { remainingMs: invocation.remainingMs, invocationId: invocation.requestId })
          .then((r) => r.response),
      { batchSize: 4, batchingWindowMs: 1, maxRetryAttempts: LAMBDA_RETRIES },
    ).start();

    await simulator.finish();

    expect(simulator.parked).toEqual([]);
    // The default policy parks after 9 attempts: three deliveries of 3 attempts.
    expect(calls.filter((c) => c.offset === 1)).toHaveLength(9);
    expect(calls.filter((c) => c.key === 'poison' && c.offset !== 1)).toEqual([]);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/poison', [1, 3, 5, 9]]]));
    const handled = [...new Set(calls.filter((c) => c.key !== 'poison').map((c) => c.offset))].sort((x, y) => x - y);
    expect(handled).toEqual([0, 2, 4, 6, 7, 8]);
    const [letter] = await deadLetters.readLetters({
      processor: 'orders-view',
      ...(await deadLetters.listParkedKeys('orders-view'))[0]!,
    });
    expect(letter).toMatchObject({ offset: 1, reason: 'failed', attempts: 9, sequencingKey: 'poison' });
    expect(letter!.error).toMatchObject({ name: 'Error', message: 'poison' });
    expect(letter!.error.stack).toMatch(/poison/);
    expect(letter!.key!.toString()).toBe('poison');
    expect(letter!.value!.toString()).toBe('{}');
    expect((await store.readState('orders-view')).partitions[0]!.token.lowWatermark()).toBe(10);
  });

  it('counts attempts over deliveries on the partition item and parks at exactly deadLetter.afterAttempts', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler([['orders-0@0', 100]]);
    const dispatcher = testDispatcher(
      testProcessor({
        handler: handler.for(),
        deadLetter: { afterAttempts: 5 },
        retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
      }),
      store,
    );
    const event = eventOf(keyedLog(['k', 'k', 'j']));

    const first = await dispatch(dispatcher, event);
    const second = await dispatch(dispatcher, event);
    const third = await dispatch(dispatcher, event);

    expect([first, second].map((r) => r.response.batchItemFailures)).toEqual([
      [{ itemIdentifier: { partition: 'orders-0', offset: 0 } }],
      [{ itemIdentifier: { partition: 'orders-0', offset: 0 } }],
    ]);
    expect(third.response.batchItemFailures).toEqual([]);
    expect(handler.calls.filter((c) => c.offset === 0).map((c) => c.attempt)).toEqual([1, 2, 1, 2, 1]);
    expect(third.partitions[0]).toMatchObject({ parked: 2, handled: 0 });
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/k', [0, 1]]]));
  });

  it('parks a record at once when its handler throws NonRetriableError', async () => {
    const { store, deadLetters } = await freshStores();
    const calls: number[] = [];
    const dispatcher = testDispatcher(
      testProcessor({
        handler: (record) => {
          calls.push(record.offset);
          if (record.offset === 1) throw new NonRetriableError('schema violation');
        },
      }),
      store,
    );

    const result = await dispatch(dispatcher, eventOf(keyedLog(['x', 'k', 'y', 'k'])));

    expect(result.response.batchItemFailures).toEqual([]);
    expect(calls.sort()).toEqual([0, 1, 2]);
    const letters = await deadLetters.readLetters({
      processor: 'orders-view',
      topic: 'orders',
      partition: 0,
      digest: (await deadLetters.listParkedKeys('orders-view'))[0]!.digest,
    });
    expect(letters.map((l) => [l.offset, l.reason, l.attempts])).toEqual([
      [1, 'non-retriable', 1],
      [3, 'behind-parked', 0],
    ]);
  });

  it('parks records whose key cannot be derived under the unroutable key, without holding back other keys', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler();
    const dispatcher = testDispatcher(
      testProcessor({ handler: handler.for(), sequencing: Sequencing.jsonField('order.id') }),
      store,
    );
    const records: LogRecord[] = [
      { topic: 'orders', partition: 0, offset: 0, key: 'a', value: { order: { id: 'o1' } } },
      { topic: 'orders', partition: 0, offset: 1, key: 'b', value: { nothing: true } },
      { topic: 'orders', partition: 0, offset: 2, key: 'c', value: { order: { id: 'o1' } } },
      { topic: 'orders', partition: 0, offset: 3, key: 'd', value: { order: { id: 'o2' } } },
    ];
    const event = eventOf(records);
    // A tombstone has no JSON field either.
    event.records['orders-0']!.push({ ...event.records['orders-0']![3]!, offset: 4, value: null });

    const result = await dispatch(dispatcher, event);

    expect(result.response.batchItemFailures).toEqual([]);
    expect(handler.successes().sort()).toEqual(['orders-0@0', 'orders-0@2', 'orders-0@3']);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/(unroutable)', [1, 4]]]));
    const again = await dispatch(dispatcher, event);
    expect(again.partitions[0]).toMatchObject({ skipped: 5, parked: 0 });
  });

  it('parks every later record of a parked key in later batches without running it, while other keys flow', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler([['orders-0@0', 100]]);
    const dispatcher = testDispatcher(
      testProcessor({ handler: handler.for(), deadLetter: { afterAttempts: 1 } }),
      store,
    );
    await dispatch(dispatcher, eventOf(keyedLog(['k', 'j'])));

    const next = await dispatch(
      dispatcher,
      eventOf([
        { topic: 'orders', partition: 0, offset: 2, key: 'k' },
        { topic: 'orders', partition: 0, offset: 3, key: 'j' },
        { topic: 'orders', partition: 0, offset: 4, key: 'k' },
      ]),
    );

    expect(next.response.batchItemFailures).toEqual([]);
    expect(handler.successes()).toEqual(['orders-0@1', 'orders-0@3']);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/k', [0, 2, 4]]]));
    const [entry] = await deadLetters.listParkedKeys('orders-view');
    expect(entry).toMatchObject({ key: 'k', parked: 3, resolved: 0 });
  });

  it('does not park a new key past the parked-key bound: the record stays unfinished and is reported back', async () => {
    const { store, deadLetters } = await freshStores();
    const dispatcher = testDispatcher(
      testProcessor({
        handler: (record) => {
          if (record.offset < 3) throw new NonRetriableError('bad');
        },
        deadLetter: { maxParkedKeys: 2 },
      }),
      store,
    );

    const result = await dispatch(dispatcher, eventOf(keyedLog(['a', 'b', 'c', 'd', 'c'])));

    expect(result.response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 2 } }]);
    expect(result.partitions[0]).toMatchObject({ parked: 2, unparkable: 1, handled: 1 });
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(
      new Map([
        ['orders-0/a', [0]],
        ['orders-0/b', [1]],
      ]),
    );
    expect((await store.readState('orders-view')).partitions[0]!.token.lowWatermark()).toBe(2);
  });

  it('parks nothing and moves no token when the checkpoint transaction fails, and parks once on redelivery', async () => {
    const { tableName, deadLetters } = await freshStores();
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDbTokenStore } = await import('../../../shared/tokens/dynamodb-token-store.js');
    const base = localDynamoDb().config;
    const failing = { left: 3 };
    const client = new DynamoDBClient({
      endpoint: await base.endpoint!(),
      region: 'us-east-1',
      credentials: await base.credentials(),
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        // Only the checkpoint that parks: it carries letters.
        const parks = JSON.stringify((args as { input: unknown }).input).includes('LETTER#');
        if (context.commandName === 'TransactWriteItemsCommand' && parks && failing.left > 0) {
          failing.left--;
          throw new Error('the invocation crashed before the checkpoint was sent');
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'crash', priority: 'low' },
    );
    const store = new DynamoDbTokenStore({ tableName, client });
    const dispatcher = testDispatcher(
      testProcessor({
        handler: (r) => {
          if (r.offset === 0) throw new NonRetriableError('no');
        },
      }),
      store,
    );
    const event = eventOf(keyedLog(['k', 'j', 'k']));

    const crashed = await dispatch(dispatcher, event);
    expect(crashed.partitions[0]!.abandoned).toMatch(/crashed/);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map());
    expect((await store.readState('orders-view')).partitions[0]!.token.lowWatermark()).toBeNull();
    // Given back after the retries, so the redelivery need not wait out the lease.
    expect((await store.readState('orders-view')).partitions[0]!.leaseUntil).toBe(0);

    const redelivered = await dispatch(dispatcher, event);
    expect(redelivered.response.batchItemFailures).toEqual([]);
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/k', [0, 2]]]));
    const again = await dispatch(dispatcher, event);
    expect(again.partitions[0]).toMatchObject({ skipped: 3, parked: 0 });
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map([['orders-0/k', [0, 2]]]));
  });
});

describe('source skips on DynamoDB Local', () => {
  it('records a range the event source moved past that was delivered and not done', async () => {
    const { store, deadLetters } = await freshStores();
    const handler = new ScriptedHandler([['orders-0@2', 100]]);
    const dispatcher = testDispatcher(
      testProcessor({ handler: handler.for(), deadLetter: { afterAttempts: 50 } }),
      store,
    );
    await dispatch(dispatcher, eventOf(keyedLog(['a', 'b', 'c', 'd', 'e'])));

    const later = await dispatcher.dispatch(
      eventOf([10, 11, 12].map((offset) => ({ topic: 'orders', partition: 0, offset, key: `k${offset}` }))),
      { remainingMs: () => 60_000, invocationId: 'request-after-give-up' },
    );

    expect(later.partitions[0]).toMatchObject({ skippedBySource: 1, handled: 3 });
    expect(await deadLetters.listSkips('orders-view')).toEqual([
      expect.objectContaining({ topic: 'orders', partition: 0, from: 2, to: 2, requestId: 'request-after-give-up' }),
    ]);
  });

  it('raises nothing for offsets that never existed after a fully successful checkpoint', async () => {
    const { store, deadLetters } = await freshStores();
    const dispatcher = testDispatcher(testProcessor({ handler: () => {} }), store);
    await dispatch(dispatcher, eventOf(keyedLog(['a', 'b', 'c'])));

    const later = await dispatch(
      dispatcher,
      eventOf([5, 6].map((offset) => ({ topic: 'orders', partition: 0, offset, key: 'a' }))),
    );

    expect(later.partitions[0]).toMatchObject({ skippedBySource: 0, handled: 2 });
    expect(await deadLetters.listSkips('orders-view')).toEqual([]);
  });
});

describe('parking binary keys on DynamoDB Local', () => {
  it('parks a key of bytes that are not UTF-8 apart from the text key they would decode to, and reads it back', async () => {
    const { store, deadLetters } = await freshStores();
    const dispatcher = testDispatcher(
      testProcessor({
        handler: () => {
          throw new NonRetriableError('no');
        },
      }),
      store,
    );
    const event = eventOf([
      { topic: 'orders', partition: 0, offset: 0, key: 'x' },
      { topic: 'orders', partition: 0, offset: 1, key: '\uFFFD/w==' },
    ]);
    // Offset 0 carries the single byte 0xFF: not UTF-8.
    event.records['orders-0']![0]!.key = Buffer.from([0xff]).toString('base64');

    await dispatch(dispatcher, event);

    const entries = await deadLetters.listParkedKeys('orders-view');
    expect(entries).toHaveLength(2);
    expect(new Set(entries.map((e) => e.digest)).size).toBe(2);
    const binary = entries.find((e) => e.key.startsWith('\uD800'))!;
    const [letter] = await deadLetters.readLetters({ processor: 'orders-view', ...binary });
    expect(letter).toMatchObject({ offset: 0, sequencingKey: binary.key });
    expect(letter!.key).toEqual(Buffer.from([0xff]));
  });
});

describe('parked keys at their byte bound on DynamoDB Local', () => {
  it('keeps a long key by digest on the partition item and still parks its later records behind it', async () => {
    const { store, deadLetters } = await freshStores();
    const long = `order-${'x'.repeat(2_000)}`;
    const dispatcher = testDispatcher(
      testProcessor({
        handler: (record) => {
          if (record.offset === 0) throw new NonRetriableError('no');
        },
      }),
      store,
    );

    await dispatch(dispatcher, eventOf([recordAt(0, long), recordAt(1, 'other')]));
    const next = await dispatch(dispatcher, eventOf([recordAt(2, long), recordAt(3, 'other')]));

    const [entry] = await deadLetters.listParkedKeys('orders-view');
    expect(entry).toMatchObject({ truncated: true, parked: 2 });
    expect(entry!.key.length).toBeLessThan(200);
    expect(next.partitions[0]).toMatchObject({ parked: 1, handled: 1 });
    const letters = await deadLetters.readLetters({ processor: 'orders-view', ...entry! });
    expect(letters.map((l) => [l.offset, l.sequencingKey === long])).toEqual([
      [0, true],
      [2, true],
    ]);
  });

  it('stops parking new keys once their entries would pass the byte bound, whatever maxParkedKeys allows', async () => {
    const { store, deadLetters } = await freshStores();
    const dispatcher = testDispatcher(
      testProcessor({
        deadLetter: { maxParkedKeys: 1_000 },
        handler: () => {
          throw new NonRetriableError('no');
        },
      }),
      store,
    );
    const event = eventOf(Array.from({ length: 150 }, (_, offset) => recordAt(offset, `${offset}-${'k'.repeat(500)}`)));

    const first = await dispatch(dispatcher, event);
    const second = await dispatch(dispatcher, event);

    expect(first.partitions[0]).toMatchObject({ parked: 90, unparkable: 0 });
    const parkedKeys = (await deadLetters.listParkedKeys('orders-view')).length;
    expect(second.partitions[0]!.parked + 90).toBe(parkedKeys);
    expect(parkedKeys).toBeGreaterThan(80);
    expect(parkedKeys).toBeLessThan(120);
    expect(second.partitions[0]!.unparkable).toBe(150 - parkedKeys);
    expect(second.response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: parkedKeys } },
    ]);
  });
});
