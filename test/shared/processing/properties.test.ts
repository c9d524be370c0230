import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LAMBDA_RETRY_ATTEMPTS } from '../../../shared/dead-letters/dead-letter-policy.js';
import type { Dispatcher } from '../../../shared/processing/dispatcher.js';
import type { TokenStore } from '../../../shared/tokens/token-store.js';
import { freshStores, lettersByKey } from '../../support/dead-letters.js';
import {
  dispatch,
  eventOf,
  ScriptedHandler,
  testDispatcher,
  testProcessor,
  type LogRecord,
} from '../../support/harness.js';

/** A random run: topic logs, failure scripts and how the event source delivers. */
interface Scenario {
  readonly partitions: number;
  readonly logs: LogRecord[][];
  readonly failures: Array<[string, number]>;
  readonly segments: number;
  readonly concurrency: number;
  /** Records parsed per turn of the event loop: small values make records start mid-parse on every batch. */
  readonly parseChunk: number;
  readonly steps: Array<{ partition: number; size: number; duplicate: boolean; rewind: number }>;
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    partitions: fc.integer({ min: 1, max: 3 }),
    lengths: fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 3, maxLength: 3 }),
    keyCount: fc.integer({ min: 1, max: 6 }),
    keySeeds: fc.array(fc.nat(), { minLength: 90, maxLength: 90 }),
    nullKeyEvery: fc.constantFrom(0, 5),
    // 100: a poison record, parked after the default 9 attempts with its key's later records.
    failureSeeds: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(1, 2, 3, 5, 100)), { maxLength: 8 }),
    segments: fc.integer({ min: 1, max: 8 }),
    concurrency: fc.integer({ min: 1, max: 8 }),
    parseChunk: fc.constantFrom(1, 2, 256),
    steps: fc.array(
      fc.record({
        partition: fc.nat(),
        size: fc.integer({ min: 1, max: 12 }),
        duplicate: fc.boolean(),
        rewind: fc.constantFrom(0, 0, 0, 3, 20),
      }),
      { minLength: 40, maxLength: 40 },
    ),
  })
  .map((s) => {
    const logs = Array.from({ length: s.partitions }, (_, partition) =>
      Array.from({ length: s.lengths[partition]! }, (_, offset): LogRecord => ({
        topic: 'orders',
        partition,
        offset,
        key:
          s.nullKeyEvery && offset % s.nullKeyEvery === 4
            ? undefined
            : `k${s.keySeeds[partition * 30 + offset]! % s.keyCount}`,
      })),
    );
    const failures = s.failureSeeds.map(([p, o, times]): [string, number] => {
      const partition = p % s.partitions;
      return [`orders-${partition}@${o % logs[partition]!.length}`, times];
    });
    return {
      partitions: s.partitions,
      logs,
      failures,
      segments: s.segments,
      concurrency: s.concurrency,
      parseChunk: s.parseChunk,
      steps: s.steps.map((step) => ({ ...step, partition: step.partition % s.partitions })),
    };
  });

/**
 * Delivers like Lambda's Kafka event source: per partition from the committed position, resuming from the
 * lowest reported offset; with rewinds (redelivery after a rebalance) and duplicate concurrent deliveries.
 */
