import { describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  EffectConditionFailedError,
  EffectRefusal,
  EffectRefusedError,
  TransactionConflictError,
} from '../../../shared/effects/effect-errors.js';
import { takeEffectCounts } from '../../../shared/effects/effect-metrics.js';
import { positionAttribute } from '../../../shared/effects/effect-position.js';
import { exactlyOnce, requestToken, type EffectAction } from '../../../shared/effects/exactly-once.js';
import { localDynamoDb } from '../../support/dynamodb.js';
import {
  faultyEffectsClient,
  freshEffectsTable,
  recordContext,
  rejectionOf,
  storedItem,
  storedNumber,
} from '../../support/effects.js';

const effects = () => exactlyOnce({ client: localDynamoDb() });

/** `ADD n :one` on item `id`: a counter. */
const increment = (TableName: string, id: string) => ({
  TableName,
  Key: { id },
  UpdateExpression: 'ADD n :one',
  ExpressionAttributeValues: { ':one': 1 },
});

async function itemCount(tableName: string): Promise<number> {
  const output = await localDynamoDb().send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return output.Count ?? 0;
}

describe('exactly-once effects on DynamoDB Local: one item', () => {
  it('applies a record once however often it comes, and counts the repeats as already applied', async () => {
    const table = await freshEffectsTable();
    const writer = effects();
    takeEffectCounts('orders-view');

    const results = [];
    for (const epoch of [1, 1, 2, 3]) {
      results.push(await writer.update(recordContext({ offset: 7, epoch }), increment(table, 'a')));
    }

    expect(results.map((r) => r.applied)).toEqual([true, false, false, false]);
    expect(await storedNumber(table, 'a', 'n')).toBe(1);
    expect(await storedNumber(table, 'a', positionAttribute(recordContext()))).toBe(7);
    expect(writer.stats()).toEqual({ applied: 1, alreadyApplied: 3, transactionConflicts: 0 });
    expect(Object.fromEntries(takeEffectCounts('orders-view'))).toEqual({
      EffectsApplied: 1,
      EffectsAlreadyApplied: 3,
    });
  });

  it("refuses a zombie's older record after a newer one of its key landed, and the same record twice", async () => {
    const table = await freshEffectsTable();
    const writer = effects();

    await writer.update(recordContext({ offset: 5, epoch: 2 }), increment(table, 'a'));
    await writer.update(recordContext({ offset: 6, epoch: 2 }), increment(table, 'a'));
    // The holder of epoch 1 froze before its write of offset 5 and wakes after the takeover.
    const zombie = await writer.update(recordContext({ offset: 5, epoch: 1 }), increment(table, 'a'));
    const again = await writer.update(recordContext({ offset: 6, epoch: 2, attempt: 2 }), increment(table, 'a'));

    expect([zombie.applied, again.applied]).toEqual([false, false]);
    expect(await storedNumber(table, 'a', 'n')).toBe(2);
  });

  it('keeps a position per key, so keys of one partition applied out of offset order all land', async () => {
    const table = await freshEffectsTable();
    const writer = effects();

    const a = await writer.update(recordContext({ offset: 10, sequencingKey: 'a' }), increment(table, 'total'));
    const b = await writer.update(recordContext({ offset: 4, sequencingKey: 'b' }), increment(table, 'total'));
    const bAgain = await writer.update(recordContext({ offset: 4, sequencingKey: 'b' }), increment(table, 'total'));

    expect([a.applied, b.applied, bAgain.applied]).toEqual([true, true, false]);
    const item = await storedItem(table, { id: { S: 'total' } });
    expect(item?.n?.N).toBe('2');
    expect(item?.[positionAttribute(recordContext({ sequencingKey: 'a' }))]?.N).toBe('10');
    expect(item?.[positionAttribute(recordContext({ sequencingKey: 'b' }))]?.N).toBe('4');
  });

  it('starts a position of its own for a key that moved to another partition, comparing no offsets across them', async () => {
    const table = await freshEffectsTable();
    const writer = effects();

    await writer.update(recordContext({ partition: 0, offset: 900 }), increment(table, 'a'));
    // The topic got more partitions: the key's next records are in partition 3, at far lower offsets.
    const moved = await writer.update(recordContext({ partition: 3, offset: 12 }), increment(table, 'a'));
    const old = await writer.update(recordContext({ partition: 0, offset: 900 }), increment(table, 'a'));

    expect([moved.applied, old.applied]).toEqual([true, false]);
    expect(await storedNumber(table, 'a', 'n')).toBe(2);
    expect(positionAttribute(recordContext({ partition: 3 }))).toMatch(/^tidemark:orders-view:orders-3:[\w-]{22}$/);
  });

  it("adds the position into the effect's own SET clause, with its own condition, placeholders and return values", async () => {
    const table = await freshEffectsTable();
    const writer = effects();
    await writer.put(recordContext({ offset: 1 }), { TableName: table, Item: { id: 'a', status: 'new', tags: ['x'] } });

    const result = await writer.update(recordContext({ offset: 2 }), {
      TableName: table,
      Key: { id: 'a' },
      UpdateExpression: 'set #s = :s REMOVE tags ADD n :one',
      ConditionExpression: '#s = :new',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': 'paid', ':new': 'new', ':one': 1 },
      ReturnValues: 'ALL_NEW',
    });

    expect(result.applied).toBe(true);
    expect(result.attributes).toMatchObject({ id: 'a', status: 'paid', n: 1 });
    const item = await storedItem(table, { id: { S: 'a' } });
    expect(item?.tags).toBeUndefined();
    expect(item?.[positionAttribute(recordContext())]?.N).toBe('2');
  });

  it("throws EffectConditionFailedError when the effect's own condition is false, writing nothing", async () => {
    const table = await freshEffectsTable();
    const writer = effects();

    const error = await rejectionOf(() =>
      writer.update(recordContext({ offset: 3 }), {
        ...increment(table, 'a'),
        ConditionExpression: 'attribute_exists(id)',
      }),
    );

    expect(error).toBeInstanceOf(EffectConditionFailedError);
    expect(error).toMatchObject({ retriable: true, index: 0 });
    expect((error as Error).message).toContain('orders-0@3');
    expect(await itemCount(table)).toBe(0);
  });

  it('puts a whole item once, and refuses writing one item twice in one handler call', async () => {
    const table = await freshEffectsTable();
    const writer = effects();
    const context = recordContext({ offset: 4 });

    const first = await writer.put(context, { TableName: table, Item: { id: 'p', v: 1 } });
    const again = await writer.put(recordContext({ offset: 4, attempt: 2 }), {
      TableName: table,
      Item: { id: 'p', v: 2 },
    });
    await writer.update(context, increment(table, 'c'));
    const twice = await rejectionOf(() => writer.update(context, increment(table, 'c')));

    expect([first.applied, again.applied]).toEqual([true, false]);
    expect((await storedItem(table, { id: { S: 'p' } }))?.v?.N).toBe('1');
    expect(twice).toBeInstanceOf(EffectRefusedError);
    expect(twice).toMatchObject({ reason: EffectRefusal.SameItemTwice, retriable: false });
    expect(await storedNumber(table, 'c', 'n')).toBe(1);
  });

  it('takes a lost response that the SDK retries for what it is: the effect landed once', async () => {
    const table = await freshEffectsTable();
    const { client, sent } = faultyEffectsClient({ lostResponses: 1 });
    const writer = exactlyOnce({ client });

    const result = await writer.update(recordContext({ offset: 8 }), increment(table, 'a'));

    expect(sent.commands.filter((c) => c.name === 'UpdateItemCommand')).toHaveLength(2);
    // The retry found the record's position: from this call's view the write was already there.
    expect(result.applied).toBe(false);
    expect(await storedNumber(table, 'a', 'n')).toBe(1);
    client.destroy();
  });

  it('refuses a placeholder of its own and a context that is not a record', async () => {
    const table = await freshEffectsTable();
    const writer = effects();

    const placeholder = await rejectionOf(() =>
      writer.update(recordContext(), { ...increment(table, 'a'), ExpressionAttributeValues: { ':tidemarkOffset': 1 } }),
    );
    const context = await rejectionOf(() => writer.update({} as never, increment(table, 'a')));

    expect(placeholder).toMatchObject({ reason: EffectRefusal.Invalid });
    expect((context as Error).message).toContain("needs the handler's context");
    expect(() => exactlyOnce({ client: localDynamoDb(), conflictRetries: -1 })).toThrow(
      'exactlyOnce conflictRetries must be a whole number >= 0, got -1',
    );
  });
});

