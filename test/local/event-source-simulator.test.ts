import { describe, expect, it } from 'vitest';
import type { KafkaBatchResponse } from '../../shared/processing/dispatcher.js';
import type { RawKafkaEvent } from '../../shared/kafka/kafka-event.js';
import { EventSourceSimulator, TopicLog, type Invoke } from '../../local/event-source-simulator.js';

function filledLog(partitions: number, perPartition: number, timestamp = Date.now()): TopicLog {
  const log = new TopicLog('orders', partitions);
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < perPartition; i++)
      log.append(p, { timestamp, timestampType: 'CREATE_TIME', key: null, value: null, headers: [] });
  }
  return log;
}

const offsetsOf = (event: RawKafkaEvent) =>
  Object.values(event.records)
    .flat()
    .map((r) => r.offset);
const ok: KafkaBatchResponse = { batchItemFailures: [] };

describe('event source simulator', () => {
  it('delivers each partition in order, one batch at a time, in batches of at most batchSize', async () => {
    const log = filledLog(2, 25);
    const active = new Map<string, number>();
    let overlap = false;
    const seen: Array<{ partition: string; offsets: number[] }> = [];
    const invoke: Invoke = async (event) => {
      const [partition] = Object.keys(event.records);
      active.set(partition!, (active.get(partition!) ?? 0) + 1);
      if (active.get(partition!)! > 1) overlap = true;
      await new Promise((resolve) => setTimeout(resolve, 2));
      seen.push({ partition: partition!, offsets: offsetsOf(event) });
      active.set(partition!, active.get(partition!)! - 1);
      return ok;
    };
    const simulator = new EventSourceSimulator(log, invoke, { batchSize: 10, batchingWindowMs: 5 }).start();

    await simulator.finish();

    expect(overlap).toBe(false);
    for (const partition of ['orders-0', 'orders-1']) {
      const batches = seen.filter((s) => s.partition === partition).map((s) => s.offsets);
      expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
      expect(batches.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i));
    }
    expect(simulator.committedOffset(0)).toBe(25);
  });

  it('resumes a partition from its lowest reported offset', async () => {
    const log = filledLog(1, 12);
    const firsts: number[] = [];
    let failed = false;
    const invoke: Invoke = async (event) => {
      firsts.push(offsetsOf(event)[0]!);
      if (!failed) {
        failed = true;
        return {
          batchItemFailures: [
            { itemIdentifier: { partition: 'orders-0', offset: 7 } },
            { itemIdentifier: { partition: 'orders-0', offset: 4 } },
          ],
        };
      }
      return ok;
    };
    const simulator = new EventSourceSimulator(log, invoke, { batchSize: 10, batchingWindowMs: 1 }).start();

    await simulator.finish();

    expect(firsts).toEqual([0, 4]);
    expect(simulator.stats.partialFailures).toBe(1);
  });

  it('retries the whole batch on a function error and parks it in the on-failure destination once retries run out', async () => {
    const log = filledLog(1, 5);
    let calls = 0;
    const invoke: Invoke = async () => {
      calls++;
      throw new Error('boom');
    };
    const simulator = new EventSourceSimulator(log, invoke, {
      batchSize: 5,
      batchingWindowMs: 1,
      maxRetryAttempts: 2,
    }).start();

    await simulator.finish();

    expect(calls).toBe(3);
    expect(simulator.parked.map((p) => [p.topicPartition, p.fromOffset, p.toOffset, p.reason])).toEqual([
      ['orders-0', 0, 4, 'retries exhausted'],
    ]);
    expect(simulator.committedOffset(0)).toBe(5);
  });

  it('parks records older than the maximum record age without invoking the function', async () => {
    const log = filledLog(1, 3, Date.now() - 60_000);
    let calls = 0;
    const simulator = new EventSourceSimulator(log, async () => (calls++, ok), {
      batchSize: 3,
      batchingWindowMs: 1,
      maxRecordAgeMs: 1_000,
    }).start();

    await simulator.finish();

    expect(calls).toBe(0);
    expect(simulator.parked.map((p) => p.reason)).toEqual(['record too old']);
  });

  it('delivers a batch to two containers at once during a rebalance and treats a timeout as a function error', async () => {
    const log = filledLog(1, 4);
    const containers: number[] = [];
    let slow = true;
    const invoke: Invoke = async (_event, invocation) => {
      containers.push(invocation.container);
      if (slow) {
        slow = false;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return ok;
    };
    const simulator = new EventSourceSimulator(
      log,
      invoke,
      { batchSize: 4, batchingWindowMs: 1, duplicateRate: 1, timeoutMs: 30 },
      () => 0,
    ).start();

    await simulator.finish();

    expect(simulator.stats.functionErrors).toBe(1);
    expect(simulator.stats.duplicates).toBe(2);
    expect(containers).toEqual([0, 1, 0, 1]);
  });
});
