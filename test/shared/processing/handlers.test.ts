import { afterEach, describe, expect, it, vi } from 'vitest';
import { NonRetriableError } from '../../../shared/errors.js';
import { createDispatchHandler, createRedriveHandler } from '../../../shared/processing/handlers.js';
import type { HandlerContext } from '../../../shared/processing/processor.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import type { RedriveReport } from '../../../shared/dead-letters/redriver.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import { dispatch, eventOf, testDispatcher, testProcessor } from '../../support/harness.js';
import { lambdaContext } from '../../support/lambda.js';

afterEach(() => vi.restoreAllMocks());

async function parked() {
  const stores = await freshStores();
  let healed = false;
  const contexts: HandlerContext[] = [];
  const processor = testProcessor({
    handler: (record, context) => {
      contexts.push(context);
      if (!healed && record.offset === 0) throw new NonRetriableError('not yet');
    },
    deadLetter: { redriveBaseDelayMs: 0, redriveMaxDelayMs: 0 },
  });
  await dispatch(
    testDispatcher(processor, stores.store),
    eventOf([0, 1].map((offset) => ({ topic: 'orders', partition: 0, offset, key: 'k' }))),
  );
  return { ...stores, processor, contexts, heal: () => (healed = true) };
}

describe('the dispatch Lambda handler', () => {
  it("tells inline handlers the dispatch invocation's request id", async () => {
    const seen: string[] = [];
    const processor = testProcessor({
      handler: (_record, context: HandlerContext) => void seen.push(context.requestId),
    });
    const handler = createDispatchHandler(processor, {
      store: new MemoryTokenStore(),
      logger: silentLogger,
      metrics: false,
    });

    await handler(
      eventOf([0, 1, 2].map((offset) => ({ topic: 'orders', partition: 0, offset, key: `k${offset}` }))),
      lambdaContext(60_000, 'first'),
    );
    await handler(eventOf([{ topic: 'orders', partition: 1, offset: 0, key: 'k' }]), lambdaContext(60_000, 'second'));

    expect(seen).toEqual(['first', 'first', 'first', 'second']);
  });
});

describe('the redrive Lambda handler', () => {
  it("tells the handler it redrives with the redrive invocation's request id", async () => {
    const { store, deadLetters, processor, heal, contexts } = await parked();
    heal();
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger, metrics: false });
    contexts.length = 0;

    await handler(
      { action: 'redrive-keys', keys: [{ topicPartition: 'orders-0', key: 'k' }] },
      lambdaContext(60_000, 'redrive-1'),
    );

    expect(contexts.map((c) => [c.offset, c.redrive, c.requestId])).toEqual([
      [0, true, 'redrive-1'],
      [1, true, 'redrive-1'],
    ]);
  });

  it('redrives the keys it is named, by partition and key', async () => {
    const { store, deadLetters, processor, heal } = await parked();
    heal();
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger, metrics: false });

    const report = (await handler(
      { action: 'redrive-keys', keys: [{ topicPartition: 'orders-0', key: 'k' }] },
      lambdaContext(),
    )) as RedriveReport;

    expect(report).toMatchObject({ redriven: 2, keys: [{ topicPartition: 'orders-0', key: 'k', outcome: 'drained' }] });
    expect(report.parkedKeys).toBeUndefined();
    expect(await lettersByKey(deadLetters, 'orders-view')).toEqual(new Map());
  });

  it('on the schedule, redrives what is due and prints the dead-letter gauges as EMF', async () => {
    const { store, deadLetters, processor } = await parked();
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger });

    const report = (await handler({ action: 'redrive-due' }, lambdaContext())) as RedriveReport;

    expect(report).toMatchObject({ redriven: 0, parkedKeys: 1, keys: [{ outcome: 'failed' }] });
    const metrics = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => '_aws' in l);
    expect(metrics).toMatchObject({ Processor: 'orders-view', ParkedKeys: 1, RecordsRedriven: 0 });
    expect(typeof metrics!.OldestParkedAgeSeconds).toBe('number');
  });

  it('refuses a key named by a partition that is not one', async () => {
    const { store, deadLetters, processor } = await parked();
    const handler = createRedriveHandler(processor, { store, deadLetters, logger: silentLogger, metrics: false });

    await expect(
      handler({ action: 'redrive-keys', keys: [{ topicPartition: 'orders', key: 'k' }] }, lambdaContext()),
    ).rejects.toThrow('"orders" is not a partition: use <topic>-<partition>, e.g. orders-3');
  });
});
