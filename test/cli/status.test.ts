import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { NonRetriableError } from '../../shared/errors.js';
import { runCli } from '../support/cli.js';
import { freshStores } from '../support/dead-letters.js';
import { dispatch, eventOf, testDispatcher, testProcessor, type LogRecord } from '../support/harness.js';

const cli = (args: string[]) => runCli(args);

const records = (partition: number, offsets: number[], key: (offset: number) => string): LogRecord[] =>
  offsets.map((offset) => ({ topic: 'orders', partition, offset, key: key(offset) }));

/**
 * orders-0: twelve keys parked at once (NonRetriableError). orders-1: a batch [0..4] whose record 2 fails without
 * being parked (afterAttempts is high), then a batch starting at 10: the event source moved past 2, which was
 * delivered and not done. Offsets 5..9 were never delivered, so they may not exist and are no skip.
 */
async function seeded() {
  const stores = await freshStores();
  const processor = testProcessor({
    deadLetter: { afterAttempts: 50 },
    handler: async (record) => {
      if (record.topicPartition === 'orders-0') throw new NonRetriableError(`cannot handle ${record.offset}`);
      if (record.offset === 2) throw new Error('downstream unavailable');
    },
  });
  const dispatcher = testDispatcher(processor, stores.store);
  const offsets = [...Array(12).keys()];
  const parked = await dispatch(dispatcher, eventOf(records(0, offsets, (o) => `p${o}`)), 'inv-park');
  expect(parked.partitions[0]!.parked).toBe(12);
  const first = await dispatch(dispatcher, eventOf(records(1, [0, 1, 2, 3, 4], (o) => `k${o}`)), 'inv-first');
  expect(first.partitions[0]).toMatchObject({ parked: 0, redeliverFrom: 2 });
  const later = await dispatch(dispatcher, eventOf(records(1, [10, 11, 12], (o) => `k${o}`)), 'inv-later');
  expect(later.partitions[0]!.skippedBySource).toBe(1);
  return { ...stores, local: ['--table', stores.tableName, '--endpoint', inject('dynamoDbEndpoint')] };
}

describe('tidemark status with dead letters', () => {
  it('shows parked keys per partition (ten named, then a count) and the ranges the event source skipped', async () => {
    const { local } = await seeded();

    const { code, text } = await cli(['status', 'orders-view', ...local]);

    expect(code).toBe(0);
    expect(text).toMatch(/^ {2}orders-0: 12 parked keys, 12 letters pending, oldest parked \d+s ago$/m);
    const named = /^ {4}(.*)$/m.exec(text.slice(text.indexOf('  orders-0: 12 parked keys')))![1]!;
    expect(named.split(', ')).toHaveLength(10);
    expect(named).toMatch(/^"p\d+" \(1\)/);
    expect(named).toMatch(/ …and 2 more$/);
    expect(text).not.toMatch(/^ {2}orders-1: \d+ parked key/m);
    const skipped = text.slice(
      text.indexOf(
        'Skipped by the event source (Lambda gave up on these offsets; they are in the on-failure destination):',
      ),
    );
    expect(skipped).toMatch(/^ {2}orders-1: offsets 2–2 \(1 offset\), \S+Z \(\d+s ago\), request inv-later$/m);
    // The partitions come first, the segments after the dead letters.
    expect(text.indexOf('Partitions:')).toBeLessThan(text.indexOf('Parked keys'));
    expect(text.indexOf('Skipped by the event source')).toBeLessThan(text.indexOf('Segments'));
  });

  it('adds parkedKeys and skips to status --json', async () => {
    const { local } = await seeded();

    const { code, text } = await cli(['status', 'orders-view', '--json', ...local]);

    expect(code).toBe(0);
    const state = JSON.parse(text) as {
      parkedKeys: Array<{ topic: string; partition: number; key: string; parked: number; resolved: number }>;
      skips: Array<{ topic: string; partition: number; from: number; to: number; requestId: string }>;
    };
    expect(state.parkedKeys.map((k) => k.key).sort()).toEqual([...Array(12).keys()].map((o) => `p${o}`).sort());
    expect(state.parkedKeys.every((k) => k.topic === 'orders' && k.partition === 0 && k.parked === 1)).toBe(true);
    expect(state.skips).toEqual([
      expect.objectContaining({ topic: 'orders', partition: 1, from: 2, to: 2, requestId: 'inv-later' }),
    ]);
  });

  it('says so when nothing is parked or skipped', async () => {
    const stores = await freshStores();
    await stores.store.initialise('orders-view', 2);

    const { code, text } = await cli([
      'status',
      'orders-view',
      '--table',
      stores.tableName,
      '--endpoint',
      inject('dynamoDbEndpoint'),
    ]);

    expect(code).toBe(0);
    expect(text).toMatch(/Parked keys \(.*\):\n {2}\(none\)/);
    expect(text).toMatch(/on-failure destination\):\n {2}\(none\)/);
  });
});
