import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { freshStores } from '../support/dead-letters.js';
import { dispatch, eventOf, ScriptedHandler, testDispatcher, testProcessor } from '../support/harness.js';
import { startKafkaMock, type KafkaMock } from '../support/kafka-mock.js';

// `tidemark reset` against DynamoDB Local and librdkafka's mock cluster (for the partitions' offsets and the group).

const TOPIC = 'orders';
let mock: KafkaMock;
let producer: Producer;
let startFailure: unknown;

beforeAll(async () => {
  try {
    mock = await startKafkaMock({ topics: [{ topic: TOPIC, partitions: 2 }] });
    producer = new Kafka({ clientId: 'cli-reset', brokers: mock.brokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    for (const partition of [0, 1]) {
      await producer.send({
        topic: TOPIC,
        messages: Array.from({ length: 20 }, (_, i) => ({ partition, key: `k${i}`, value: String(i) })),
      });
    }
  } catch (error) {
    startFailure = error;
  }
});

beforeEach(() => {
  if (startFailure !== undefined) throw startFailure;
});

afterAll(async () => {
  await producer?.disconnect();
  await mock?.stop();
});

/** A processor whose two partitions have handled offsets 0..19 (all Kafka has); flags naming its table and brokers. */
async function seeded() {
  const stores = await freshStores();
  const dispatcher = testDispatcher(
    testProcessor({ handler: new ScriptedHandler().for(), initialSegments: 2 }),
    stores.store,
  );
  for (const partition of [0, 1]) {
    await dispatch(
      dispatcher,
      eventOf(Array.from({ length: 20 }, (_, offset) => ({ topic: TOPIC, partition, offset, key: `k${offset}` }))),
    );
  }
  const local = [
    '--table',
    stores.tableName,
    '--endpoint',
    inject('dynamoDbEndpoint'),
    '--brokers',
    mock.brokers.join(','),
  ];
  return { ...stores, local };
}

describe('tidemark reset', () => {
  it('prints the plan per partition and changes nothing without --execute', async () => {
    const { local, store } = await seeded();
    const before = await store.readState('orders-view');

    const { code, text } = await runCli(['reset', 'orders-view', '--to', 'offset:5', ...local]);

    expect(code).toBe(0);
    expect(text.split('\n')).toEqual([
      'Reset orders-view to offset:5 (every partition, every segment; layout v1): dry run, nothing changed; --execute applies it',
      'Parked letters are kept: they stay parked and are redriven as usual (--clear-parked deletes them).',
      '  partition        from    to          records',
      '  orders-0           20 →  5           15 offsets read again',
      '  orders-1           20 →  5           15 offsets read again',
      'Total: 2 partitions, 2 to reset; 30 offsets to read again, 0 passed over',
    ]);
    expect(await store.readState('orders-view')).toEqual(before);
  });

  it('shows the scoped segments and whether parked letters are cleared', async () => {
    const { local } = await seeded();

    const segments = await runCli([
      'reset',
      'orders-view',
      '--to',
      'earliest',
      '--segments',
      '1/1',
      '--partitions',
      '1',
      ...local,
    ]);
    const clear = await runCli([
      'reset',
      'orders-view',
      '--to',
      'latest',
      '--partitions',
      'orders-0',
      '--clear-parked',
      ...local,
    ]);

    expect(segments.text).toContain('(partitions orders-1, segments 1/1; layout v1)');
    expect(segments.text).toMatch(/^ {2}orders-1 +20 → {2}0 +20 offsets read again$/m);
    expect(segments.text).toMatch(/^ {4}1\/1 +20 → {2}0 +20 offsets read again$/m);
    expect(clear.text).toContain('Parked letters of these partitions are deleted (audited).');
    expect(clear.text).toMatch(/^ {2}orders-0 +20 → {2}20 +unchanged$/m);
  });

  it('executes locally: the group and the tokens move, and the same id again does nothing', async () => {
    const { local, store } = await seeded();
    const args = [
      'reset',
      'orders-view',
      '--to',
      'earliest',
      '--execute',
      '--group',
      'cli-reset-group',
      '--id',
      'cli-reset-1',
      '--by',
      'ops',
      ...local,
    ];

    const first = await runCli(args);
    const second = await runCli(args);

    expect(first.code).toBe(0);
    expect(first.text).toContain('Running cli-reset-1 against');
    expect(first.text.split('\n').filter((line) => /^ {2}[a-z]+$/.test(line))).toEqual([
      '  disable',
      '  check',
      '  plan',
      '  move',
      '  write',
      '  enable',
    ]);
    expect(first.text).toMatch(/^Done: 2 partition\(s\) reset, 0 already reset, 0 unchanged, 0 letters cleared$/m);
    const state = await store.readState('orders-view');
    expect(state.partitions.map((p) => [p.partition, p.token.lowWatermark(), p.replay?.resetId])).toEqual([
      [0, 0, 'cli-reset-1'],
      [1, 0, 'cli-reset-1'],
    ]);
    const kafka = new Kafka({ clientId: 'cli-reset-check', brokers: mock.brokers, logLevel: logLevel.NOTHING }).admin();
    await kafka.connect();
    const [offsets] = await kafka.fetchOffsets({ groupId: 'cli-reset-group', topics: [TOPIC] });
    await kafka.disconnect();
    expect(offsets!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '0'],
      [1, '0'],
    ]);
    expect(second.code).toBe(0);
    expect(second.text).toContain('already reset by cli-reset-1');
    expect(second.text).toMatch(/^Done: 0 partition\(s\) reset, 2 already reset/m);
  });

  it('names the bad flag and what is allowed, exit 2', async () => {
    const local = ['--table', 'tokens', '--endpoint', 'http://localhost:1', '--brokers', 'localhost:9092'];
    const runs = await Promise.all(
      [
        ['reset', 'orders-view', ...local],
        ['reset', 'orders-view', '--to', 'yesterday', ...local],
        ['reset', 'orders-view', '--to', 'earliest', '--segments', '0/1', '--clear-parked', ...local],
        ['reset', 'orders-view', '--to', 'earliest', '--segments', 'zero', ...local],
        ['reset', 'orders-view', '--to', 'earliest', '--execute', ...local],
        ['reset', 'orders-view', '--to', 'earliest', '--brokers', 'nohost', '--table', 'tokens'],
        ['reset', 'orders-view', '--to', 'earliest', '--execute', '--table', 'tokens'],
        ['reset', 'orders-view', '--to', 'earliest', '--id', 'has space', ...local],
      ].map((args) => runCli(args)),
    );

    expect(runs.map((r) => [r.code, r.first])).toEqual([
      [
        2,
        'tidemark: missing --to <spec>: one of earliest, latest, an ISO date-time with a zone (2026-01-31T12:00:00Z, 2026-01-31T13:00+01:00) or a date (UTC midnight), offset:<n>, shift:<-n|+n>',
      ],
      [
        2,
        'tidemark: --to: reset spec "yesterday" is not one of the reset specs; allowed: earliest, latest, an ISO date-time with a zone (2026-01-31T12:00:00Z, 2026-01-31T13:00+01:00) or a date (UTC midnight), offset:<n>, shift:<-n|+n>',
      ],
      [
        2,
        'tidemark: --clear-parked applies to whole partitions and cannot be combined with --segments; scope by --partitions',
      ],
      [2, 'tidemark: --segments must list <id>/<mask>, e.g. 0/1, separated by commas, got "zero"'],
      [
        2,
        'tidemark: --execute with --endpoint needs --group <id>: the consumer group of the local event source (stop it first)',
      ],
      [
        2,
        'tidemark: --brokers: brokers must list "host:port" brokers separated by commas (port 1 to 65535), got "nohost"',
      ],
      [2, 'tidemark: no reset state machine: pass --state-machine <arn> or set TIDEMARK_RESET_STATE_MACHINE'],
      [2, `tidemark: --id must be 1 to 80 letters, digits, '.', '_' or '-', got "has space"`],
    ]);
    expect(runs[0]!.errors).toContain('Usage: tidemark reset <processor> --to <spec>');
  });

  it('fails in one line naming an unknown segment or partition with what exists, or an unknown processor, exit 1', async () => {
    const { local } = await seeded();

    const runs = await Promise.all(
      [
        ['reset', 'orders-view', '--to', 'earliest', '--segments', '3/3', ...local],
        ['reset', 'orders-view', '--to', 'earliest', '--partitions', 'orders-9', ...local],
        ['reset', 'nobody', '--to', 'earliest', '--topics', TOPIC, ...local],
      ].map((args) => runCli(args)),
    );

    expect(runs.map((r) => [r.code, r.first])).toEqual([
      [1, 'tidemark: segment 3/3 is not a live segment of "orders-view" (layout v1); the live segments are 0/1, 1/1'],
      [1, 'tidemark: partition orders-9 does not exist: "orders" has partitions 0, 1'],
      [
        1,
        expect.stringMatching(
          /^tidemark: processor "nobody" has no layout in the token store: initialise it first with tidemark init --processor nobody/,
        ),
      ],
    ]);
  });
});
