import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { CliDependencies } from '../../cli/main.js';
import { keyDigest, SyntheticKey } from '../../shared/dead-letters/dead-letter.js';
import { NonRetriableError } from '../../shared/errors.js';
import { toRawRecord } from '../../shared/processing/fan-out.js';
import type { RawKafkaEvent } from '../../shared/kafka/kafka-event.js';
import { KafkaRecord } from '../../shared/kafka/kafka-record.js';
import { runCli } from '../support/cli.js';
import { freshStores, lettersByKey } from '../support/dead-letters.js';
import { dispatch, eventOf, testDispatcher, testProcessor } from '../support/harness.js';

const PROCESSOR = 'orders-view';
/** Bytes that are not UTF-8, so show must print them as base64. */
const BINARY = Buffer.from([0xff, 0x00, 0xfe, 0x10, 0x80, 0x7f]);

const cli = (args: string[], deps: CliDependencies = {}) => runCli(args, { deps });

/**
 * A table whose processor has, in orders-0: key "k-a" parked by a NonRetriableError at offset 1 with its later
 * records 3 (JSON) and 5 (binary value and header) parked behind it, and a malformed record at offset 4 (value not
 * base64) parked under (malformed); k-b at 0 and 2 handled. Nothing of orders-1.
 */
async function seeded() {
  const stores = await freshStores();
  const processor = testProcessor({
    name: PROCESSOR,
    handler: async (record) => {
      if (record.topicPartition === 'orders-0' && record.offset === 1)
        throw new NonRetriableError('order 1 is corrupt');
    },
  });
  const event = eventOf([
    { topic: 'orders', partition: 0, offset: 0, key: 'k-b' },
    { topic: 'orders', partition: 0, offset: 1, key: 'k-a' },
    { topic: 'orders', partition: 0, offset: 2, key: 'k-b' },
    { topic: 'orders', partition: 0, offset: 3, key: 'k-a' },
    { topic: 'orders', partition: 0, offset: 4, key: 'k-c' },
  ]) as RawKafkaEvent & { records: Record<string, Array<Record<string, unknown>>> };
  const entry = event.records['orders-0']!;
  entry[4]!.value = '!!not base64!!';
  entry.push(
    toRawRecord(
      new KafkaRecord({
        topic: 'orders',
        partition: 0,
        offset: 5,
        timestamp: 1_700_000_000_005,
        timestampType: 'CREATE_TIME',
        key: Buffer.from('k-a'),
        value: BINARY,
        headers: [{ name: 'trace', value: Buffer.from([0x01, 0xc3, 0x28]) }],
      }),
    ) as unknown as Record<string, unknown>,
  );
  const result = await dispatch(testDispatcher(processor, stores.store), event);
  expect(result.partitions[0]!.parked).toBe(4);
  expect(await lettersByKey(stores.deadLetters, PROCESSOR)).toEqual(
    new Map([
      ['orders-0/k-a', [1, 3, 5]],
      ['orders-0/(malformed)', [4]],
    ]),
  );
  return { ...stores, local: ['--table', stores.tableName, '--endpoint', inject('dynamoDbEndpoint')] };
}

