import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { startAdminServer, type AdminServer } from '../../shared/admin/admin-server.js';
import { EventSourceSimulator, TopicLog } from '../../local/event-source-simulator.js';
import { simulatorControl, TopicLogAdmin } from '../../local/topic-log-admin.js';
import type { ProcessorStatus } from '../../shared/admin/status-view.js';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { byTestId, launchBrowser, textOf, waitForText, type TestBrowser } from '../support/browser.js';
import {
  HOSTILE_KEY,
  HOSTILE_MESSAGE,
  processorStatus,
  startFixtureServer,
  type FixtureServer,
} from '../support/status-fixture.js';
import { freshTokenTable, localDynamoDb } from '../support/dynamodb.js';
import { testDispatcher, testProcessor } from '../support/harness.js';

// The status page in headless Chromium (scripts/install-chromium.sh). Run under the lock:
// flock /tmp/tidemark-heavy.lock npx vitest run test/admin/status-page.browser.test.ts

let browser: TestBrowser;

beforeAll(async () => {
  browser = await launchBrowser();
}, 30_000);

afterAll(async () => {
  await browser?.close();
});

function attribute(page: Page, id: string, name: string): Promise<string | null> {
  return page.$eval(byTestId(id), (node, attr) => node.getAttribute(attr), name);
}

function widthOf(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (node) => node.getBoundingClientRect().width);
}

async function testIds(page: Page, prefix: string): Promise<string[]> {
  return page.$$eval(`[data-testid^="${prefix}"]`, (nodes) =>
    nodes.map((node) => node.getAttribute('data-testid') ?? ''),
  );
}

/** Only Chromium's own line for an HTTP error answer the test provoked on purpose. */
function unexpected(problems: readonly string[], status?: number): string[] {
  return problems.filter(
    (line) =>
      status === undefined ||
      !line.includes(`Failed to load resource: the server responded with a status of ${status}`),
  );
}

