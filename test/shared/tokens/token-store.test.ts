import { describe, expect, it } from 'vitest';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { itemSize } from '../../../bench/item-size.js';
import { DynamoDbTokenStore } from '../../../shared/tokens/dynamodb-token-store.js';

import { balancedSegments, MAX_SEGMENTS } from '../../../shared/routing/layout.js';
import { LAYOUT_REPLICAS, tokenKeys } from '../../../shared/tokens/token-table.js';
import { TOKEN_MAX_BYTES, type UnfinishedRecord } from '../../../shared/tokens/token.js';
import {
  ClaimHeldError,
  ConfigurationError,
  FencedError,
  LayoutConflictError,
  LayoutError,
  StaleLayoutError,
  UnknownProcessorError,
} from '../../../shared/errors.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import { keyDigest, letterOf } from '../../../shared/dead-letters/dead-letter.js';
import { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { PartitionToken } from '../../../shared/tokens/token.js';
import type { ClaimRequest, TokenStore } from '../../../shared/tokens/token-store.js';
import { ManualClock } from '../../support/clock.js';
import { freshDynamoStore, freshTokenTable, localDynamoDb } from '../../support/dynamodb.js';
import { writeReset } from '../../support/replay.js';

const implementations: Array<[string, (clock: ManualClock) => Promise<TokenStore>]> = [
  ['DynamoDB Local', (clock) => freshDynamoStore(clock.now)],
  ['in-memory', async (clock) => new MemoryTokenStore({ clock: clock.now })],
];

const request = (overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
  processor: 'orders',
  topic: 'orders',
  partition: 0,
  owner: 'owner-a',
  layoutVersion: 1,
  leaseMs: 10_000,
  ...overrides,
});

const target = { processor: 'orders', topic: 'orders', partition: 0 };

/** Changes that change nothing but what a test sets. */
const noChanges = { letters: [], park: [], unpark: [], failures: [], seenThrough: null, skips: [] } as const;

/** A token with offsets 0..9 done, to tell a written token from the initial one. */
function tokenThrough(last: number): PartitionToken {
  return PartitionToken.initial().advance({
    segments: [{ id: 0, mask: 0 }],
    first: 0,
    last,
    unfinished: [],
    maxRanges: 10,
  }).token;
}

