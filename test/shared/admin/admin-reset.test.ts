import { beforeEach, describe, expect, it } from 'vitest';
import type { AdminBackend } from '../../../shared/admin/admin-api.js';
import { InProcessOperationRunner } from '../../../shared/admin/local-operation-runner.js';
import { resetService } from '../../../shared/admin/reset-service.js';
import { TopicLog } from '../../../local/event-source-simulator.js';
import { TopicLogAdmin } from '../../../local/topic-log-admin.js';
import { call, testAdminBackend, untilDone } from '../../support/admin.js';
import { localDynamoDb } from '../../support/dynamodb.js';
import { dispatch, eventOf, testDispatcher, testProcessor, type LogRecord } from '../../support/harness.js';

const PROCESSOR = 'orders-view';
const PATH = `/api/processors/${PROCESSOR}/reset`;

describe('admin API: reset', () => {
  let backend: AdminBackend;
  let started: Array<{ input: Readonly<Record<string, unknown>>; name: string }>;

  beforeEach(async () => {
    const base = await testAdminBackend();
    await base.tokens.initialise(PROCESSOR, 2);
    // Partition 0 of "orders" holds 8 records, all handled.
    const log = new TopicLog('orders', 1);
    const records: LogRecord[] = [];
    for (let offset = 0; offset < 8; offset++) {
      log.append(0, { timestamp: 1_000 + offset, timestampType: 'CREATE_TIME', key: null, value: null, headers: [] });
      records.push({ topic: 'orders', partition: 0, offset, key: `k${offset % 3}` });
    }
    await dispatch(
      testDispatcher(testProcessor({ handler: () => {}, initialSegments: 2 }), base.tokens),
      eventOf(records),
    );
    const kafka = () => Promise.resolve(new TopicLogAdmin([log]));
    started = [];
    backend = {
      ...base,
      kafka,
      resets: resetService({
        tableName: base.tableName,
        client: localDynamoDb(),
        tokens: base.tokens,
        kafka,
        processors: base.processors,
      }),
      // The reset state machine's run is the runner's boundary: what it is started with is what is asserted.
      runner: new InProcessOperationRunner({
        tokens: base.tokens,
        layoutTtlMs: 200,
        reset: (input, name) => {
          started.push({ input, name });
          return Promise.resolve({ written: 1 });
        },
      }),
    };
  });

  it('answers a dry run with the plan per partition and changes nothing', async () => {
    const { status, body } = await call(backend, 'POST', PATH, { to: 'offset:3' });
    expect(status).toBe(200);
    const plan = body.plan as { clearParked: boolean; partitions: Array<Record<string, unknown>> };
    expect(body.dryRun).toBe(true);
    expect(plan.clearParked).toBe(false);
    expect(plan.partitions).toMatchObject([{ id: 'orders-0', from: 8, to: 3, replay: 5, records: 5 }]);
    expect(started).toEqual([]);
    expect(await backend.deadLetters.listAudit(PROCESSOR)).toEqual([]);
    const state = await backend.tokens.readState(PROCESSOR);
    expect(state.partitions[0]!.token.lowWatermark()).toBe(8);
  });

  it('starts the reset once, as the caller, however often it is sent; a dry run after it still plans', async () => {
    const body = { to: 'earliest', partitions: ['orders-0'], dryRun: false };
    const first = await call(backend, 'POST', PATH, body, { principal: 'arn:aws:iam::1:user/ops' });
    expect(first.status).toBe(202);
    const again = await call(backend, 'POST', PATH, body);
    expect(again.body).toMatchObject({ operationId: first.body.operationId, duplicate: true });
    expect(await untilDone(backend, String(first.body.operationId))).toMatchObject({
      status: 'succeeded',
      result: { written: 1 },
    });
    expect(started).toHaveLength(1);
    expect(started[0]!.input).toMatchObject({
      processor: PROCESSOR,
      to: 'earliest',
      partitions: 'orders-0',
      clearParked: false,
      by: 'arn:aws:iam::1:user/ops',
    });
    expect(started[0]!.name).toMatch(/^orders-view-reset-[0-9a-f]{20}$/);
    expect(started[0]!.input.resetId).toBe(started[0]!.name);
    const dry = await call(backend, 'POST', PATH, { to: 'earliest', partitions: ['orders-0'] });
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
  });

  it.each([
    [{ to: 'yesterday' }, 'yesterday'],
    [{ to: 'shift:abc' }, 'shift:abc'],
    [{ to: 'earliest', segments: ['3/3'] }, '3/3'],
    [{ to: 'earliest', partitions: ['payments-0'] }, 'payments-0'],
    [{ to: 'earliest', segments: ['0/1'], clearParked: true }, 'clearing parked letters applies to whole partitions'],
    [{ to: 7 }, '"to" must be'],
    [{ to: 'earliest', partitions: 'orders-0' }, '"partitions" must be a list'],
  ])('refuses %j with a 400 naming what is wrong', async (body, message) => {
    const answer = await call(backend, 'POST', PATH, { ...body, dryRun: false });
    expect(answer.status).toBe(400);
    expect((answer.body.error as { message: string }).message).toContain(message);
    expect(started).toEqual([]);
    expect(await backend.deadLetters.listAudit(PROCESSOR)).toEqual([]);
  });
});
