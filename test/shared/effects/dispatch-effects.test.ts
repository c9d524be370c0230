import { describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { exactlyOnce, type EffectAction } from '../../../shared/effects/exactly-once.js';
import { NonRetriableError } from '../../../shared/errors.js';
import type { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import type { HandlerContext } from '../../../shared/processing/processor.js';
import { Redriver } from '../../../shared/dead-letters/redriver.js';
import type { TokenStore } from '../../../shared/tokens/token-store.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import { localDynamoDb } from '../../support/dynamodb.js';
import { freshEffectsTable, storedNumber } from '../../support/effects.js';
import { dispatch, eventOf, keyedLog, testDispatcher, testProcessor } from '../../support/harness.js';

/** The handler's effects: a counter per key (one write), and a per-key total with a per-partition log (a transaction). */
function projection(table: string) {
  const effects = exactlyOnce({ client: localDynamoDb() });
  const apply = async (record: KafkaRecord, context: HandlerContext) => {
    const key = context.sequencingKey;
    await effects.update(context, {
      TableName: table,
      Key: { id: `count#${key}` },
      UpdateExpression: 'ADD n :one',
      ExpressionAttributeValues: { ':one': 1 },
    });
    const actions: EffectAction[] = [
      {
        Update: {
          TableName: table,
          Key: { id: `total#${key}` },
          UpdateExpression: 'ADD n :one, offsets :offset',
          ExpressionAttributeValues: { ':one': 1, ':offset': new Set([record.offset]) },
        },
      },
      {
        Update: {
          TableName: table,
          Key: { id: `log#${record.topicPartition}` },
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': 1 },
        },
      },
    ];
    await effects.transact(context, actions);
  };
  return { effects, apply };
}

/** A store whose checkpoints fail while `crashing` is set: the invocation dies between its handlers and its checkpoint. */
function crashingStore(store: TokenStore, state: { crashing: boolean }): TokenStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property === 'checkpoint' && typeof value === 'function') {
        return async (...args: unknown[]) => {
          if (state.crashing) throw new Error('the invocation died before its checkpoint');
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function scan(table: string) {
  const output = await localDynamoDb().send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return output.Items ?? [];
}

describe('exactly-once effects through the dispatcher on DynamoDB Local', () => {
  it('applies every record once when a batch is handled, lost before its checkpoint, and delivered again', async () => {
    const table = await freshEffectsTable();
    const stores = await freshStores();
    const { effects, apply } = projection(table);
    const state = { crashing: true };
    const processor = testProcessor({ handler: apply });
    const dispatcher = testDispatcher(processor, crashingStore(stores.store, state));
    const event = eventOf(keyedLog(['a', 'b', 'a', 'c', 'a', 'b']));

    const first = await dispatch(dispatcher, event, 'first');
    state.crashing = false;
    const second = await dispatch(dispatcher, event, 'second');
    const third = await dispatch(dispatcher, event, 'third');

    expect(first.partitions[0]).toMatchObject({ handled: 6, abandoned: 'the invocation died before its checkpoint' });
    expect(second.partitions[0]).toMatchObject({ handled: 6, skipped: 0 });
    expect(third.partitions[0]).toMatchObject({ handled: 0, skipped: 6 });
    expect(effects.stats()).toEqual({ applied: 12, alreadyApplied: 12, transactionConflicts: 0 });
    expect(await storedNumber(table, 'count#a', 'n')).toBe(3);
    expect(await storedNumber(table, 'count#b', 'n')).toBe(2);
    expect(await storedNumber(table, 'total#a', 'n')).toBe(3);
    expect(await storedNumber(table, 'log#orders-0', 'n')).toBe(6);
  });

  it('parks a record whose effect is past the limits at once, writing none of it, while the others apply', async () => {
    const table = await freshEffectsTable();
    const stores = await freshStores();
    const { apply } = projection(table);
    const effects = exactlyOnce({ client: localDynamoDb() });
    const processor = testProcessor({
      handler: async (record, context) => {
        if (record.offset !== 1) return apply(record, context);
        // 101 items: more than one transaction takes.
        await effects.transact(
          context,
          Array.from({ length: 101 }, (_, i) => ({
            Update: {
              TableName: table,
              Key: { id: `wide#${i}` },
              UpdateExpression: 'ADD n :one',
              ExpressionAttributeValues: { ':one': 1 },
            },
          })),
        );
      },
    });
    const dispatcher = testDispatcher(processor, stores.store);

    const result = await dispatch(dispatcher, eventOf(keyedLog(['a', 'b', 'c'])));

    expect(result.partitions[0]).toMatchObject({ handled: 2, parked: 1 });
    expect(await lettersByKey(stores.deadLetters, 'orders-view')).toEqual(new Map([['orders-0/b', [1]]]));
    const [letter] = await stores.deadLetters.readLetters({
      processor: 'orders-view',
      ...(await stores.deadLetters.listParkedKeys('orders-view'))[0]!,
    });
    expect(letter?.error).toMatchObject({ name: 'EffectRefusedError' });
    const ids = (await scan(table)).map((item) => item.id?.S).sort();
    expect(ids).toEqual(['count#a', 'count#c', 'log#orders-0', 'total#a', 'total#c']);
  });

  it('redrives a parked record whose effect landed before it failed without applying it again', async () => {
    const table = await freshEffectsTable();
    const stores = await freshStores();
    const { effects, apply } = projection(table);
    const poisoned = new Set(['orders-0@0']);
    const processor = testProcessor({
      handler: async (record, context) => {
        await apply(record, context);
        // The effect is in; what follows it fails for good on the first delivery.
        if (poisoned.has(`${record.topicPartition}@${record.offset}`))
          throw new NonRetriableError('downstream refused');
      },
    });
    const dispatcher = testDispatcher(processor, stores.store);
    await dispatch(dispatcher, eventOf(keyedLog(['a', 'b', 'a'])));
    poisoned.clear();
    const redriver = new Redriver({ processor, ...stores, logger: silentLogger });
    const [entry] = await stores.deadLetters.listParkedKeys('orders-view');

    const redrive = await redriver.redriveKey(
      { processor: 'orders-view', topic: 'orders', partition: 0, digest: entry!.digest },
      { deadline: Date.now() + 60_000 },
    );

    expect(redrive).toMatchObject({ outcome: 'drained', redriven: 2 });
    // Record 0 was applied live (then parked), record 2 was parked behind it: each lands once.
    expect(await storedNumber(table, 'count#a', 'n')).toBe(2);
    expect(await storedNumber(table, 'total#a', 'n')).toBe(2);
    expect(await storedNumber(table, 'log#orders-0', 'n')).toBe(3);
    expect(effects.stats()).toMatchObject({ applied: 6, alreadyApplied: 2 });
  });
});