async function run(s: Scenario, store: TokenStore, processorName: string) {
  const handler = new ScriptedHandler(s.failures);
  const dispatchers: Dispatcher[] = ['a', 'b'].map((name) =>
    testDispatcher(
      testProcessor({
        name: processorName,
        handler: handler.for(name),
        concurrency: s.concurrency,
        initialSegments: s.segments,
      }),
      store,
      { settings: { parseChunk: s.parseChunk } },
    ),
  );
  const committed = s.logs.map(() => 0);
  // Lambda's retry limit as deployed: a partition that makes no progress this many times in a row is given up on.
  const stalls = s.logs.map(() => 0);
  let gaveUp = 0;
  const steps = [...s.steps];
  // After the scripted steps, keep delivering in order until every partition is through (failures are transient).
  for (let round = 0; round < 200 && committed.some((c, p) => c < s.logs[p]!.length); round++) {
    const step = steps.shift() ?? { partition: round % s.partitions, size: 30, duplicate: false, rewind: 0 };
    const log = s.logs[step.partition]!;
    const from = Math.max(0, committed[step.partition]! - step.rewind);
    if (from >= log.length) continue;
    const batch = log.slice(from, from + step.size);
    const event = eventOf(batch);
    const results = await Promise.all(
      (step.duplicate ? dispatchers : dispatchers.slice(0, 1)).map((d, i) => dispatch(d, event, `inv-${round}-${i}`)),
    );
    // Lambda commits from the delivery it got an answer for; a duplicate's answer may win as well.
    const failure = results[0]!.response.batchItemFailures[0];
    const next = failure ? failure.itemIdentifier.offset : from + batch.length;
    stalls[step.partition] = next > from ? 0 : stalls[step.partition]! + 1;
    if (stalls[step.partition]! > DEFAULT_LAMBDA_RETRY_ATTEMPTS) {
      gaveUp++;
      stalls[step.partition] = 0;
      committed[step.partition] = from + batch.length;
    } else committed[step.partition] = next;
  }
  return { handler, committed, gaveUp };
}

describe('invariants under random batches, keys, failures and redeliveries (DynamoDB Local)', () => {
  it('loses nothing, repeats nothing checkpointed, keeps per-key order and never runs a partition twice at once', async () => {
    const { store, deadLetters } = await freshStores();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const processorName = `prop-${runs++}`;
        const { handler, committed, gaveUp } = await run(s, store, processorName);
        const all = s.logs.flat();
        const letters = await lettersByKey(deadLetters, processorName);
        const parked = [...letters].flatMap(([id, offsets]) => offsets.map((o) => `${id.split('/')[0]}@${o}`));

        // 1. No loss: every record was handled successfully or parked, and every partition is through, without
        // Lambda ever giving up on a batch.
        expect(gaveUp).toBe(0);
        expect(committed).toEqual(s.logs.map((log) => log.length));
        const successes = handler.successes();
        expect(new Set([...successes, ...parked])).toEqual(
          new Set(all.map((r) => `orders-${r.partition}@${r.offset}`)),
        );
        // 2. No repeat after checkpoint: nothing failed its checkpoint here, so each record succeeded (or was
        // parked) exactly once.
        expect(successes.length + parked.length).toBe(all.length);
        // A key's letters are its poison record and every later record of the key: an unbroken suffix.
        const poison = new Set(s.failures.filter(([, times]) => times === 100).map(([id]) => id));
        for (const [id, offsets] of letters) {
          const [topicPartition, key] = id.split('/') as [string, string];
          const ofKey = all.filter(
            (r) => `orders-${r.partition}` === topicPartition && (r.key ?? `${topicPartition}@${r.offset}`) === key,
          );
          const first = Math.min(
            ...ofKey.filter((r) => poison.has(`${topicPartition}@${r.offset}`)).map((r) => r.offset),
          );
          expect(offsets, `letters of ${id}`).toEqual(ofKey.map((r) => r.offset).filter((o) => o >= first));
        }
        // 3. Per-key order: successes of one key come in offset order; nothing of a key ran after it failed (a parked
        // record's later records are parked without running).
        const lastByKey = new Map<string, number>();
        for (const call of handler.calls) {
          const id = `${call.topicPartition}/${call.key}`;
          const previous = lastByKey.get(id);
          if (previous !== undefined) expect(call.offset, `order of ${id}`).toBeGreaterThanOrEqual(previous);
          if (call.succeeded) lastByKey.set(id, call.offset);
          else lastByKey.set(id, call.offset);
        }
        // 4. Exclusive claims: two invocations never ran records of one partition at the same time.
        expect(handler.overlap).toBeUndefined();
      }),
      { numRuns: 25, seed: 20261122, endOnFailure: true },
    );
  });
});