describe.each(implementations)('%s token store', (_name, makeStore) => {
  it('initialises a processor with balanced active segments, idempotently', async () => {
    const store = await makeStore(new ManualClock());

    const first = await store.initialise('orders', 3);
    const again = await store.initialise('orders', 3);

    expect(first).toEqual({
      processor: 'orders',
      version: 1,
      segments: [
        { id: 1, mask: 1, state: 'active' },
        { id: 0, mask: 3, state: 'active' },
        { id: 2, mask: 3, state: 'active' },
      ],
    });
    expect(again).toEqual(first);
    expect(await store.readLayout('orders')).toEqual(first);
  });

  it('refuses to initialise an existing processor with another segment count', async () => {
    const store = await makeStore(new ManualClock());
    await store.initialise('orders', 2);

    await expect(store.initialise('orders', 4)).rejects.toThrow(ConfigurationError);
    await expect(store.initialise('orders', 4)).rejects.toThrow(/already initialised with 2 segments/);
  });

  it('says a processor that was never initialised is unknown', async () => {
    const store = await makeStore(new ManualClock());

    await expect(store.readLayout('nobody')).rejects.toThrow(UnknownProcessorError);
    await expect(store.readState('nobody')).rejects.toThrow(UnknownProcessorError);
  });

  it('grants exactly one of many concurrent claims on a partition', async () => {
    const store = await makeStore(new ManualClock());

    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.claim(request({ owner: `owner-${i}` }))),
    );

    const granted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(granted).toHaveLength(1);
    expect(refused).toHaveLength(7);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ClaimHeldError);
    expect((granted[0] as PromiseFulfilledResult<{ epoch: number }>).value.epoch).toBe(1);
  });

  it('lets claims on different partitions proceed independently', async () => {
    const store = await makeStore(new ManualClock());

    const claims = await Promise.all(
      [0, 1, 2, 3].map((partition) => store.claim(request({ partition, owner: `o${partition}` }))),
    );

    expect(claims.map((c) => [c.partition, c.epoch])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
  });

  it('refuses a claim while the lease is live and grants it with a higher epoch once the lease expired', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    const first = await store.claim(request({ owner: 'a' }));

    clock.advance(9_999);
    await expect(store.claim(request({ owner: 'b' }))).rejects.toThrow(ClaimHeldError);
    clock.advance(1);
    const takeover = await store.claim(request({ owner: 'b' }));

    expect(first.epoch).toBe(1);
    expect(takeover).toMatchObject({ owner: 'b', epoch: 2, leaseUntil: clock.now() + 10_000 });
  });

  it("rejects a zombie's late checkpoint after another holder took over, leaving the token untouched", async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    const zombie = await store.claim(request({ owner: 'zombie' }));
    clock.advance(10_001);
    const successor = await store.claim(request({ owner: 'successor' }));

    const late = store.checkpoint(zombie, tokenThrough(9), { release: true, leaseMs: 10_000 });

    await expect(late).rejects.toThrow(FencedError);
    await expect(late).rejects.toThrow(/taken over by successor \(epoch 2\)/);
    await expect(store.renew(zombie, 10_000)).rejects.toThrow(FencedError);
    await store.release(successor);
    const next = await store.claim(request({ owner: 'third' }));
    expect(next.token.serialize()).toBe(PartitionToken.initial().serialize());
  });

  it('accepts a checkpoint after its lease ran out while nobody took over: the unchanged epoch proves it', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    const claim = await store.claim(request());
    clock.advance(10_000);

    await store.checkpoint(claim, tokenThrough(9), { release: true, leaseMs: 10_000 });
    const next = await store.claim(request({ owner: 'owner-b' }));

    expect(next.token.lowWatermark()).toBe(10);
    expect(next.epoch).toBe(2);
  });

  it('refuses to renew a lease that ran out, since a claimer may take over at any moment', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    const claim = await store.claim(request());
    clock.advance(10_000);

    await expect(store.renew(claim, 10_000)).rejects.toThrow(/lease ended/);
  });

  it('refuses a checkpoint and a release after a takeover, even when the lease was expired', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 1);
    const claim = await store.claim(request());
    clock.advance(10_000);
    await store.claim(request({ owner: 'owner-b' }));

    await expect(store.checkpoint(claim, tokenThrough(9), { release: true, leaseMs: 10_000 })).rejects.toThrow(
      /taken over by owner-b \(epoch 2\)/,
    );
    await store.release(claim);
    expect((await store.readState('orders')).partitions[0]).toMatchObject({ owner: 'owner-b', epoch: 2 });
  });

  it('keeps a renewed claim alive past its first lease', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    const claim = await store.claim(request());
    clock.advance(8_000);
    const renewed = await store.renew(claim, 10_000);
    clock.advance(8_000);

    await expect(store.claim(request({ owner: 'other' }))).rejects.toThrow(ClaimHeldError);
    const written = await store.checkpoint(renewed, tokenThrough(9), { release: true, leaseMs: 10_000 });
    expect(written.leaseUntil).toBe(0);
  });

  it('hands the checkpointed token to the next holder at once after a release', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    const claim = await store.claim(request({ owner: 'a' }));
    await store.checkpoint(claim, tokenThrough(9), { release: true, leaseMs: 10_000 });

    const next = await store.claim(request({ owner: 'b' }));

    expect(next.epoch).toBe(2);
    expect(next.token.serialize()).toBe(tokenThrough(9).serialize());
    expect(next.token.covers(12345, 9)).toBe(true);
    expect(next.token.covers(12345, 10)).toBe(false);
  });

  it('refuses a claim routed with a layout older than one already used for the partition', async () => {
    const store = await makeStore(new ManualClock());
    const fresh = await store.claim(request({ owner: 'a', layoutVersion: 3 }));
    await store.release(fresh);

    const stale = store.claim(request({ owner: 'b', layoutVersion: 2 }));

    await expect(stale).rejects.toThrow(StaleLayoutError);
    await expect(stale).rejects.toMatchObject({ usedVersion: 2, knownVersion: 3 });
    await expect(store.claim(request({ owner: 'b', layoutVersion: 3 }))).resolves.toMatchObject({ epoch: 2 });
  });

  it('changes the layout only from the expected version and only to a complete cover', async () => {
    const store = await makeStore(new ManualClock());
    await store.initialise('orders', 1);
    const halves = [
      { id: 0, mask: 1, state: 'active' as const },
      { id: 1, mask: 1, state: 'active' as const },
    ];

    const changed = await store.changeLayout('orders', 1, halves);

    expect(changed).toEqual({ processor: 'orders', version: 2, segments: halves });
    await expect(store.changeLayout('orders', 1, halves)).rejects.toThrow(LayoutConflictError);
    await expect(store.changeLayout('orders', 2, [halves[0]!])).rejects.toThrow(LayoutError);
    expect(await store.readLayout('orders')).toEqual(changed);
  });

  it('reads the layout with every partition it has seen, with owners, leases and tokens', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 2);
    const p0 = await store.claim(request({ partition: 0, owner: 'a' }));
    await store.checkpoint(p0, tokenThrough(41), { release: true, leaseMs: 10_000 });
    await store.claim(request({ topic: 'payments', partition: 7, owner: 'b' }));

    const state = await store.readState('orders');

    expect(state.layout.version).toBe(1);
    expect(
      state.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        owner: p.owner,
        epoch: p.epoch,
        leaseUntil: p.leaseUntil,
        low: p.token.lowWatermark(),
      })),
    ).toEqual([
      { topic: 'orders', partition: 0, owner: 'a', epoch: 1, leaseUntil: 0, low: 42 },
      { topic: 'payments', partition: 7, owner: 'b', epoch: 1, leaseUntil: clock.now() + 10_000, low: null },
    ]);
  });

  it('keeps parked keys, attempt counts and what was delivered on the partition item for the next claim', async () => {
    const clock = new ManualClock();
    const store = await makeStore(clock);
    await store.initialise('orders', 1);
    const first = await store.claim(request({ owner: 'a', batch: { first: 0, last: 9 } }));
    const letter = letterOf(
      new KafkaRecord({
        topic: 'orders',
        partition: 0,
        offset: 3,
        timestamp: 1,
        timestampType: 'CREATE_TIME',
        key: Buffer.from('k'),
        value: Buffer.from([0, 255]),
        headers: [{ name: 'h', value: Buffer.from([1, 2]) }],
      }),
      {
        processor: 'orders',
        sequencingKey: 'k',
        synthetic: false,
        reason: 'failed',
        error: { name: 'E', message: 'm' },
        attempts: 9,
        epoch: 1,
        now: clock.now(),
      },
    );
    await store.checkpoint(first, tokenThrough(9), {
      release: true,
      leaseMs: 10_000,
      changes: {
        letters: [letter],
        park: [
          {
            digest: letter.digest,
            key: 'k',
            synthetic: false,
            count: 1,
            fresh: true,
            since: 5,
            nextAttemptAt: 6,
            leaseEpoch: 0,
          },
        ],
        unpark: [],
        failures: [{ offset: 7, attempts: 2, firstFailureAt: 4 }],
        seenThrough: 9,
        skips: [],
      },
    });
    const second = await store.claim(request({ owner: 'b', batch: { first: 10, last: 12 } }));
    await store.checkpoint(second, tokenThrough(12), {
      release: true,
      leaseMs: 10_000,
      changes: {
        letters: [],
        park: [
          {
            digest: letter.digest,
            key: 'k',
            synthetic: false,
            count: 2,
            fresh: false,
            since: 5,
            nextAttemptAt: 6,
            leaseEpoch: 0,
          },
        ],
        unpark: [],
        failures: [],
        seenThrough: 12,
        skips: [],
      },
    });
    // A claim whose batch was abandoned still counts as delivered for the claim after it.
    await store.claim(request({ owner: 'c', batch: { first: 13, last: 20 } }));
    clock.advance(10_001);
    const fourth = await store.claim(request({ owner: 'd', batch: { first: 25, last: 30 } }));

    expect(second.parked.get(letter.digest)).toMatchObject({
      key: 'k',
      parked: 1,
      resolved: 0,
      since: 5,
      nextAttemptAt: 6,
    });
    expect([...second.failures.values()]).toEqual([{ offset: 7, attempts: 2, firstFailureAt: 4 }]);
    expect(second.seenThrough).toBe(9);
    expect(fourth.parked.get(letter.digest)).toMatchObject({ parked: 3 });
    expect(fourth.seenThrough).toBe(20);
    expect(fourth.failures.size).toBe(0);
    expect((await store.readState('orders')).partitions[0]!.parked).toEqual([
      expect.objectContaining({ digest: letter.digest, parked: 3, resolved: 0 }),
    ]);
  });

  it('writes the newest record time with the checkpoint and keeps it through a checkpoint that knows none', async () => {
    const store = await makeStore(new ManualClock());
    await store.initialise('orders', 1);
    const first = await store.claim(request({ owner: 'a' }));

    const written = await store.checkpoint(first, tokenThrough(9), {
      release: true,
      leaseMs: 10_000,
      changes: { ...noChanges, lastRecordAt: 1_767_225_600_123 },
    });
    const second = await store.claim(request({ owner: 'b' }));
    await store.checkpoint(second, tokenThrough(12), { release: true, leaseMs: 10_000, changes: noChanges });

    expect(first.lastRecordAt).toBeNull();
    expect(written.lastRecordAt).toBe(1_767_225_600_123);
    expect(second.lastRecordAt).toBe(1_767_225_600_123);
    expect((await store.readState('orders')).partitions[0]!.lastRecordAt).toBe(1_767_225_600_123);
  });

  it('reads the replay a reset wrote, on the claim and in the state, until a checkpoint passes it', async () => {
    const store = await makeStore(new ManualClock());
    await store.initialise('orders', 1);
    const before = await store.claim(request({ owner: 'a' }));
    await store.checkpoint(before, tokenThrough(9), { release: true, leaseMs: 10_000 });
    await writeReset(store, target, { token: tokenThrough(4), replay: { resetId: 'reset-1', token: tokenThrough(9) } });

    const during = await store.claim(request({ owner: 'b' }));
    const short = await store.checkpoint(during, tokenThrough(8), { release: true, leaseMs: 10_000 });
    const stateDuring = (await store.readState('orders')).partitions[0]!;
    const last = await store.claim(request({ owner: 'c' }));
    const passed = await store.checkpoint(last, tokenThrough(9), { release: true, leaseMs: 10_000 });
    const after = await store.claim(request({ owner: 'd' }));

    expect(before.replay).toBeNull();
    expect(during.epoch).toBe(before.epoch + 2);
    expect(during.token.lowWatermark()).toBe(5);
    expect(during.replay?.resetId).toBe('reset-1');
    expect(during.replay?.token.serialize()).toBe(tokenThrough(9).serialize());
    expect(short.replay?.resetId).toBe('reset-1');
    expect(stateDuring.replay?.token.lowWatermark()).toBe(10);
    expect(passed.replay).toBeNull();
    expect(after.replay).toBeNull();
    expect((await store.readState('orders')).partitions[0]!.replay).toBeNull();
  });

  it("fences the claim a reset took over from: the straggler's checkpoint cannot write over the reset", async () => {
    const store = await makeStore(new ManualClock());
    await store.initialise('orders', 1);
    const straggler = await store.claim(request({ owner: 'a' }));
    await writeReset(store, target, {
      token: tokenThrough(4),
      replay: { resetId: 'r', token: PartitionToken.initial() },
    });

    await expect(store.checkpoint(straggler, tokenThrough(99), { release: true, leaseMs: 10_000 })).rejects.toThrow(
      FencedError,
    );
    expect((await store.claim(request({ owner: 'b' }))).token.lowWatermark()).toBe(5);
  });
});

