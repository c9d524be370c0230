import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { isParked } from '../../shared/dead-letters/dead-letter.js';
import { FencedError, NonRetriableError, UnknownProcessorError } from '../../shared/errors.js';
import { javaStringHashCode } from '../../shared/routing/hash.js';
import { SegmentState } from '../../shared/routing/layout.js';
import { segmentName } from '../../shared/routing/segment.js';
import { ResetConflictError, ResetRequestError } from '../../shared/reset/reset-errors.js';
import { planReset, type ResetPlan, type ResetRequest } from '../../shared/reset/reset-plan.js';
import { writeReset, type ResetWriteRequest } from '../../shared/reset/reset-writer.js';
import { tokenKeys } from '../../shared/tokens/token-table.js';
import { PartitionToken } from '../../shared/tokens/token.js';
import { freshStores, lettersByKey } from '../support/dead-letters.js';
import { localDynamoDb } from '../support/dynamodb.js';
import {
  dispatch,
  eventOf,
  ScriptedHandler,
  testDispatcher,
  testProcessor,
  type HandlerCall,
} from '../support/harness.js';
import { memoryKafkaAdmin, type MemoryPartition } from '../support/reset.js';

// The plan and the writer against DynamoDB Local, with the real dispatcher building the tokens and handling what a
// reset brings again. The cluster's offsets come from an in-memory KafkaAdmin here (the mock cluster cannot answer
// offsets by time or keep a low watermark above 0); test/reset/local-reset.test.ts runs the whole reset against
// librdkafka's mock cluster.

const PROCESSOR = 'orders-view';
const TOPIC = 'orders';
const KEYS = 8;
const keyOf = (offset: number) => `key-${offset % KEYS}`;
/** The segment (of two) a record's key routes to. */
const segmentOf = (offset: number) => `${javaStringHashCode(keyOf(offset)) & 1}/1`;

async function fixture(partitions: readonly MemoryPartition[], failures: Iterable<[string, number]> = []) {
  const { tableName, store, deadLetters } = await freshStores();
  await store.initialise(PROCESSOR, 2);
  const handler = new ScriptedHandler(failures);
  let poison: ReadonlySet<string> = new Set();
  const scripted = handler.for();
  const processor = testProcessor({
    handler: async (record, context) => {
      if (poison.has(`${record.topicPartition}@${record.offset}`)) throw new NonRetriableError('poison');
      await scripted(record, context);
    },
    initialSegments: 2,
  });
  const dispatcher = testDispatcher(processor, store);
  const table = { documents: DynamoDBDocumentClient.from(localDynamoDb()), tableName };
  const sources = { table, layouts: store, kafka: memoryKafkaAdmin({ [TOPIC]: partitions }), topics: [TOPIC] };
  return {
    tableName,
    store,
    deadLetters,
    handler,
    table,
    /** Records `[from, to)` of a partition whose ids are in `ids` park at once (NonRetriableError). */
    poison: (ids: readonly string[]) => {
      poison = new Set(ids);
    },
    /** Delivers offsets `[from, to)` of a partition in one batch, as the event source would. */
    deliver: (partition: number, from: number, to: number) => dispatch(dispatcher, eventOfRange(partition, from, to)),
    plan: (request: Partial<ResetRequest> & Pick<ResetRequest, 'to'>) =>
      planReset({ processor: PROCESSOR, ...request }, sources),
    write: (plan: ResetPlan, resetId: string, extra: Partial<ResetWriteRequest> = {}) =>
      writeReset({ table, deadLetters }, writeRequest(plan, resetId, extra), plan.partitions),
    state: async () => (await store.readState(PROCESSOR)).partitions,
    audit: async () =>
      (
        await table.documents.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': tokenKeys.audit(PROCESSOR) },
          }),
        )
      ).Items ?? [],
  };
}

function eventOfRange(partition: number, from: number, to: number) {
  return eventOf(
    Array.from({ length: to - from }, (_, i) => from + i).map((offset) => ({
      topic: TOPIC,
      partition,
      offset,
      key: keyOf(offset),
    })),
  );
}

function writeRequest(plan: ResetPlan, resetId: string, extra: Partial<ResetWriteRequest>): ResetWriteRequest {
  return {
    processor: plan.processor,
    resetId,
    target: plan.target,
    layoutVersion: plan.layoutVersion,
    segments: plan.scope.segments,
    clearParked: plan.clearParked,
    by: 'arn:aws:iam::123456789012:user/ops',
    reason: 'rebuild the projection',
    ...extra,
  };
}