describe('the status page over a fixture', () => {
  let server: FixtureServer;

  beforeEach(async () => {
    server = await startFixtureServer();
  });

  afterEach(async () => {
    await server.close();
  });

  it('shows every segment sized by its share and every partition with its lag, owner and lease, without console errors', async () => {
    const { page, problems } = await browser.open(`${server.url}?refresh=1`);

    await page.waitForSelector(byTestId('partition-orders-1'));
    expect(await testIds(page, 'segment-')).toEqual(['segment-0/1', 'segment-1/3', 'segment-3/3', 'segment-list']);
    const bar = await widthOf(page, byTestId('layout-bar'));
    expect((await widthOf(page, byTestId('segment-0/1'))) / bar).toBeCloseTo(0.5, 1);
    expect((await widthOf(page, byTestId('segment-3/3'))) / bar).toBeCloseTo(0.25, 1);
    expect(await textOf(page, 'segment-1/3')).toBe('1/3lag 20');
    expect(await textOf(page, 'lag-records-orders-0')).toBe('50');
    expect(await textOf(page, 'lag-seconds-orders-0')).toBe('12 s');
    expect(await textOf(page, 'lag-records-orders-1')).toBe('900');
    expect(await textOf(page, 'lag-seconds-orders-1')).toBe('5 min 40 s');
    expect(await textOf(page, 'owner-orders-0')).toBe('dispatch-0');
    expect(await textOf(page, 'lease-orders-0')).toMatch(/^live, expires in 1\d s$/);
    expect(await textOf(page, 'position-orders-1')).toBe('1,201');
    expect(await textOf(page, 'high-water-orders-1')).toBe('1,251');
    expect(await textOf(page, 'total-record-lag')).toBe('950');
    // A line per partition over the last hour, in records and in seconds.
    for (const id of ['chart-records-orders-0', 'chart-seconds-orders-0', 'chart-records-orders-1']) {
      expect(
        await page.$eval(`${byTestId(id)} polyline`, (line) => line.getAttribute('points')!.split(' ').length),
      ).toBe(60);
    }
    expect(await waitForText(page, 'updated', /^updated \d+ s ago$/)).toBeTruthy();
    expect(new URL(page.url()).searchParams.get('processor')).toBe('orders-view');
    expect(problems).toEqual([]);
  });

  it('puts keys and error messages into the page as text, never as HTML', async () => {
    const { page, problems } = await browser.open(server.url);

    await page.waitForSelector(byTestId('parked-keys'));
    expect(await textOf(page, 'parked-key')).toBe(HOSTILE_KEY);
    expect(await textOf(page, 'error-0')).toContain(HOSTILE_MESSAGE);
    expect(await page.$$eval('main img, main script', (nodes) => nodes.length)).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('highlights a stalled partition, a change under way, a paused source and missing record lag at the top', async () => {
    const base = processorStatus();
    server.status = processorStatus({
      layout: {
        ...base.layout,
        segments: base.layout.segments.map((s) => (s.name === '1/3' ? { ...s, state: 'draining' } : s)),
        change: { id: 'chg-1', operation: 'split', segment: '1/3', startedAt: Date.now() - 5_000 },
      },
      eventSource: { ...base.eventSource, paused: true },
      partitions: base.partitions.map((p) => ({ ...p, recordLag: null, highWater: null })),
      lagUnavailable: 'no Kafka access configured',
    });
    const { page, problems } = await browser.open(server.url);

    await page.waitForSelector(byTestId('partition-orders-1'));
    // The stalled partition: a red row with a badge, and a warning above everything else.
    expect(await attribute(page, 'partition-orders-1', 'data-stalled')).toBe('true');
    expect(await attribute(page, 'partition-orders-0', 'data-stalled')).toBe('false');
    expect(await textOf(page, 'stalled-orders-1')).toBe('STALLED');
    expect(await page.$(byTestId('stalled-orders-0'))).toBeNull();
    const background = (id: string) =>
      page.evaluate(
        `getComputedStyle(document.querySelector(${JSON.stringify(`${byTestId(id)} td`)})).backgroundColor`,
      );
    expect(await background('partition-orders-1')).not.toBe(await background('partition-orders-0'));
    expect(await attribute(page, 'warning-stalled', 'data-partition')).toBe('orders-1');
    const top = (id: string) => page.$eval(byTestId(id), (node) => node.getBoundingClientRect().top);
    expect(await top('warning-stalled')).toBeLessThan(await top('layout-bar'));
    // What the server did not warn about is said from the status itself.
    expect(await textOf(page, 'warning-pendingChange')).toContain('split of 1/3');
    expect(await textOf(page, 'warning-paused')).toContain('paused');
    expect(await textOf(page, 'warning-lagUnavailable')).toContain('no Kafka access configured');
    // The draining segment and the change under way, in the bar; no split or merge meanwhile.
    expect(await attribute(page, 'segment-1/3', 'class')).toBe('seg draining pending');
    expect(await attribute(page, 'segment-0/1', 'class')).toBe('seg active');
    expect(await textOf(page, 'pending-change')).toContain('split of 1/3');
    expect(await textOf(page, 'lag-records-orders-0')).toBe('n/a');
    expect(await page.$eval(byTestId('resume'), (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(false);
    expect(await page.$eval(byTestId('pause'), (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(true);
    await page.click(byTestId('segment-0/1'));
    expect(await page.$eval(byTestId('split'), (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(true);
    expect(problems).toEqual([]);
  });

  it('keeps the last data under an error banner while refreshes fail, and drops the banner when one succeeds', async () => {
    const { page, problems } = await browser.open(`${server.url}?refresh=1`);
    await page.waitForSelector(byTestId('partition-orders-0'));
    expect(await page.$eval(byTestId('error-banner'), (node) => (node as unknown as { hidden: boolean }).hidden)).toBe(
      true,
    );

    server.failStatus = { status: 503, code: 'Unavailable', message: 'DynamoDB <b>throttled</b> the read' };
    const banner = await waitForText(page, 'error-banner', /Refresh failed/);

    expect(banner).toContain('Unavailable: DynamoDB <b>throttled</b> the read');
    expect(await page.$$eval(`${byTestId('error-banner')} b`, (nodes) => nodes.length)).toBe(0);
    expect(await textOf(page, 'lag-records-orders-1')).toBe('900');
    expect(await waitForText(page, 'updated', /^last updated [2-9] s ago$/)).toBeTruthy();

    server.failStatus = null;
    await page.waitForSelector(`${byTestId('error-banner')}[hidden]`, { timeout: 5_000 });
    expect(await waitForText(page, 'updated', /^updated [01] s ago$/)).toBeTruthy();
    expect(unexpected(problems, 503)).toEqual([]);
  });

  it('splits a clicked segment only once the dialog is confirmed, then follows the operation to the new layout', async () => {
    const { page, problems } = await browser.open(`${server.url}?refresh=2`);
    await page.waitForSelector(byTestId('segment-0/1'));

    await page.click(byTestId('segment-0/1'));
    expect(await attribute(page, 'segment-0/1', 'aria-pressed')).toBe('true');
    expect(await textOf(page, 'selected-segment')).toContain('0/1 (1/2 of the hash space, active)');
    await page.click(byTestId('split'));
    await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
    expect(await textOf(page, 'confirm-dialog')).toContain(
      'segment 0/1 (1/2 of the hash space) becomes two halves of 1/4',
    );
    await page.click(byTestId('cancel'));
    await page.waitForSelector(`${byTestId('confirm-dialog')}:not([open])`);
    expect(server.commands).toEqual([]);

    await page.click(byTestId('split'));
    await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
    await page.click(byTestId('confirm'));
    await page.waitForSelector(`${byTestId('operation-status')}[data-status="succeeded"]`);

    expect(server.commands).toEqual([{ command: 'split', processor: 'orders-view', body: { segment: '0/1' } }]);
    expect(await textOf(page, 'operation-status')).toContain('split 0/1: succeeded (operation op-1)');
    expect(await textOf(page, 'operation-result')).toBe('layout v5');
    await page.waitForSelector(byTestId('segment-2/3'));
    expect(await testIds(page, 'segment-')).toEqual([
      'segment-0/3',
      'segment-2/3',
      'segment-1/3',
      'segment-3/3',
      'segment-list',
    ]);
    expect(await textOf(page, 'layout-version')).toBe('layout v5');
    expect(await textOf(page, 'selected-segment')).toContain('none');
    expect(problems).toEqual([]);
  });

  it('previews a reset as a dry run, executes the plan after confirmation, and shows why a command is refused', async () => {
    const { page, problems } = await browser.open(server.url);
    await page.waitForSelector(byTestId('partition-orders-0'));

    await page.select(byTestId('reset-to'), 'offset');
    await page.type(byTestId('reset-value'), 'twelve');
    await page.click(byTestId('reset-preview'));
    expect(await textOf(page, 'reset-error')).toContain('whole number');
    expect(server.commands).toEqual([]);

    await page.$eval(byTestId('reset-value'), (input) => ((input as unknown as { value: string }).value = ''));
    await page.type(byTestId('reset-value'), '1000');
    await page.type(byTestId('reset-partitions'), 'orders-0, orders-1');
    await page.click(byTestId('reset-clear-parked'));
    await page.click(byTestId('reset-preview'));
    await page.waitForSelector(`${byTestId('confirm-dialog')}[open] ${byTestId('plan-orders-1')}`);
    expect(server.commands).toEqual([
      {
        command: 'reset',
        processor: 'orders-view',
        body: { to: 'offset:1000', clearParked: true, partitions: ['orders-0', 'orders-1'], dryRun: true },
      },
    ]);
    expect(await textOf(page, 'plan-orders-1')).toBe('orders-11,20101,201');
    expect(await textOf(page, 'confirm-dialog')).toContain('Records to handle again: 2,401. Parked letters: cleared.');
    await page.click(byTestId('confirm'));
    await page.waitForSelector(`${byTestId('operation-status')}[data-status="succeeded"]`);
    expect(server.commands[1]).toEqual({
      command: 'reset',
      processor: 'orders-view',
      body: { to: 'offset:1000', clearParked: true, partitions: ['orders-0', 'orders-1'], dryRun: false },
    });

    server.refuseCommands = { status: 409, code: 'Conflict', message: 'a <i>merge</i> of 2/3 is under way' };
    await page.type(byTestId('scale-input'), '8');
    await page.click(byTestId('scale'));
    await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
    await page.click(byTestId('confirm'));
    await page.waitForSelector(`${byTestId('operation-status')}[data-status="failed"]`);
    expect(server.commands[2]).toEqual({ command: 'scale', processor: 'orders-view', body: { segments: 8 } });
    expect(await textOf(page, 'operation-status')).toContain(
      'scale to 8 failed: Conflict: a <i>merge</i> of 2/3 is under way',
    );
    expect(unexpected(problems, 409)).toEqual([]);
  });

  it('works from the keyboard: arrows walk the bar, Enter picks a segment, Escape cancels the dialog', async () => {
    const { page, problems } = await browser.open(server.url);
    await page.waitForSelector(byTestId('segment-0/1'));

    await page.focus(byTestId('segment-0/1'));
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate('document.activeElement.getAttribute("data-testid")')).toBe('segment-1/3');
    await page.keyboard.press('Enter');
    expect(await attribute(page, 'segment-1/3', 'aria-pressed')).toBe('true');
    expect(await page.evaluate('document.activeElement.getAttribute("data-testid")')).toBe('segment-1/3');
    await page.focus(byTestId('merge'));
    await page.keyboard.press('Enter');
    await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
    expect(await textOf(page, 'confirm-dialog')).toContain('1/3 and its sibling 3/3 become one segment of 1/2');
    // The safe choice has the focus.
    expect(await page.evaluate('document.activeElement.getAttribute("data-testid")')).toBe('cancel');
    await page.keyboard.press('Escape');
    await page.waitForSelector(`${byTestId('confirm-dialog')}:not([open])`);

    expect(server.commands).toEqual([]);
    expect(problems).toEqual([]);
  });
});

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

/**
 * The local stack's pieces, as `npm start` wires them: a real dispatcher on DynamoDB Local, fed by the event source
 * simulator from an in-memory topic with a backlog and a steady producer, and the admin server over the same table,
 * with the topic as its Kafka (record lag) and the simulator as its event source (pause and resume).
 */
async function localStack() {
  const tableName = await freshTokenTable();
  const store = new DynamoDbTokenStore({ tableName, client: localDynamoDb() });
  // A slow handler and a backlog of records two minutes old: every partition has lag in records and in seconds.
  const processor = testProcessor({
    name: 'orders-view',
    initialSegments: 2,
    concurrency: 2,
    handler: () => new Promise((resolve) => setTimeout(resolve, 10)),
  });
  const dispatcher = testDispatcher(processor, store, { settings: { layoutTtlMs: 200, claimWaitMs: 2_000 } });
  const log = new TopicLog('orders', 3);
  let sequence = 0;
  const produce = (partition: number, timestamp: number) =>
    log.append(partition, {
      timestamp,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(`order-${sequence % 40}`).toString('base64'),
      value: Buffer.from(JSON.stringify({ n: sequence++ })).toString('base64'),
      headers: [],
    });
  for (let partition = 0; partition < 3; partition++)
    for (let i = 0; i < 1_500; i++) produce(partition, Date.now() - 120_000 + i);
  const producer = setInterval(() => {
    for (let partition = 0; partition < 3; partition++) for (let i = 0; i < 3; i++) produce(partition, Date.now());
  }, 50);
  const simulator = new EventSourceSimulator(
    log,
    (event, invocation) =>
      dispatcher
        .dispatch(event, { remainingMs: invocation.remainingMs, invocationId: invocation.requestId })
        .then((result) => result.response),
    { batchSize: 20, batchingWindowMs: 100 },
  ).start();
  const admin = await startAdminServer({
    client: localDynamoDb(),
    tableName,
    processors: [{ name: 'orders-view', topics: ['orders'] }],
    kafka: new TopicLogAdmin([log], new Map([['orders-view', simulator]])),
    eventSources: () => simulatorControl(simulator, { topic: 'orders', consumerGroupId: 'orders-view' }),
    sampleIntervalMs: 500,
    layoutTtlMs: 200,
  });
  return {
    admin,
    async stop() {
      clearInterval(producer);
      await simulator.stop();
      await admin.close();
    },
  };
}

describe('the status page on the local stack', () => {
  let stack: Awaited<ReturnType<typeof localStack>>;
  let admin: AdminServer;

  beforeAll(async () => {
    stack = await localStack();
    admin = stack.admin;
    // The dispatcher initialises the layout at its first batch; lag samples follow.
    for (let i = 0; i < 100; i++) {
      const answer = await fetch(`${admin.url}/api/processors/orders-view/status`);
      if (answer.ok && ((await answer.json()) as ProcessorStatus).partitions.length === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 30_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('shows every segment and every partition with its lag while traffic flows, splits from the page and shows the new layout', async () => {
    const { page, problems } = await browser.open(`${admin.url}/?refresh=1`, { width: 1400, height: 1000 });
    await page.waitForSelector(byTestId('partition-orders-2'));
    const status = (await (await fetch(`${admin.url}/api/processors/orders-view/status`)).json()) as ProcessorStatus;

    // Every segment of the layout in the bar, every partition in the table, with lag in records and seconds.
    expect(status.layout.segments.map((s) => s.name)).toEqual(['0/1', '1/1']);
    expect((await testIds(page, 'segment-')).filter((id) => id !== 'segment-list')).toEqual([
      'segment-0/1',
      'segment-1/1',
    ]);
    expect(await testIds(page, 'partition-')).toEqual([
      'partition-orders-0',
      'partition-orders-1',
      'partition-orders-2',
    ]);
    let backlog = 0;
    for (const id of ['orders-0', 'orders-1', 'orders-2']) {
      const records = await textOf(page, `lag-records-${id}`);
      expect(records).toMatch(/^\d{1,3}(,\d{3})*$/);
      backlog += Number(records.replace(/,/g, ''));
      // A partition's first checkpoint may still be on its way on a loaded machine: its time lag is unknown until then.
      await waitForText(page, `lag-seconds-${id}`, /^\d+ (s|min( \d+ s)?)$/, 15_000);
      expect(await textOf(page, `owner-${id}`)).not.toBe('');
    }
    expect(backlog).toBeGreaterThan(0);
    expect(status.lagUnavailable).toBeNull();

    // A split from the page: pick 0/1 in the bar, confirm, follow the operation.
    await page.click(byTestId('segment-0/1'));
    await page.click(byTestId('split'));
    await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
    await page.click(byTestId('confirm'));
    await page.waitForSelector(`${byTestId('operation-status')}[data-status="succeeded"]`, { timeout: 15_000 });
    await page.waitForSelector(byTestId('segment-2/3'));

    expect((await testIds(page, 'segment-')).filter((id) => id !== 'segment-list')).toEqual([
      'segment-0/3',
      'segment-2/3',
      'segment-1/1',
    ]);
    const after = (await (await fetch(`${admin.url}/api/processors/orders-view/status`)).json()) as ProcessorStatus;
    expect(after.layout.segments.map((s) => s.name).sort()).toEqual(['0/3', '1/1', '2/3']);
    expect(after.layout.change).toBeNull();
    expect(after.layout.version).toBeGreaterThan(status.layout.version);
    expect(await textOf(page, 'layout-version')).toBe(`layout v${after.layout.version}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}status-page.png`, fullPage: true });
    expect(problems).toEqual([]);
  }, 20_000);
});