describe('exactly-once effects on DynamoDB Local: a transaction', () => {
  /** A per-key total and a per-partition log, in one transaction. */
  const twoItems = (table: string, key: string): EffectAction[] => [
    { Update: increment(table, `total#${key}`) },
    { Update: increment(table, 'log#orders-0') },
  ];

  it('applies all items once under redelivery, zombies and repeats; a ConditionCheck guards it', async () => {
    const table = await freshEffectsTable();
    const writer = effects();
    await writer.put(recordContext({ offset: 0, sequencingKey: 'gate' }), {
      TableName: table,
      Item: { id: 'gate', open: true },
    });
    const actions = (key: string): EffectAction[] => [
      ...twoItems(table, key),
      {
        ConditionCheck: {
          TableName: table,
          Key: { id: 'gate' },
          ConditionExpression: '#open = :yes',
          ExpressionAttributeNames: { '#open': 'open' },
          ExpressionAttributeValues: { ':yes': true },
        },
      },
    ];

    const applied = [
      await writer.transact(recordContext({ offset: 1, sequencingKey: 'a' }), actions('a')),
      await writer.transact(recordContext({ offset: 2, sequencingKey: 'b' }), actions('b')),
      await writer.transact(recordContext({ offset: 1, sequencingKey: 'a', epoch: 2 }), actions('a')),
      await writer.transact(recordContext({ offset: 3, sequencingKey: 'a', epoch: 2 }), actions('a')),
      // A zombie of epoch 1 retries the key's record 1 (its second attempt) after 3 landed.
      await writer.transact(recordContext({ offset: 1, sequencingKey: 'a', epoch: 1, attempt: 2 }), actions('a')),
    ].map((r) => r.applied);

    expect(applied).toEqual([true, true, false, true, false]);
    expect(await storedNumber(table, 'total#a', 'n')).toBe(2);
    expect(await storedNumber(table, 'total#b', 'n')).toBe(1);
    expect(await storedNumber(table, 'log#orders-0', 'n')).toBe(3);
  });

  it('sends one token per record and effect, so an SDK retry of a landed transaction changes nothing', async () => {
    const table = await freshEffectsTable();
    const { client, sent } = faultyEffectsClient({ lostResponses: 1 });
    const writer = exactlyOnce({ client });
    const context = recordContext({ offset: 9, sequencingKey: 'a' });

    const result = await writer.transact(context, twoItems(table, 'a'));

    const tokens = sent.commands
      .filter((c) => c.name === 'TransactWriteItemsCommand')
      .map((c) => c.input.ClientRequestToken as string);
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]!.length).toBeLessThanOrEqual(36);
    // DynamoDB answered the retry as it answered the first request: applied, once.
    expect(result.applied).toBe(true);
    expect(await storedNumber(table, 'total#a', 'n')).toBe(1);
    expect(await storedNumber(table, 'log#orders-0', 'n')).toBe(1);
    expect(requestToken(context, [])).not.toBe(requestToken({ ...context, offset: 10 }, []));
    // Another run of the record (here a redelivery under a newer claim) is another call: the positions decide.
    expect(requestToken(context, [])).not.toBe(requestToken({ ...context, epoch: 2 }, []));
    client.destroy();
  });

  it('retries a transaction cancelled for a TransactionConflict with jitter, counting each conflict', async () => {
    const table = await freshEffectsTable();
    const { client } = faultyEffectsClient({ conflicts: 2 });
    const delays: number[] = [];
    const writer = exactlyOnce({ client, sleep: async (ms) => void delays.push(ms), random: () => 0.5 });
    takeEffectCounts('orders-view');

    const result = await writer.transact(recordContext({ offset: 1 }), twoItems(table, 'k'));

    expect(result.applied).toBe(true);
    expect(delays).toEqual([10, 20]);
    expect(writer.stats()).toEqual({ applied: 1, alreadyApplied: 0, transactionConflicts: 2 });
    expect(Object.fromEntries(takeEffectCounts('orders-view'))).toEqual({ TransactionConflicts: 2, EffectsApplied: 1 });
    expect(await storedNumber(table, 'total#k', 'n')).toBe(1);
    client.destroy();
  });

  it('gives up on conflicts after its retries with a retriable TransactionConflictError, writing nothing', async () => {
    const table = await freshEffectsTable();
    const { client } = faultyEffectsClient({ conflicts: 10 });
    const writer = exactlyOnce({ client, conflictRetries: 2, sleep: async () => {} });

    const error = await rejectionOf(() => writer.transact(recordContext({ offset: 1 }), twoItems(table, 'k')));

    expect(error).toBeInstanceOf(TransactionConflictError);
    expect(error).toMatchObject({ retriable: true });
    expect((error as Error).message).toContain('3 time(s)');
    expect(await itemCount(table)).toBe(0);
    client.destroy();
  });

  it('lets two concurrent transactions on one item both land (DynamoDB Local serialises them)', async () => {
    const table = await freshEffectsTable();
    const writer = effects();

    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        writer.transact(recordContext({ offset: i, sequencingKey: `k${i}` }), twoItems(table, `k${i}`)),
      ),
    );

    expect(results.every((r) => r.applied)).toBe(true);
    expect(await storedNumber(table, 'log#orders-0', 'n')).toBe(8);
  });

  it('refuses what is past the limits with a non-retriable EffectRefusedError and writes nothing', async () => {
    const table = await freshEffectsTable();
    const writer = effects();
    const context = recordContext({ offset: 1 });
    const big = 'x'.repeat(390 * 1024);

    const cases = {
      tooMany: Array.from({ length: 101 }, (_, i): EffectAction => ({ Update: increment(table, `i${i}`) })),
      sameItem: [{ Update: increment(table, 'a') }, { Update: increment(table, 'a') }],
      putAndUpdate: [{ Put: { TableName: table, Item: { id: 'a' } } }, { Update: increment(table, 'a') }],
      tooLarge: Array.from({ length: 11 }, (_, i): EffectAction => ({
        Put: { TableName: table, Item: { id: `big${i}`, big } },
      })),
      delete: [{ Update: increment(table, 'a') }, { Delete: { TableName: table, Key: { id: 'b' } } } as never],
      empty: [],
      checksOnly: [
        { ConditionCheck: { TableName: table, Key: { id: 'a' }, ConditionExpression: 'attribute_exists(id)' } },
      ],
    } satisfies Record<string, EffectAction[]>;
    const refusals: Record<string, unknown> = {};
    for (const [name, actions] of Object.entries(cases)) {
      const error = await rejectionOf(() => writer.transact(context, actions)).catch((e: Error) => e.message);
      expect(error, name).toBeInstanceOf(EffectRefusedError);
      expect(error, name).toMatchObject({ retriable: false });
      refusals[name] = (error as EffectRefusedError).reason;
    }

    expect(refusals).toEqual({
      tooMany: 'too-many-items',
      sameItem: 'same-item-twice',
      putAndUpdate: 'same-item-twice',
      tooLarge: 'too-large',
      delete: 'unsupported',
      empty: 'invalid',
      checksOnly: 'invalid',
    });
    expect(await itemCount(table)).toBe(0);
  });

  it('sends a transaction of one write as a single conditional write', async () => {
    const table = await freshEffectsTable();
    const { client, sent } = faultyEffectsClient();
    const writer = exactlyOnce({ client });

    const first = await writer.transact(recordContext({ offset: 2 }), [{ Update: increment(table, 'solo') }]);
    const again = await writer.transact(recordContext({ offset: 2, attempt: 2 }), [
      { Update: increment(table, 'solo') },
    ]);

    expect([first.applied, again.applied]).toEqual([true, false]);
    expect(sent.commands.map((c) => c.name)).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    client.destroy();
  });

  it('throws EffectConditionFailedError naming the action whose own condition is false', async () => {
    const table = await freshEffectsTable();
    const writer = effects();

    const error = await rejectionOf(() =>
      writer.transact(recordContext({ offset: 1 }), [
        { Update: increment(table, 'a') },
        { Update: { ...increment(table, 'b'), ConditionExpression: 'attribute_exists(id)' } },
      ]),
    );

    expect(error).toBeInstanceOf(EffectConditionFailedError);
    expect(error).toMatchObject({ index: 1 });
    expect(await itemCount(table)).toBe(0);
  });
});