const idOf = (c: HandlerCall) => `${c.topicPartition}@${c.offset}`;
const tokenOf = (t: PartitionToken) => JSON.parse(t.serialize()) as unknown;
const range = (partition: number, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${TOPIC}-${partition}@${from + i}`);

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('it succeeded');
}

describe('planning a reset', () => {
  it('plans from the tokens, per partition from → to with the offsets read again, and changes nothing', async () => {
    const f = await fixture([
      { low: 10, high: 60 },
      { low: 0, high: 30 },
      { low: 0, high: 5 },
    ]);
    await f.deliver(0, 10, 60);
    await f.deliver(1, 0, 30);
    const before = await f.state();

    const plan = await f.plan({ to: 'earliest' });

    expect(plan).toMatchObject({
      processor: PROCESSOR,
      spec: 'earliest',
      clearParked: false,
      scope: { partitions: null, segments: null },
      totals: { partitions: 3, pending: 3, done: 0, replay: 80, skip: 0, parkedKeys: 0 },
    });
    expect(
      plan.partitions.map((p) => ({ id: p.id, from: p.from, to: p.to, replay: p.replay, group: p.groupOffset })),
    ).toEqual([
      { id: 'orders-0', from: 60, to: 10, replay: 50, group: 10 },
      { id: 'orders-1', from: 30, to: 0, replay: 30, group: 0 },
      // Never processed: nothing is read again; the event source starts at the earliest offset.
      { id: 'orders-2', from: null, to: 0, replay: 0, group: 0 },
    ]);
    expect(await f.state()).toEqual(before);
    expect(await f.audit()).toEqual([]);
  });

  it('clamps targets to what Kafka keeps, finds offsets by time, and skips forward to the end', async () => {
    const base = Date.UTC(2026, 0, 31, 12);
    const f = await fixture([
      { low: 0, high: 40, timestamps: Array.from({ length: 40 }, (_, i) => base + i * 1_000) },
      { low: 0, high: 40 },
    ]);
    await f.deliver(0, 0, 30);
    await f.deliver(1, 0, 30);

    const [byTime, byOffset, latest] = await Promise.all([
      f.plan({ to: '2026-01-31T12:00:20Z' }),
      f.plan({ to: 'offset:1000' }),
      f.plan({ to: 'latest', partitions: '1' }),
    ]);

    expect(byTime.partitions.map((p) => [p.id, p.from, p.to])).toEqual([
      ['orders-0', 30, 20],
      // No record at or after that time: the end.
      ['orders-1', 30, 40],
    ]);
    expect(byOffset.partitions.map((p) => [p.id, p.to, p.skip])).toEqual([
      ['orders-0', 40, 10],
      ['orders-1', 40, 10],
    ]);
    expect(latest.scope.partitions).toEqual(['orders-1']);
    expect(latest.partitions.map((p) => [p.id, p.from, p.to, p.skip, p.replay])).toEqual([['orders-1', 30, 40, 10, 0]]);
  });

  it('refuses a bad request with a typed error naming what is wrong and what exists', async () => {
    const f = await fixture([{ low: 0, high: 10 }]);

    const errors = await Promise.all([
      failure(f.plan({ to: 'yesterday' })),
      failure(f.plan({ to: 'earliest', segments: '0/3' })),
      failure(f.plan({ to: 'earliest', segments: 'zero' })),
      failure(f.plan({ to: 'earliest', partitions: 'orders-7' })),
      failure(f.plan({ to: 'earliest', partitions: 'payments-0' })),
      failure(f.plan({ to: 'earliest', segments: '0/1', clearParked: true })),
      failure(
        planReset(
          { processor: 'no-such', to: 'earliest' },
          {
            table: f.table,
            layouts: f.store,
            kafka: memoryKafkaAdmin({}),
            topics: [TOPIC],
          },
        ),
      ),
    ]);

    expect(errors.slice(0, 6).map((e) => [e.constructor.name, (e as ResetRequestError).field])).toEqual([
      ['ResetRequestError', 'to'],
      ['ResetRequestError', 'segments'],
      ['ResetRequestError', 'segments'],
      ['ResetRequestError', 'partitions'],
      ['ResetRequestError', 'partitions'],
      ['ResetRequestError', 'clearParked'],
    ]);
    expect(errors[1]!.message).toBe(
      'segment 0/3 is not a live segment of "orders-view" (layout v1); the live segments are 0/1, 1/1',
    );
    expect(errors[3]!.message).toBe('partition orders-7 does not exist: "orders" has partitions 0');
    expect(errors[4]!.message).toBe(
      'partition "payments-0": topic "payments" is not one of the processor\'s topics (orders)',
    );
    expect(errors[6]).toBeInstanceOf(UnknownProcessorError);
  });
});

describe('writing a reset', () => {
  it('rewinds in one fenced write per partition: the straggler is fenced, replayed records carry context.replay, nothing after is lost', async () => {
    const f = await fixture([{ low: 0, high: 70 }]);
    await f.deliver(0, 0, 60);
    // An invocation still holding the partition when the reset is planned (its Lambda outlived the mapping).
    const straggler = await f.store.claim({
      processor: PROCESSOR,
      topic: TOPIC,
      partition: 0,
      owner: 'straggler',
      layoutVersion: 1,
      leaseMs: 60_000,
    });
    const plan = await f.plan({ to: 'offset:20' });
    f.handler.calls.length = 0;

    const result = await f.write(plan, 'reset-1');
    const [after] = await f.state();

    expect(result).toMatchObject({ written: 1, already: 0, lettersCleared: 0 });
    expect(after).toMatchObject({ epoch: straggler.epoch + 1, owner: undefined, leaseUntil: 0 });
    expect(tokenOf(after!.token)).toEqual([{ s: '0/0', n: 20 }]);
    expect(after!.replay?.resetId).toBe('reset-1');
    expect(tokenOf(after!.replay!.token)).toEqual([{ s: '0/0', n: 60 }]);
    // The straggler's checkpoint would have overwritten the reset: its epoch is gone.
    const fenced = await failure(
      f.store.checkpoint(
        straggler,
        PartitionToken.fromCells([{ segment: { id: 0, mask: 0 }, position: { next: 60, done: [] } }]),
        {
          release: true,
          leaseMs: 60_000,
        },
      ),
    );
    expect(fenced).toBeInstanceOf(FencedError);

    // The event source reads again from the group offset the plan set: replayed records, then new ones.
    await f.deliver(0, plan.partitions[0]!.groupOffset!, 70);

    const calls = f.handler.calls.filter((c) => c.succeeded);
    expect(calls.map(idOf).sort()).toEqual(range(0, 20, 70).sort());
    expect(
      calls
        .filter((c) => c.context.replay)
        .map(idOf)
        .sort(),
    ).toEqual(range(0, 20, 60).sort());
    const [done] = await f.state();
    expect(tokenOf(done!.token)).toEqual([{ s: '0/0', n: 70 }]);
    // Past everything the replay token covered: the replay is over.
    expect(done!.replay).toBeNull();
    const audit = await f.audit();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'reset',
      by: 'arn:aws:iam::123456789012:user/ops',
      reason: 'rebuild the projection',
      resetId: 'reset-1',
      target: 'offset:20 on 1 partition(s): orders-0',
    });
  });

  it('does the work once when the same reset runs twice, and keeps the first replay in a second reset', async () => {
    const f = await fixture([{ low: 0, high: 60 }]);
    await f.deliver(0, 0, 60);
    const plan = await f.plan({ to: 'earliest', resetId: 'reset-once' });
    await f.write(plan, 'reset-once');
    await f.deliver(0, 0, 30);

    const again = await f.plan({ to: 'earliest', resetId: 'reset-once' });
    const second = await f.write(again, 'reset-once');

    expect(again.partitions.map((p) => [p.id, p.done, p.pending])).toEqual([['orders-0', true, false]]);
    expect(second).toMatchObject({ written: 0, already: 1 });
    const [after] = await f.state();
    expect(tokenOf(after!.token)).toEqual([{ s: '0/0', n: 30 }]);
    expect(await f.audit()).toHaveLength(1);

    // Another reset while the first is replayed: what the first replay flagged is still flagged.
    const other = await f.plan({ to: 'offset:10', resetId: 'reset-two' });
    await f.write(other, 'reset-two');
    const [twice] = await f.state();
    expect(tokenOf(twice!.token)).toEqual([{ s: '0/0', n: 10 }]);
    expect(twice!.replay).toMatchObject({ resetId: 'reset-two' });
    expect(tokenOf(twice!.replay!.token)).toEqual([{ s: '0/0', n: 60 }]);
  });

  it('resets only the scoped segment, leaving the other where it was and the group at the lower position', async () => {
    const f = await fixture([{ low: 10, high: 60 }]);
    await f.deliver(0, 10, 60);
    const plan = await f.plan({ to: 'shift:-1000', segments: '0/1' });
    f.handler.calls.length = 0;

    await f.write(plan, 'reset-segment');
    await f.deliver(0, plan.partitions[0]!.groupOffset!, 60);

    expect(plan.partitions[0]).toMatchObject({
      from: 60,
      to: 10,
      groupOffset: 10,
      segments: [{ segment: '0/1', from: 60, to: 10 }],
    });
    const [after] = await f.state();
    expect(tokenOf(after!.token)).toEqual([{ s: '0/0', n: 60 }]);
    const handled = f.handler.calls.filter((c) => c.succeeded);
    expect(handled.length).toBeGreaterThan(0);
    expect(new Set(handled.map((c) => segmentName(c.context.segment)))).toEqual(new Set(['0/1']));
    expect(handled.map((c) => c.offset).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => 10 + i).filter((o) => segmentOf(o) === '0/1'),
    );
  });

  it("keeps a straggler's checkpoint landing between plan and write, outside the scope", async () => {
    const f = await fixture([{ low: 0, high: 80 }]);
    await f.deliver(0, 0, 40);
    const straggler = await f.store.claim({
      processor: PROCESSOR,
      topic: TOPIC,
      partition: 0,
      owner: 'straggler',
      layoutVersion: 1,
      leaseMs: 60_000,
    });
    const plan = await f.plan({ to: 'earliest', segments: '0/1' });
    await f.store.checkpoint(
      straggler,
      PartitionToken.fromCells([{ segment: { id: 0, mask: 0 }, position: { next: 80, done: [] } }]),
      { release: true, leaseMs: 60_000 },
    );

    await f.write(plan, 'reset-race');

    const [after] = await f.state();
    expect(tokenOf(after!.token)).toEqual([
      { s: '0/1', n: 0 },
      { s: '1/1', n: 80 },
    ]);
    expect(tokenOf(after!.replay!.token)).toEqual([{ s: '0/0', n: 80 }]);
  });

  it('refuses a partition claimed since the plan, or a layout changed since, writing nothing', async () => {
    const f = await fixture([{ low: 0, high: 40 }]);
    await f.deliver(0, 0, 40);
    const claimedSince = await f.plan({ to: 'earliest' });
    await f.store.claim({
      processor: PROCESSOR,
      topic: TOPIC,
      partition: 0,
      owner: 'late',
      layoutVersion: 1,
      leaseMs: 1,
    });

    const claimed = await failure(f.write(claimedSince, 'reset-claimed'));

    const layoutPlan = await f.plan({ to: 'earliest' });
    const layout = await f.store.readLayout(PROCESSOR);
    await f.store.changeLayout(PROCESSOR, layout.version, [{ id: 0, mask: 0, state: SegmentState.Active }]);
    const changed = await failure(f.write(layoutPlan, 'reset-layout'));

    expect(claimed).toBeInstanceOf(ResetConflictError);
    expect(claimed.message).toMatch(/^orders-0 of "orders-view" was claimed since the reset was planned/);
    expect(changed).toBeInstanceOf(ResetConflictError);
    expect(changed.message).toMatch(/^the layout of "orders-view" changed since the reset was planned on v1/);
    const [after] = await f.state();
    expect(tokenOf(after!.token)).toEqual([{ s: '0/0', n: 40 }]);
    expect(after!.replay).toBeNull();
  });

  it('clears parked letters only when asked, through the audited delete, and says so in the plan', async () => {
    const f = await fixture([{ low: 0, high: 20 }]);
    f.poison(['orders-0@3']);
    await f.deliver(0, 0, 20);
    const parkedBefore = await lettersByKey(f.deadLetters, PROCESSOR);
    expect([...parkedBefore.keys()]).toEqual([`orders-0/${keyOf(3)}`]);

    const keep = await f.plan({ to: 'earliest' });
    const clear = await f.plan({ to: 'earliest', clearParked: true });
    await f.write(keep, 'reset-keep');
    const stillParked = await lettersByKey(f.deadLetters, PROCESSOR);
    const reclear = await f.plan({ to: 'earliest', clearParked: true, resetId: 'reset-clear' });
    const result = await f.write(reclear, 'reset-clear');

    expect(keep.partitions[0]).toMatchObject({ parkedKeys: 1, clearsParked: false });
    expect(clear.partitions[0]).toMatchObject({ parkedKeys: 1, clearsParked: true });
    expect(stillParked).toEqual(parkedBefore);
    expect(result.lettersCleared).toBe(parkedBefore.get(`orders-0/${keyOf(3)}`)!.length);
    expect(await lettersByKey(f.deadLetters, PROCESSOR)).toEqual(new Map());
    const [after] = await f.state();
    expect(after!.parked.filter(isParked)).toEqual([]);
    const deletes = (await f.audit()).filter((a) => a.action === 'delete-letter');
    expect(deletes.length).toBe(result.lettersCleared);
    expect(deletes[0]).toMatchObject({
      by: 'arn:aws:iam::123456789012:user/ops',
      reason: 'reset reset-clear: rebuild the projection',
    });
  });
});
