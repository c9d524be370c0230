import { beforeEach, describe, expect, it } from 'vitest';
import type { AdminBackend } from '../../../shared/admin/admin-api.js';
import type { ProcessorStatus } from '../../../shared/admin/status-view.js';
import { EventSourceSimulator, TopicLog } from '../../../local/event-source-simulator.js';
import { simulatorControl, TopicLogAdmin } from '../../../local/topic-log-admin.js';
import { call, testAdminBackend, untilDone } from '../../support/admin.js';
import { dispatch, eventOf, testDispatcher, testProcessor, type LogRecord } from '../../support/harness.js';

const PROCESSOR = 'orders-view';

/** Fills partitions 0 and 1 of "orders" with 10 records each, handles the first 6 of partition 0 and all of 1. */
async function withTraffic(backend: AdminBackend): Promise<TopicLog> {
  const log = new TopicLog('orders', 2);
  const records: LogRecord[] = [];
  for (let partition = 0; partition < 2; partition++) {
    for (let offset = 0; offset < 10; offset++) {
      log.append(partition, {
        timestamp: Date.now() - 60_000 + offset,
        timestampType: 'CREATE_TIME',
        key: Buffer.from(`k${offset % 3}`).toString('base64'),
        value: Buffer.from('{}').toString('base64'),
        headers: [],
      });
      if (partition === 1 || offset < 6) records.push({ topic: 'orders', partition, offset, key: `k${offset % 3}` });
    }
  }
  const dispatcher = testDispatcher(testProcessor({ handler: () => {}, initialSegments: 2 }), backend.tokens);
  await dispatch(dispatcher, eventOf(records));
  return log;
}

