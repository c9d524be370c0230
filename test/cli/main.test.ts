import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { main } from '../../cli/main.js';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { PartitionToken } from '../../shared/tokens/token.js';
import { freshTokenTable, localDynamoDb } from '../support/dynamodb.js';

async function cli(args: string[]) {
  const lines: string[] = [];
  const code = await main(args, {}, (line) => lines.push(line));
  return { code, text: lines.join('\n') };
}

async function seeded(segments: number) {
  const table = await freshTokenTable();
  const store = new DynamoDbTokenStore({ tableName: table, client: localDynamoDb() });
  await store.initialise('orders-view', segments);
  return { table, store, local: ['--table', table, '--endpoint', inject('dynamoDbEndpoint')] };
}

describe('tidemark CLI against the local stack', () => {
  it('prints segments, masks, positions per partition and owners', async () => {
    const { store, local } = await seeded(2);
    const claim = await store.claim({
      processor: 'orders-view',
      topic: 'orders',
      partition: 1,
      owner: 'inv-7/orders-1',
      layoutVersion: 1,
      leaseMs: 30_000,
    });
    const token = PartitionToken.initial().advance({
      segments: [
        { id: 0, mask: 1 },
        { id: 1, mask: 1 },
      ],
      first: 0,
      last: 41,
      unfinished: [{ offset: 17, hash: 0 }],
      maxRanges: 10,
    }).token;
    await store.checkpoint(claim, token, { release: false, leaseMs: 30_000 });

    const { code, text } = await cli(['status', 'orders-view', ...local]);

    expect(code).toBe(0);
    expect(text).toContain('Processor orders-view: layout v1, 2 segment(s)');
    expect(text).toMatch(
      /orders-1: claimed by inv-7\/orders-1 \(epoch 1\), lease ends in (29|30)s, routed with layout v1/,
    );
    expect(text).toContain('0/1       active   orders-1=17 +24');
    expect(text).toContain('1/1       active   orders-1=42');
  });

  it('splits a segment by running the synthesized state machine in-process', async () => {
    const { store, local } = await seeded(2);

    const { code, text } = await cli(['split', 'orders-view', '1/1', ...local, '--layout-ttl-ms', '100']);

    expect(code).toBe(0);
    expect(text).toContain('Running orders-view-split-1-1-v1 locally');
    expect(text).toContain('Done: applied, layout v3');
    expect((await store.readLayout('orders-view')).segments.map((s) => `${s.id}/${s.mask}`)).toEqual([
      '0/1',
      '1/3',
      '3/3',
    ]);
  });

  it('refuses a merge whose sibling is split further, before starting anything', async () => {
    const { store, local } = await seeded(3);

    await expect(cli(['merge', 'orders-view', '1/1', ...local])).rejects.toThrow(
      'cannot merge 1/1: its sibling 0/1 is split further (0/3, 2/3); merge those first',
    );
    expect((await store.readLayout('orders-view')).version).toBe(1);
  });

  it('names unknown processors and segments, and splits past the maximum depth', async () => {
    const { local } = await seeded(1);

    await expect(cli(['status', 'nobody', ...local])).rejects.toThrow(
      'processor "nobody" has no layout in the token store',
    );
    await expect(cli(['split', 'orders-view', '1/1', ...local])).rejects.toThrow(
      'processor "orders-view" has no segment 1/1; its segments are 0/0',
    );
    await expect(cli(['split', 'orders-view', '0/65535', ...local])).rejects.toThrow(/no segment 0\/65535/);
    await expect(cli(['split', 'orders-view', '0/131071', ...local])).rejects.toThrow(
      /mask must be 2\^d-1 with d <= 16/,
    );
  });

  it('explains its usage when the command is incomplete', async () => {
    const { code, text } = await cli(['merge', 'orders-view']);

    expect(code).toBe(2);
    expect(text.split('\n')[0]).toBe('tidemark: missing <segment>');
    expect(text).toContain('Usage: tidemark merge <processor> <segment>');
    expect(text).toContain('--state-machine <arn>');
  });
});