describe('tidemark dead-letters against the local stack', () => {
  it('lists each parked key with its pending letters, the synthetic key and a summary', async () => {
    const { local } = await seeded();

    const { code, text } = await cli(['dead-letters', 'list', PROCESSOR, ...local]);

    expect(code).toBe(0);
    const lines = text.split('\n');
    const ka = lines.find((line) => line.includes('"k-a"'));
    expect(ka).toMatch(
      new RegExp(
        `^orders-0 "k-a" \\[digest ${keyDigest('k-a')}\\]: 3 letters pending, parked since \\d+s ago, redrive attempts 0, next attempt in (\\d+m )?\\d+s, lease free, last error: none$`,
      ),
    );
    const malformed = lines.find((line) => line.startsWith('orders-0 (malformed)'));
    expect(malformed).toContain(`[digest ${keyDigest(SyntheticKey.Malformed, true)}]: 1 letter pending`);
    expect(lines.at(-1)).toMatch(/^2 parked keys, 4 letters, oldest parked \d+s ago$/);

    const json = await cli(['dead-letters', 'list', PROCESSOR, '--json', ...local]);
    const entries = JSON.parse(json.text) as Array<{ key: string; pending: number; synthetic: boolean }>;
    expect(entries.map((e) => [e.key, e.pending, e.synthetic]).sort()).toEqual([
      ['(malformed)', 1, true],
      ['k-a', 3, false],
    ]);

    const other = await cli(['dead-letters', 'list', PROCESSOR, '--partition', 'orders-1', ...local]);
    expect(other.text).toBe('0 parked keys, 0 letters (partition orders-1)');
  });

  it('shows a key’s letters in offset order with the error, text values and base64 for binary bytes', async () => {
    const { local } = await seeded();

    const { code, text } = await cli(['dead-letters', 'show', PROCESSOR, 'orders-0', '--key', 'k-a', ...local]);

    expect(code).toBe(0);
    expect(text).toContain(`orders-0 "k-a" [digest ${keyDigest('k-a')}]: 3 letters pending`);
    const offsets = [...text.matchAll(/^ {2}offset (\d+) .* reason (\S+) {2}attempts (\d+)$/gm)].map((m) => [
      Number(m[1]),
      m[2],
      Number(m[3]),
    ]);
    expect(offsets).toEqual([
      [1, 'non-retriable', 1],
      [3, 'behind-parked', 0],
      [5, 'behind-parked', 0],
    ]);
    expect(text).toContain('error NonRetriableError: order 1 is corrupt');
    expect(text).toContain('error BehindParked: offset 1 of its key is parked');
    expect(text).toContain('key text (3 bytes): k-a');
    expect(text).toContain('value text (12 bytes): {"offset":1}');
    expect(text).toContain(`value base64 (6 bytes): ${BINARY.toString('base64')}`);
    expect(text).toContain('"trace": base64 (3 bytes): AcMo');
    expect(text).not.toContain('stack:');

    const one = await cli(['dead-letters', 'show', PROCESSOR, 'orders-0', '--key', 'k-a', '--offset', '1', ...local]);
    expect(one.code).toBe(0);
    expect(one.text).toContain('the letter at offset 1');
    expect(one.text).not.toContain('offset 3');
    expect(one.text).toMatch(/stack:\n {6}NonRetriableError: order 1 is corrupt\n {6}\s*at /);

    const limited = await cli([
      'dead-letters',
      'show',
      PROCESSOR,
      'orders-0',
      '--key',
      'k-a',
      '--limit',
      '1',
      ...local,
    ]);
    expect(limited.text).toContain('3 letters pending, the first 1 shown (raise --limit for more)');
    expect(limited.text.match(/^ {2}offset /gm)).toHaveLength(1);

    const missing = await cli([
      'dead-letters',
      'show',
      PROCESSOR,
      'orders-0',
      '--key',
      'k-a',
      '--offset',
      '2',
      ...local,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.text).toContain('no letter at offset 2');
  });

  it('shows a malformed letter with its raw entry, and every key of the partition when none is named', async () => {
    const { local } = await seeded();

    const { code, text } = await cli(['dead-letters', 'show', PROCESSOR, 'orders-0', '--key', '(malformed)', ...local]);

    expect(code).toBe(0);
    expect(text).toMatch(/^ {2}offset 4 .* reason malformed {2}attempts 0$/m);
    expect(text).toContain('error MalformedRecordError:');
    expect(text).toContain('value is not valid base64');
    expect(text).toMatch(/raw entry: .*!!not base64!!/);

    const all = await cli(['dead-letters', 'show', PROCESSOR, 'orders-0', ...local]);
    expect(all.text).toContain('orders-0 "k-a"');
    expect(all.text).toContain('orders-0 (malformed)');
    expect(all.text.match(/^ {2}offset /gm)).toHaveLength(4);
  });

  it('round-trips the bytes through show --json', async () => {
    const { local, deadLetters } = await seeded();

    const { code, text } = await cli([
      'dead-letters',
      'show',
      PROCESSOR,
      'orders-0',
      '--digest',
      keyDigest('k-a'),
      '--json',
      ...local,
    ]);

    expect(code).toBe(0);
    const letters = JSON.parse(text) as Array<{
      offset: number;
      key: string;
      value: string;
      headers: Array<{ name: string; value: string }>;
    }>;
    expect(letters.map((l) => l.offset)).toEqual([1, 3, 5]);
    const stored = await deadLetters.readLetters({
      processor: PROCESSOR,
      topic: 'orders',
      partition: 0,
      digest: keyDigest('k-a'),
    });
    for (const [i, letter] of letters.entries()) {
      expect(Buffer.from(letter.key, 'base64')).toEqual(stored[i]!.key);
      expect(Buffer.from(letter.value, 'base64')).toEqual(stored[i]!.value);
    }
    expect(Buffer.from(letters[2]!.value, 'base64')).toEqual(BINARY);
    expect(letters[2]!.headers).toEqual([{ name: 'trace', value: Buffer.from([0x01, 0xc3, 0x28]).toString('base64') }]);
  });

  it('retry makes a key due now and says the scheduled run redrives it', async () => {
    const { local, deadLetters } = await seeded();
    const before = (await deadLetters.listParkedKeys(PROCESSOR)).find((e) => e.key === 'k-a')!;
    expect(before.nextAttemptAt).toBeGreaterThan(Date.now());

    const { code, text } = await cli(['dead-letters', 'retry', PROCESSOR, 'orders-0', '--key', 'k-a', ...local]);

    expect(code).toBe(0);
    expect(text).toContain('1/1 keys due');
    expect(text).toContain("there is no redrive function; the keys are made due now and the local stack's redrive");
    const after = (await deadLetters.listParkedKeys(PROCESSOR)).find((e) => e.key === 'k-a')!;
    expect(after.nextAttemptAt).toBeLessThanOrEqual(Date.now());
    const malformed = (await deadLetters.listParkedKeys(PROCESSOR)).find((e) => e.synthetic)!;
    expect(malformed.nextAttemptAt).toBeGreaterThan(Date.now());

    const gone = await cli(['dead-letters', 'retry', PROCESSOR, 'orders-0', '--key', 'k-b', ...local]);
    expect(gone.code).toBe(1);
    expect(gone.text).toContain(
      `orders-0 "k-b" [digest ${keyDigest('k-b')}]: not parked (no letters pending), nothing to retry`,
    );
  });

  it('retry --all makes every parked key due at the given rate', async () => {
    const { local, deadLetters } = await seeded();
    const sleeps: number[] = [];

    const { code, text } = await cli(['dead-letters', 'retry', PROCESSOR, '--all', '--rate', '1000', ...local], {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });

    expect(code).toBe(0);
    expect(text).toContain('1/2 keys due');
    expect(text).toContain('2/2 keys due');
    expect(sleeps).toEqual([1]);
    const now = Date.now();
    for (const entry of await deadLetters.listParkedKeys(PROCESSOR))
      expect(entry.nextAttemptAt).toBeLessThanOrEqual(now);
  });

  it('retry --function invokes the redrive function with the keys and prints each outcome', async () => {
    const { tableName, deadLetters } = await seeded();
    const sent: unknown[] = [];
    const lambda: CliDependencies['lambda'] = {
      send: async (command) => {
        sent.push({
          name: command.input.FunctionName,
          type: command.input.InvocationType,
          payload: JSON.parse(Buffer.from(command.input.Payload as Uint8Array).toString('utf8')),
        });
        const report = {
          keys: [{ topicPartition: 'orders-0', key: 'k-a', digest: keyDigest('k-a'), redriven: 3, outcome: 'drained' }],
          redriven: 3,
          parkedKeys: -1,
          oldestParkedAgeSeconds: -1,
        };
        return { $metadata: {}, StatusCode: 200, Payload: Buffer.from(JSON.stringify(report)) } as never;
      },
    };
    // Against "AWS" (no --endpoint, so the function is invoked): the SDK finds DynamoDB Local through its
    // service endpoint variable, which it reads from process.env only.
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoDbEndpoint'),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'tidemarklocal',
      AWS_SECRET_ACCESS_KEY: 'tidemarklocal',
    });
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      run = await runCli(['dead-letters', 'retry', PROCESSOR, 'orders-0', '--key', 'k-a', '--table', tableName], {
        env: { TIDEMARK_REDRIVE_FUNCTION: 'orders-view-redrive' },
        deps: { lambda },
      });
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }

    const { code, text } = run;
    expect(code).toBe(0);
    expect(sent).toEqual([
      {
        name: 'orders-view-redrive',
        type: 'RequestResponse',
        payload: { action: 'redrive-keys', keys: [{ topicPartition: 'orders-0', digest: keyDigest('k-a') }] },
      },
    ]);
    expect(text).toContain('1/1 keys due');
    expect(text).toContain(`orders-0 "k-a" [digest ${keyDigest('k-a')}]: drained, 3 letters redriven`);
    const entry = (await deadLetters.listParkedKeys(PROCESSOR)).find((e) => e.key === 'k-a')!;
    expect(entry.nextAttemptAt).toBeLessThanOrEqual(Date.now());
  });

  it('delete needs a reason, deletes one letter with an audit item, and the pending count drops', async () => {
    const { local, deadLetters } = await seeded();

    const refused = await cli([
      'dead-letters',
      'delete',
      PROCESSOR,
      'orders-0',
      '--key',
      'k-a',
      '--offset',
      '3',
      ...local,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.first).toContain('--reason "<why>" is required');
    expect(await lettersByKey(deadLetters, PROCESSOR)).toEqual(
      new Map([
        ['orders-0/k-a', [1, 3, 5]],
        ['orders-0/(malformed)', [4]],
      ]),
    );

    const { code, text } = await cli([
      'dead-letters',
      'delete',
      PROCESSOR,
      'orders-0',
      '--key',
      'k-a',
      '--offset',
      '3',
      '--reason',
      'duplicate of order 1',
      '--by',
      'alice',
      ...local,
    ]);

    expect(code).toBe(0);
    expect(text).toContain('Deleted 1 letter of orders-0 "k-a"');
    expect(text).toContain('2 letters still pending: the key flows again once all are resolved.');
    expect((await lettersByKey(deadLetters, PROCESSOR)).get('orders-0/k-a')).toEqual([1, 5]);
    const list = await cli(['dead-letters', 'list', PROCESSOR, ...local]);
    expect(list.text).toMatch(/orders-0 "k-a" .*: 2 letters pending/);

    const audit = await cli(['dead-letters', 'audit', PROCESSOR, ...local]);
    expect(audit.code).toBe(0);
    expect(audit.text).toMatch(
      new RegExp(`^\\S+Z {2}delete-letter {2}orders-0/${keyDigest('k-a')}@3 {2}by alice: duplicate of order 1$`),
    );

    const rest = await cli([
      'dead-letters',
      'delete',
      PROCESSOR,
      'orders-0',
      '--key',
      'k-a',
      '--all',
      '--reason',
      'replayed by hand',
      ...local,
    ]);
    expect(rest.code).toBe(0);
    expect(rest.text).toContain('Deleted 2 letters');
    expect(rest.text).toContain("All its letters are resolved: the key flows again at the partition's next batch.");
    const audits = await cli(['dead-letters', 'audit', PROCESSOR, '--limit', '2', '--json', ...local]);
    const items = JSON.parse(audits.text) as Array<{ by: string; reason: string }>;
    expect(items).toHaveLength(2);
    expect(items[0]!.reason).toBe('replayed by hand');
    // Locally, --by defaults to the OS user.
    const { userInfo } = await import('node:os');
    expect(items[0]!.by).toBe(userInfo().username);
    const after = await cli(['dead-letters', 'list', PROCESSOR, ...local]);
    expect(after.text).toContain('orders-0 "k-a" [digest');
    expect(after.text).toContain("resolved (flows again at the partition's next batch)");
    expect(after.text.split('\n').at(-1)).toMatch(/^1 parked key, 1 letter, oldest parked .*; 1 resolved key waiting/);
  });

  it('delete under a live redrive lease is refused with exit 1', async () => {
    const { local, deadLetters } = await seeded();
    await deadLetters.takeLease(
      { processor: PROCESSOR, topic: 'orders', partition: 0, digest: keyDigest('k-a') },
      { owner: 'redrive-1', leaseMs: 60_000 },
    );

    const { code, errors } = await cli([
      'dead-letters',
      'delete',
      PROCESSOR,
      'orders-0',
      '--key',
      'k-a',
      '--offset',
      '1',
      '--reason',
      'x',
      ...local,
    ]);

    expect(code).toBe(1);
    expect(errors).toMatch(/^tidemark: .*cannot be deleted now: a redrive holds the key/);
    expect((await lettersByKey(deadLetters, PROCESSOR)).get('orders-0/k-a')).toEqual([1, 3, 5]);
    const list = await cli(['dead-letters', 'list', PROCESSOR, ...local]);
    expect(list.text).toMatch(/lease held by redrive-1 until \S+Z \(in (\d+m )?\d+s\)/);
  });
});
