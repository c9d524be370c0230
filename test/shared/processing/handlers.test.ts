import { afterEach, describe, expect, it, vi } from 'vitest';
import { NonRetriableError } from '../../../shared/errors.js';
import { createRedriveHandler } from '../../../shared/processing/handlers.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import type { RedriveReport } from '../../../shared/dead-letters/redriver.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import { dispatch, eventOf, testDispatcher, testProcessor } from '../../support/harness.js';
import { lambdaContext } from '../../support/lambda.js';

afterEach(() => vi.restoreAllMocks());

async function parked() {
  const stores = await freshStores();
  let healed = false;
  const processor = testProcessor({
    handler: (record) => {
      if (!healed && record.offset === 0) throw new NonRetriableError('not yet');
    },
    deadLetter: { redriveBaseDelayMs: 0, redriveMaxDelayMs: 0 },
  });
  await dispatch(
    testDispatcher(processor, stores.store),
    eventOf([0, 1].map((offset) => ({ topic: 'orders', partition: 0, offset, key: 'k' }))),
  );
  return { ...stores, processor, heal: () => (healed = true) };
}

describe('the redrive Lambda handler', () => {
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
