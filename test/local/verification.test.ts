import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { javaStringHashCode } from '../../shared/routing/hash.js';
import { KafkaRecord } from '../../shared/kafka/kafka-record.js';
import type { DeadLetter } from '../../shared/dead-letters/dead-letter.js';
import { MemoryTokenStore } from '../../shared/tokens/memory-token-store.js';
import type { HandlerContext } from '../../shared/processing/processor.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { PartitionToken } from '../../shared/tokens/token.js';
import { runChaos } from '../../local/chaos.js';
import { Verifier } from '../../local/verification.js';

const record = (offset: number) =>
  new KafkaRecord({
    topic: 'orders',
    partition: 0,
    offset,
    timestamp: 0,
    timestampType: 'CREATE_TIME',
    key: Buffer.from('k'),
    value: null,
    headers: [],
  });
const context = (offset: number, epoch: number, segment = { id: 0, mask: 0 }): HandlerContext => ({
  processor: 'p',
  requestId: 'test-request',
  segment,
  layoutVersion: 1,
  topic: 'orders',
  partition: 0,
  offset,
  sequencingKey: 'k',
  attempt: 1,
  redrive: false,
  replay: false,
  epoch,
  deadline: 0,
  logger: silentLogger,
});
const handle = (verifier: Verifier, offset: number, epoch: number) => {
  verifier.started(record(offset), context(offset, epoch));
  verifier.finished(record(offset), context(offset, epoch));
};

describe('Verifier', () => {
  it('counts a key going backwards under one claim as an order violation, but not a replay by a newer claim', async () => {
    const verifier = new Verifier(javaStringHashCode);

    handle(verifier, 1, 1);
    handle(verifier, 2, 1);
    handle(verifier, 1, 2); // a newer claim replays what was never checkpointed
    handle(verifier, 2, 2);
    handle(verifier, 0, 2); // backwards under the same claim

    expect(verifier.summary([], []).orderViolations).toBe(1);
  });

  it('counts a call for a record the last checkpoint covers as a repeat, and a missing record as lost', async () => {
    const verifier = new Verifier(javaStringHashCode);
    const store = verifier.watch(new MemoryTokenStore());
    const claim = await store.claim({
      processor: 'p',
      topic: 'orders',
      partition: 0,
      owner: 'a',
      layoutVersion: 1,
      leaseMs: 10_000,
    });
    const token = PartitionToken.initial().advance({
      segments: [{ id: 0, mask: 0 }],
      first: 0,
      last: 4,
      unfinished: [],
      maxRanges: 10,
    }).token;
    await store.checkpoint(claim, token, { release: true, leaseMs: 10_000 });

    handle(verifier, 3, 1);
    const summary = verifier.summary(
      [0, 1, 2, 3, 4, 5].map((offset) => ({ topicPartition: 'orders-0', offset })),
      [],
    );

    expect(summary).toMatchObject({ reprocessedAfterCheckpoint: 1, lost: 5, handled: 1 });
  });

  it('ignores calls of a holder whose claim was taken over (fenced) and flags a record run in the wrong segment', async () => {
    const verifier = new Verifier(javaStringHashCode);
    const store = verifier.watch(new MemoryTokenStore({ clock: () => 0 }));
    await store.claim({ processor: 'p', topic: 'orders', partition: 0, owner: 'a', layoutVersion: 1, leaseMs: 0 });
    await store.claim({ processor: 'p', topic: 'orders', partition: 0, owner: 'b', layoutVersion: 1, leaseMs: 0 });
    const wrongSegment = { id: (javaStringHashCode('k') & 1) ^ 1, mask: 1 };

    const zombie = verifier.started(record(5), context(5, 1));
    verifier.started(record(6), context(6, 2, wrongSegment));

    expect(zombie).toBe(false);
    expect(verifier.fencedCalls).toBe(1);
    expect(verifier.summary([], []).layoutErrors).toBe(1);
  });
});

describe('Verifier with dead letters', () => {
  const redriveContext = (offset: number): HandlerContext => ({ ...context(offset, 7), redrive: true });

  it('counts a later record of a key that first succeeds before an earlier parked one is redriven as out of order', () => {
    const verifier = new Verifier(javaStringHashCode);

    handle(verifier, 4, 1); // live, while offset 2 of the key has not succeeded yet: fine on its own
    verifier.started(record(2), redriveContext(2));
    verifier.finished(record(2), redriveContext(2));

    expect(verifier.summary([], []).orderViolations).toBe(1);
  });

  it('accepts a redrive of a parked letter, counts it redriven, and a letter still parked as not lost', async () => {
    const verifier = new Verifier(javaStringHashCode);
    const store = verifier.watch(new MemoryTokenStore());
    const claim = await store.claim({
      processor: 'p',
      topic: 'orders',
      partition: 0,
      owner: 'a',
      layoutVersion: 1,
      leaseMs: 10_000,
    });
    const letter = (offset: number) => ({ topic: 'orders', partition: 0, offset }) as DeadLetter;
    await store.checkpoint(claim, claim.token, {
      release: true,
      leaseMs: 10_000,
      changes: { letters: [letter(1), letter(2)], park: [], unpark: [], failures: [], seenThrough: null, skips: [] },
    });

    verifier.started(record(1), redriveContext(1));
    verifier.finished(record(1), redriveContext(1));
    verifier.started(record(3), redriveContext(3)); // no checkpoint parked it
    const summary = verifier.summary(
      [1, 2].map((offset) => ({ topicPartition: 'orders-0', offset })),
      [],
      new Set(['orders-0@2']),
    );

    expect(summary).toMatchObject({ deadLettered: 2, redriven: 1, lost: 0, reprocessedAfterCheckpoint: 1 });
  });
});

describe('chaos (smoke)', () => {
  it('finds nothing lost, repeated after checkpoint, out of order or broken in a few randomized runs', async () => {
    const lines: string[] = [];
    const { ok, totals } = await runChaos({ endpoint: inject('dynamoDbEndpoint'), runs: 4, seed: 11 }, (line) =>
      lines.push(line),
    );

    expect(ok).toBe(true);
    expect(lines.at(-1)).toMatch(/^4 runs in \d+\.\d s$/);
    expect(totals).toMatchObject({
      runs: 4,
      lost: 0,
      reprocessedAfterCheckpoint: 0,
      orderViolations: 0,
      layoutErrors: 0,
    });
    expect(totals.records).toBeGreaterThan(0);
    expect(totals.deadLettered).toBeGreaterThan(0);
  });
});