describe('admin API', () => {
  let backend: AdminBackend;
  beforeEach(async () => {
    backend = await testAdminBackend();
    await backend.tokens.initialise(PROCESSOR, 2);
  });

  it('lists the processors it serves', async () => {
    const { status, body } = await call(backend, 'GET', '/api/processors');
    expect(status).toBe(200);
    expect(body.processors).toEqual([
      { name: PROCESSOR, layoutVersion: 1, segments: 2, paused: false, initialised: true },
    ]);
  });

  it('answers the status: layout as a bar of the hash space, positions, lag in records and seconds', async () => {
    const log = await withTraffic(backend);
    backend = { ...backend, kafka: () => Promise.resolve(new TopicLogAdmin([log])) };
    const { status, body } = await call(backend, 'GET', `/api/processors/${PROCESSOR}/status`);
    expect(status).toBe(200);
    const view = body as unknown as ProcessorStatus;
    expect(view.layout.segments.map((s) => [s.name, s.start, s.fraction])).toEqual([
      ['0/1', 0, 0.5],
      ['1/1', 0.5, 0.5],
    ]);
    const byId = Object.fromEntries(view.partitions.map((p) => [p.id, p]));
    expect(byId['orders-0']).toMatchObject({ position: 6, highWater: 10, recordLag: 4, stalled: false });
    expect(byId['orders-1']).toMatchObject({ position: 10, highWater: 10, recordLag: 0, timeLagSeconds: 0 });
    expect(view.totals.recordLag).toBe(4);
    expect(view.lagUnavailable).toBeNull();
    expect(view.layout.segments.reduce((sum, s) => sum + (s.recordLag ?? 0), 0)).toBeGreaterThanOrEqual(4);
  });

  it('says why lag in records is missing without Kafka, and still shows what DynamoDB holds', async () => {
    await withTraffic(backend);
    const { body } = await call(backend, 'GET', `/api/processors/${PROCESSOR}/status`);
    const view = body as unknown as ProcessorStatus;
    expect(view.partitions.map((p) => [p.id, p.position, p.recordLag])).toEqual([
      ['orders-0', 6, null],
      ['orders-1', 10, null],
    ]);
    expect(view.warnings.map((w) => w.kind)).toContain('lagUnavailable');
  });

  it('splits once however often the same split is sent, with one audit item naming the caller', async () => {
    const first = await call(backend, 'POST', `/api/processors/${PROCESSOR}/split`, { segment: '0/1' });
    expect(first.status).toBe(202);
    const again = await call(backend, 'POST', `/api/processors/${PROCESSOR}/split`, { segment: '0/1' });
    expect(again.status).toBe(202);
    expect(again.body.operationId).toBe(first.body.operationId);
    expect(again.body.duplicate).toBe(true);
    const done = await untilDone(backend, String(first.body.operationId));
    expect(done).toMatchObject({
      status: 'succeeded',
      command: 'split',
      principal: 'arn:aws:iam::123456789012:role/operator',
    });
    const layout = await backend.tokens.readLayout(PROCESSOR);
    expect(layout.segments).toHaveLength(3);
    const audit = await backend.deadLetters.listAudit(PROCESSOR);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'split', by: 'arn:aws:iam::123456789012:role/operator' });
    // Sent again once it is done (a client retrying late): still the same operation, and no second split.
    const late = await call(backend, 'POST', `/api/processors/${PROCESSOR}/split`, { segment: '0/1' });
    expect(late.body).toMatchObject({ operationId: first.body.operationId, duplicate: true, status: 'succeeded' });
    expect((await backend.tokens.readLayout(PROCESSOR)).segments).toHaveLength(3);
    expect(await backend.deadLetters.listAudit(PROCESSOR)).toHaveLength(1);
  });

  it('scales to a count, and a scale to the count it has succeeds without a change', async () => {
    const { body } = await call(backend, 'POST', `/api/processors/${PROCESSOR}/scale`, { segments: 2 });
    expect(body.status).toBe('succeeded');
    expect((body.operation as { result: unknown }).result).toEqual({ unchanged: true });
    const scale = await call(backend, 'POST', `/api/processors/${PROCESSOR}/scale`, { segments: 4 });
    await untilDone(backend, String(scale.body.operationId), 30_000);
    expect((await backend.tokens.readLayout(PROCESSOR)).segments).toHaveLength(4);
  });

  it('pauses and resumes the event source once per command', async () => {
    const log = new TopicLog('orders', 1);
    const simulator = new EventSourceSimulator(log, () => Promise.resolve({ batchItemFailures: [] }));
    const control = simulatorControl(simulator, { topic: 'orders', consumerGroupId: 'orders-view' });
    backend = { ...backend, eventSources: () => control };
    const pause = await call(backend, 'POST', `/api/processors/${PROCESSOR}/pause`);
    expect(pause.status).toBe(202);
    expect(simulator.paused).toBe(true);
    const twice = await call(backend, 'POST', `/api/processors/${PROCESSOR}/pause`);
    expect(twice.body.operationId).toBe(pause.body.operationId);
    expect(await untilDone(backend, String(pause.body.operationId))).toMatchObject({ status: 'succeeded' });
    const view = (await call(backend, 'GET', `/api/processors/${PROCESSOR}/status`)).body as unknown as ProcessorStatus;
    expect(view.eventSource.paused).toBe(true);
    expect(view.warnings.map((w) => w.kind)).toContain('paused');
    const resume = await call(backend, 'POST', `/api/processors/${PROCESSOR}/resume`);
    expect(await untilDone(backend, String(resume.body.operationId))).toMatchObject({ status: 'succeeded' });
    expect(simulator.paused).toBe(false);
    // Pause again after a resume is a new command, not the first pause repeated.
    const again = await call(backend, 'POST', `/api/processors/${PROCESSOR}/pause`);
    expect(again.body.operationId).not.toBe(pause.body.operationId);
    await simulator.stop();
  });

  it('treats the same Idempotency-Key as the same command, and refuses it for another', async () => {
    const headers = { 'idempotency-key': 'deploy-42' };
    const first = await call(backend, 'POST', `/api/processors/${PROCESSOR}/split`, { segment: '1/1' }, { headers });
    const second = await call(backend, 'POST', `/api/processors/${PROCESSOR}/split`, { segment: '1/1' }, { headers });
    expect(second.body.operationId).toBe(first.body.operationId);
    const other = await call(backend, 'POST', `/api/processors/${PROCESSOR}/merge`, { segment: '1/1' }, { headers });
    expect(other.status).toBe(409);
    expect(String((other.body.error as { message: string }).message)).toContain('Idempotency-Key');
    await untilDone(backend, String(first.body.operationId));
  });

  describe('refuses bad input with a clear 4xx', () => {
    const cases: Array<[string, string, string, unknown, number, string]> = [
      [
        'unknown processor',
        'GET',
        '/api/processors/nope/status',
        undefined,
        404,
        'unknown processor "nope"; this API serves: orders-view',
      ],
      ['unknown processor command', 'POST', '/api/processors/nope/split', { segment: '0/1' }, 404, 'unknown processor'],
      ['a segment that does not exist', 'POST', `/api/processors/${PROCESSOR}/split`, { segment: '3/3' }, 400, '3/3'],
      ['a malformed segment', 'POST', `/api/processors/${PROCESSOR}/merge`, { segment: 'left' }, 400, 'left'],
      ['no segment', 'POST', `/api/processors/${PROCESSOR}/split`, {}, 400, '"segment" must be a segment name'],
      ['a body that is not JSON', 'POST', `/api/processors/${PROCESSOR}/split`, '{segment', 400, 'not JSON'],
      [
        'a segment count that is not a number',
        'POST',
        `/api/processors/${PROCESSOR}/scale`,
        { segments: 'many' },
        400,
        '"segments" must be a whole number',
      ],
      [
        'a segment count out of range',
        'POST',
        `/api/processors/${PROCESSOR}/scale`,
        { segments: 0 },
        400,
        'from 1 to 2048',
      ],
      ['an unknown action', 'POST', `/api/processors/${PROCESSOR}/explode`, {}, 404, 'allowed: status (GET), split'],
      ['a command sent with GET', 'GET', `/api/processors/${PROCESSOR}/split`, undefined, 405, 'use POST'],
      [
        'an unknown operation',
        'GET',
        '/api/operations/orders-view.00000000000000000000',
        undefined,
        404,
        'no operation',
      ],
      ['a malformed operation id', 'GET', '/api/operations/whatever', undefined, 404, 'no operation'],
      ['pause without known mappings', 'POST', `/api/processors/${PROCESSOR}/pause`, {}, 503, 'not known to this API'],
      [
        'reset without Kafka access',
        'POST',
        `/api/processors/${PROCESSOR}/reset`,
        { to: 'earliest' },
        503,
        'Kafka access',
      ],
      ['a path outside the API', 'GET', '/etc/passwd', undefined, 404, 'under /api'],
    ];
    it.each(cases)('%s', async (_name, method, path, body, status, message) => {
      const answer = await call(backend, method, path, body);
      expect(answer.status).toBe(status);
      expect((answer.body.error as { message: string }).message).toContain(message);
      // Nothing was accepted: no audit item.
      expect(await backend.deadLetters.listAudit(PROCESSOR)).toEqual([]);
    });
  });
});