describe('DynamoDB token store at the limits', () => {
  const raw = () => DynamoDBDocumentClient.from(localDynamoDb());
  const getRaw = async (tableName: string, key: Record<string, string>) =>
    (
      await raw().send(
        new GetItemCommand({
          TableName: tableName,
          Key: { pk: { S: key.pk! }, sk: { S: key.sk! } },
          ConsistentRead: true,
        }),
      )
    ).Item;
  const storeOn = (tableName: string, layoutReplica?: number, clock?: ManualClock) =>
    new DynamoDbTokenStore({ tableName, client: localDynamoDb(), layoutReplica, clock: clock?.now });

  /** One batch over 1,024 cells with a key blocked in each and out-of-order ranges between its records. */
  function blockedEverywhere(cells: number, blockedPerCell: number, maxBytes?: number): PartitionToken {
    const segments = balancedSegments(cells).map((s) => ({ ...s, state: 'active' as const }));
    const last = cells * 2 * blockedPerCell - 1;
    const unfinished: UnfinishedRecord[] = [];
    for (let offset = 0; offset <= last; offset++) {
      if (offset % (2 * cells) < cells) unfinished.push({ offset, hash: offset % (2 * cells) });
    }
    return PartitionToken.initial().advance({ segments, first: 0, last, unfinished, maxRanges: 200, maxBytes }).token;
  }

  it('checkpoints a token that passes DynamoDB item limit as JSON, cut to its byte bound (refused before)', async () => {
    // Arrange: 256 cells with 200 ranges each, built without the bound (over 700 KB as JSON)
    const tableName = await freshTokenTable();
    const store = storeOn(tableName);
    await store.initialise('orders', 256);
    const claim = await store.claim(request());
    const token = blockedEverywhere(256, 200, Number.MAX_SAFE_INTEGER);

    // Act
    const written = await store.checkpoint(claim, token, { release: true, leaseMs: 10_000 });

    // Assert
    expect(token.serialize().length).toBeGreaterThan(400 * 1024);
    expect(written.token.encodedSize()).toBeLessThanOrEqual(TOKEN_MAX_BYTES);
    const item = await getRaw(tableName, tokenKeys.partition('orders', 'orders', 0));
    expect(item!.token!.B).toBeInstanceOf(Uint8Array);
    const next = await store.claim(request({ owner: 'owner-b' }));
    expect(next.token.cells).toEqual(written.token.cells);
  });

  it('keeps the partition item under 64 KB at 1,024 segments with keys blocked in every cell', async () => {
    // Arrange: a token at its bound, 500 attempt counts and 100 parked keys, the most a checkpoint keeps of each
    const tableName = await freshTokenTable();
    const store = storeOn(tableName);
    await store.initialise('orders', 1_024);
    const claim = await store.claim(
      request({ owner: `${'r'.repeat(36)}/orders-0`, batch: { first: 0, last: 409_599 } }),
    );
    const token = blockedEverywhere(1_024, 200);
    const now = 1_700_000_000_000;
    const failures = Array.from({ length: 500 }, (_, i) => ({
      offset: 1_000_000_000 + i,
      attempts: 8,
      firstFailureAt: now,
    }));
    const park = Array.from({ length: 100 }, (_, i) => ({
      digest: keyDigest(`customer-${100_000 + i}`),
      key: `customer-${100_000 + i}`,
      synthetic: false,
      count: 3,
      fresh: true,
      since: now,
      nextAttemptAt: now + 60_000,
      leaseEpoch: 0,
    }));

    // Act
    await store.checkpoint(claim, token, {
      release: true,
      leaseMs: 10_000,
      changes: { letters: [], park, unpark: [], failures, seenThrough: 409_599, skips: [] },
    });

    // Assert
    const item = await getRaw(tableName, tokenKeys.partition('orders', 'orders', 0));
    expect(token.cells).toHaveLength(1_024);
    expect(token.encodedSize()).toBeGreaterThan(TOKEN_MAX_BYTES - 64);
    expect(itemSize(item!)).toBeLessThan(64 * 1024);
  });

  it('reads a partition item written with the JSON token and writes it back binary', async () => {
    // Arrange
    const tableName = await freshTokenTable();
    const store = storeOn(tableName);
    await store.initialise('orders', 2);
    await raw().send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...tokenKeys.partition('orders', 'orders', 0),
          owner: 'old',
          epoch: 4,
          leaseUntil: 0,
          layoutVersion: 1,
          token: '[{"s":"0/1","n":10},{"s":"1/1","n":7,"d":[[9,9]]}]',
          registered: true,
          topic: 'orders',
          partition: 0,
          processor: 'orders',
        },
      }),
    );

    // Act
    const claim = await store.claim(request());
    await store.checkpoint(claim, claim.token, { release: true, leaseMs: 10_000 });

    // Assert
    expect(claim.token.covers(1, 9)).toBe(true);
    expect(claim.token.covers(1, 8)).toBe(false);
    const item = await getRaw(tableName, tokenKeys.partition('orders', 'orders', 0));
    expect(PartitionToken.decode(item!.token!.B!).cells).toEqual(claim.token.cells);
  });

  it('stores the layout compactly: 2,048 segments in one read unit (under 4 KB)', async () => {
    // Arrange
    const tableName = await freshTokenTable();

    // Act
    await storeOn(tableName).initialise('orders', MAX_SEGMENTS);

    // Assert
    const primary = await getRaw(tableName, tokenKeys.layout('orders'));
    const copy = await getRaw(tableName, tokenKeys.layoutReplica('orders', 0));
    expect(primary!.segments!.S).toHaveLength(MAX_SEGMENTS);
    expect(itemSize(primary!)).toBeLessThan(4 * 1024);
    expect(itemSize(copy!)).toBeLessThan(4 * 1024);
    expect((await storeOn(tableName, 7).readLayout('orders')).segments).toHaveLength(MAX_SEGMENTS);
  });

  it('refuses to initialise past the segment cap, naming it', async () => {
    const store = storeOn(await freshTokenTable());

    await expect(store.initialise('orders', MAX_SEGMENTS + 1)).rejects.toThrow(
      `segment count must be an integer from 1 to ${MAX_SEGMENTS}`,
    );
  });

  it('reads its own copy of the layout, and every layout write updates every copy', async () => {
    // Arrange
    const tableName = await freshTokenTable();
    const layout = await storeOn(tableName, 0).initialise('orders', 2);
    // A copy marked by hand: only the store that reads copy 5 sees the mark.
    await raw().send(
      new UpdateCommand({
        TableName: tableName,
        Key: tokenKeys.layoutReplica('orders', 5),
        UpdateExpression: 'SET #v = :v',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':v': 9 },
      }),
    );
    const marked = [
      (await storeOn(tableName, 5).readLayout('orders')).version,
      (await storeOn(tableName, 6).readLayout('orders')).version,
    ];

    // Act
    const segments = [...layout.segments.slice(1), { ...layout.segments[0]!, state: 'draining' as const }];
    await storeOn(tableName, 0).changeLayout('orders', 1, segments);

    // Assert
    expect(marked).toEqual([9, 1]);
    for (let replica = 0; replica < LAYOUT_REPLICAS; replica++) {
      const read = await storeOn(tableName, replica).readLayout('orders');
      expect({
        replica,
        version: read.version,
        draining: read.segments.filter((s) => s.state === 'draining').length,
      }).toEqual({
        replica,
        version: 2,
        draining: 1,
      });
    }
  });

  it('reads a layout written before the compact form and the copies, and copies it', async () => {
    // Arrange: the old form, a list of {id, mask, state}, and no copies
    const tableName = await freshTokenTable();
    await raw().send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...tokenKeys.layout('orders'),
          processor: 'orders',
          version: 4,
          segments: [
            { id: 0, mask: 1, state: 'active' },
            { id: 1, mask: 1, state: 'draining' },
          ],
        },
      }),
    );

    // Act
    const read = await storeOn(tableName, 3).readLayout('orders');
    const changed = await storeOn(tableName, 3).changeLayout('orders', 4, [
      { id: 0, mask: 1, state: 'active' },
      { id: 1, mask: 1, state: 'active' },
    ]);

    // Assert
    expect(read).toEqual({
      processor: 'orders',
      version: 4,
      segments: [
        { id: 0, mask: 1, state: 'active' },
        { id: 1, mask: 1, state: 'draining' },
      ],
    });
    expect(changed.version).toBe(5);
    expect((await storeOn(tableName, 3).readLayout('orders')).version).toBe(5);
    expect((await getRaw(tableName, tokenKeys.layout('orders')))!.segments!.S).toBe('11');
  });

  it('still tells a layout conflict from a missing processor through the transaction', async () => {
    const tableName = await freshTokenTable();
    const store = storeOn(tableName);
    const layout = await store.initialise('orders', 2);

    await expect(store.changeLayout('orders', 7, layout.segments)).rejects.toThrow(LayoutConflictError);
    await expect(store.changeLayout('nobody', 1, layout.segments)).rejects.toThrow(UnknownProcessorError);
  });
});
