import { describe, expect, it } from 'vitest';
import {
  IdempotencyFencedError,
  IdempotencyInProgressError,
  IdempotencyResultError,
} from '../../../shared/effects/effect-errors.js';
import { takeEffectCounts } from '../../../shared/effects/effect-metrics.js';
import { idempotency, idempotencyKey, MAX_RESULT_BYTES } from '../../../shared/effects/idempotency.js';
import { ConfigurationError } from '../../../shared/errors.js';
import { ManualClock } from '../../support/clock.js';
import { freshTokenTable, localDynamoDb } from '../../support/dynamodb.js';
import { recordContext, rejectionOf, storedItem } from '../../support/effects.js';

async function setup() {
  const clock = new ManualClock();
  const tableName = await freshTokenTable();
  const once = idempotency({ client: localDynamoDb(), tableName, clock: clock.now, inProgressGraceMs: 1_000 });
  /** A context of record 5 under claim `epoch`, run by `requestId`, with a deadline 10 s from the clock's now. */
  const context = (overrides: Parameters<typeof recordContext>[0] = {}) =>
    recordContext({ offset: 5, deadline: clock.now() + 10_000, ...overrides });
  const stored = async (id = 'orders-0@5#effect') => {
    const item = await storedItem(tableName, {
      pk: { S: idempotencyKey('orders-view', id).pk },
      sk: { S: 'IDEMPOTENCY' },
    });
    return item && Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.S ?? v.N ?? v.BOOL]));
  };
  return { clock, tableName, once, context, stored };
}

/** An effect that counts its runs and returns what it is given. */
function effect<T>(result: T) {
  const calls = { n: 0 };
  return { calls, run: async () => (calls.n++, result) };
}

/** A promise with its resolve, to hold an effect in the middle of running. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('idempotent external effects on DynamoDB Local', () => {
  it('runs an effect once and returns its stored result to every later run of the record', async () => {
    const { once, context, stored } = await setup();
    const charge = effect({ receipt: 'r-1', amount: 12.5 });
    takeEffectCounts('orders-view');

    const first = await once.run(context(), charge.run);
    const retry = await once.run(context({ attempt: 2 }), charge.run);
    const redelivery = await once.run(context({ epoch: 2, requestId: 'request-2' }), charge.run);

    expect(charge.calls.n).toBe(1);
    expect([first, retry, redelivery]).toEqual([
      { receipt: 'r-1', amount: 12.5 },
      { receipt: 'r-1', amount: 12.5 },
      { receipt: 'r-1', amount: 12.5 },
    ]);
    expect(await stored()).toMatchObject({
      status: 'completed',
      owner: 'request-1',
      epoch: '1',
      fence: 'claim:orders-0',
      result: '{"receipt":"r-1","amount":12.5}',
    });
    expect(Object.fromEntries(takeEffectCounts('orders-view'))).toEqual({
      EffectsApplied: 1,
      EffectsAlreadyApplied: 2,
    });
  });

  it("refuses a zombie's completion once a newer claim took the record over, keeping the newer run's result", async () => {
    const { once, context, stored } = await setup();
    const held = deferred<string>();
    const zombie = once.run(context({ epoch: 1, requestId: 'zombie' }), () => held.promise);
    await new Promise((resolve) => setTimeout(resolve, 100));

    // The zombie's claim was taken over (epoch 2): the new holder takes the record at once and completes it.
    const newer = await once.run(context({ epoch: 2, requestId: 'newer' }), async () => 'sent by newer');
    held.resolve('sent by zombie');
    const error = await rejectionOf(() => zombie);

    expect(newer).toBe('sent by newer');
    expect(error).toBeInstanceOf(IdempotencyFencedError);
    expect(error).toMatchObject({ retriable: true });
    expect(await stored()).toMatchObject({
      status: 'completed',
      owner: 'newer',
      epoch: '2',
      result: '"sent by newer"',
    });
  });

  it('refuses a run while another may still hold the record, and lets it take over once that run is out of time', async () => {
    const { once, clock, context, stored } = await setup();
    const held = deferred<string>();
    // A live run takes record 5, then its invocation dies: it never completes nor releases.
    void once.run(context({ requestId: 'crashed' }), () => held.promise).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const redrive = context({ redrive: true, epoch: 1, requestId: 'redrive-1' });
    const olderClaim = context({ epoch: 0, requestId: 'older' });

    const early = await rejectionOf(() => once.run(redrive, async () => 'redriven'));
    const older = await rejectionOf(() => once.run(olderClaim, async () => 'older'));
    clock.advance(10_000 + 1_000); // its deadline and the grace
    const late = await once.run({ ...redrive }, async () => 'redriven');
    const olderAfter = await once.run({ ...olderClaim }, async () => 'older');

    expect(early).toBeInstanceOf(IdempotencyInProgressError);
    expect(early).toMatchObject({ retriable: true, holder: { owner: 'crashed', epoch: 1 } });
    expect(older).toBeInstanceOf(IdempotencyInProgressError);
    expect(late).toBe('redriven');
    expect(olderAfter).toBe('redriven');
    expect(await stored()).toMatchObject({
      status: 'completed',
      owner: 'redrive-1',
      fence: expect.stringMatching(/^redrive:orders-0:/),
    });
    held.resolve('too late');
  });

  it('never lets an older claim of the same partition take a record a newer one holds, even past its time', async () => {
    const { once, clock, context } = await setup();
    const held = deferred<string>();
    void once.run(context({ epoch: 3, requestId: 'newer' }), () => held.promise).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    clock.advance(60_000);

    const zombie = await rejectionOf(() => once.run(context({ epoch: 2, requestId: 'zombie' }), async () => 'x'));

    expect(zombie).toBeInstanceOf(IdempotencyInProgressError);
    held.resolve('done');
  });

  it('gives the record back when the effect throws, so the retry runs it', async () => {
    const { once, context, stored } = await setup();
    let calls = 0;
    const flaky = async () => {
      calls++;
      if (calls === 1) throw new Error('provider timed out');
      return 'ok';
    };

    const failure = await rejectionOf(() => once.run(context(), flaky));
    const retry = await once.run(context({ attempt: 2 }), flaky);

    expect((failure as Error).message).toBe('provider timed out');
    expect(retry).toBe('ok');
    expect(calls).toBe(2);
    expect(await stored()).toMatchObject({ status: 'completed', result: '"ok"' });
  });

  it('runs an effect once per business key across records, and once per name within a record', async () => {
    const { once, context } = await setup();
    const mail = effect('mailed');
    const charge = effect('charged');

    await once.run(context({ offset: 5 }), mail.run, { key: 'order-17', name: 'mail' });
    await once.run(context({ offset: 9 }), mail.run, { key: 'order-17', name: 'mail' });
    const c = context({ offset: 9 });
    await once.run(c, charge.run, { key: 'order-17', name: 'charge' });
    const twice = await rejectionOf(() => once.run(c, charge.run, { key: 'order-17', name: 'charge' }));
    const nothing = await once.run(context({ offset: 11 }), async () => undefined);

    expect([mail.calls.n, charge.calls.n]).toEqual([1, 1]);
    expect(twice).toBeInstanceOf(ConfigurationError);
    expect((twice as Error).message).toContain('give each effect of a record its own name');
    expect(nothing).toBeUndefined();
  });

  it('records a result too large to keep as complete without it: the effect never runs again', async () => {
    const { once, context, stored } = await setup();
    const big = effect('x'.repeat(MAX_RESULT_BYTES + 1));

    const first = await rejectionOf(() => once.run(context(), big.run));
    const again = await rejectionOf(() => once.run(context({ attempt: 2 }), big.run));

    expect(first).toBeInstanceOf(IdempotencyResultError);
    expect(first).toMatchObject({ retriable: false });
    expect(again).toBeInstanceOf(IdempotencyResultError);
    expect(big.calls.n).toBe(1);
    expect(await stored()).toMatchObject({ status: 'completed', resultOmitted: true });
  });

  it('takes an expired record again (before DynamoDB removes it), with a TTL on every record', async () => {
    const { clock, tableName, context, stored } = await setup();
    const once = idempotency({ client: localDynamoDb(), tableName, clock: clock.now, ttlSeconds: 60 });
    const run = effect('r');

    await once.run(context(), run.run);
    const expiresAt = Number((await stored())?.expiresAt);
    clock.advance(61_000);
    await once.run(context({ epoch: 2 }), run.run);

    expect(expiresAt).toBe(Math.floor((clock.now() - 61_000) / 1000) + 60);
    expect(run.calls.n).toBe(2);
  });

  it('refuses bad settings and calls with a ConfigurationError naming them', async () => {
    const { once, context } = await setup();

    // Without a table name the module still loads (the construct reads it at synth); the first run needs one.
    const unnamed = idempotency({ client: localDynamoDb() });
    expect(await rejectionOf(() => unnamed.run(context(), async () => 1))).toMatchObject({
      message: expect.stringMatching(/needs a table: give tableName or set TIDEMARK_TABLE_NAME/),
    });
    expect(() => idempotency({ client: localDynamoDb(), tableName: 'x' })).toThrow(ConfigurationError);
    expect(() => idempotency({ client: localDynamoDb(), tableName: 't', ttlSeconds: 1 })).toThrow(ConfigurationError);
    expect(await rejectionOf(() => once.run(context(), async () => 1, { key: '' }))).toBeInstanceOf(ConfigurationError);
    expect(await rejectionOf(() => once.run({} as never, async () => 1))).toBeInstanceOf(ConfigurationError);
  });
});
