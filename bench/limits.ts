import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dispatcher } from '../shared/processing/dispatcher.js';
import { toRawRecord } from '../shared/processing/fan-out.js';
import { defaultHash } from '../shared/routing/hash.js';
import type { RawKafkaEvent } from '../shared/kafka/kafka-event.js';
import { KafkaRecord } from '../shared/kafka/kafka-record.js';
import { LayoutCoordinator } from '../shared/coordination/layout-change.js';
import { silentLogger } from '../shared/observability/logger.js';
import { defineProcessor } from '../shared/processing/processor.js';
import { InlineRunner } from '../shared/processing/segment-runner.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import { round } from './instruments.js';
import { documentSize } from './item-size.js';

/** The sizes and read rates that meet DynamoDB's limits, measured on the real token store. */
export interface LimitsReport {
  readonly segments: number;
  readonly recordsPerBatch: number;
  readonly batches: number;
  /** The largest partition item written (bytes, as DynamoDB counts them; its limit is 400 KB). */
  readonly largestPartitionItemBytes: number;
  /** The largest layout item (or copy of it) written or read (bytes). */
  readonly largestLayoutItemBytes: number;
  /** Layout reads one container (dispatcher) sends per second: between changes, and while it waits on a drain. */
  readonly layoutReadsPerSecondPerContainer: { readonly steady: number; readonly drain: number };
  readonly layoutTtlMs: number;
}

/**
 * Watches a client's requests: the size of every partition item and layout item written or read, and the layout
 * reads. Checkpoints send no return values, so this asks for the item as written (ALL_NEW) to measure it.
 */
export function watchItemSizes(client: DynamoDBClient) {
  const state = { partition: 0, layout: 0, layoutReads: 0 };
  type Item = Record<string, unknown>;
  const sk = (key: unknown) => String((key as Item | undefined)?.sk ?? '');
  const measure = (kind: string, item: Item | undefined) => {
    if (!item) return;
    if (kind === 'TOKEN') state.partition = Math.max(state.partition, documentSize(item));
    if (kind === 'LAYOUT') state.layout = Math.max(state.layout, documentSize(item));
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context as { commandName?: string }).commandName ?? '';
      const input = args.input as Record<string, unknown>;
      const transacts = (input.TransactItems ?? []) as Array<Record<string, { Item?: Item }>>;
      for (const entry of transacts) if (entry.Put?.Item) measure(sk(entry.Put.Item), entry.Put.Item);
      if (input.Item) measure(sk(input.Item), input.Item as Item);
      if (/^Update/.test(operation) && sk(input.Key) === 'TOKEN' && input.ReturnValues === undefined) {
        input.ReturnValues = 'ALL_NEW';
      }
      if (/^Get/.test(operation) && sk(input.Key) === 'LAYOUT') state.layoutReads++;
      const result = await next(args);
      const output = result.output as { Item?: Item; Attributes?: Item };
      if (/^Get/.test(operation)) measure(sk(input.Key), output.Item);
      if (/^Update/.test(operation)) measure(sk(input.Key), output.Attributes);
      return result;
    },
    // Before the request is serialized, so the return values asked for are sent; items are in document form here.
    { step: 'serialize', priority: 'high', name: 'tidemarkBenchItemSizes', override: true },
  );
  return {
    largest: () => ({ partition: state.partition, layout: state.layout }),
    layoutReads: () => state.layoutReads,
  };
}

/**
 * A partition of a 1,024-segment processor with a failing key in every cell: batches whose every cell holds records
 * behind a failed one (so the token carries out-of-order ranges in every cell, with attempt counts beside it).
 * Records the largest items written, then the layout reads of one container while it routes batches (steady) and
 * while it holds records of a draining segment back (a split begun and not applied).
 */
export async function measureLimits(env: {
  store: TokenStore;
  watch: ReturnType<typeof watchItemSizes>;
  progress?: (message: string) => void;
  segments?: number;
  batches?: number;
  recordsPerKey?: number;
  layoutTtlMs?: number;
  steadyMs?: number;
  drainWaitMs?: number;
}): Promise<LimitsReport> {
  const segments = env.segments ?? 1_024;
  const batches = env.batches ?? 3;
  const perKey = env.recordsPerKey ?? 4;
  const layoutTtlMs = env.layoutTtlMs ?? 5_000;
  const name = `bench-limits-${Date.now().toString(36)}`;
  const mask = segments - 1;
  // One failing and one working key per cell.
  const failing = new Set<string>();
  const keys: string[] = [];
  const taken = new Map<number, number>();
  for (let i = 0; keys.length < 2 * segments; i++) {
    const key = `key-${i}`;
    const cell = defaultHash(key) & mask;
    const count = taken.get(cell) ?? 0;
    if (count >= 2) continue;
    taken.set(cell, count + 1);
    keys.push(key);
    if (count === 0) failing.add(key);
  }
  const processor = defineProcessor({
    name,
    topics: ['orders'],
    concurrency: 256,
    initialSegments: segments,
    retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
    handler: (record) => {
      if (failing.has(record.keyText() ?? '')) throw new Error('bench: failing key');
    },
  });
  const dispatcher = new Dispatcher({
    processor,
    store: env.store,
    runner: new InlineRunner({ clock: Date.now }),
    logger: silentLogger,
    settings: { layoutTtlMs, drainWaitMs: env.drainWaitMs ?? 10_000 },
  });
  const size = keys.length * perKey;
  const run = (from: number) => dispatcher.dispatch(eventOf(keys, from, size), { remainingMs: () => 60_000 });
  await env.store.initialise(name, segments);
  // Lambda delivers again from the lowest unfinished offset: the failing keys' first records.
  for (let i = 0; i < batches; i++) await run(0);
  const largest = env.watch.largest();
  env.progress?.(`limits: largest partition item ${largest.partition} B, layout item ${largest.layout} B`);

  const rate = async (work: () => Promise<unknown>, minMs: number) => {
    const before = env.watch.layoutReads();
    const started = Date.now();
    do await work();
    while (Date.now() - started < minMs);
    return (env.watch.layoutReads() - before) / ((Date.now() - started) / 1000);
  };
  // Steady: small batches of working keys only, for a few layout lifetimes.
  const working = keys.filter((k) => !failing.has(k));
  let offset = 1_000_000;
  const steady = await rate(
    async () => {
      await dispatcher.dispatch(eventOf(working, offset, working.length), { remainingMs: () => 60_000 });
      offset += working.length;
    },
    env.steadyMs ?? 3 * layoutTtlMs,
  );
  // Drain: a split begun; the next batch holds records of the draining segment back and waits, re-reading the layout.
  const coordinator = new LayoutCoordinator(env.store, { settings: { layoutTtlMs } });
  const target = keys.find((k) => !failing.has(k) && (defaultHash(k) & mask) === 0)!;
  await coordinator.begin({ processor: name, operation: 'split', segment: `0/${mask}`, changeId: `${name}-split` });
  // Past the cached layout's lifetime the container sees the draining segment.
  await sleep(layoutTtlMs + 10);
  const drain = await rate(async () => {
    await dispatcher.dispatch(eventOf([target], offset, 1), { remainingMs: () => 60_000 });
    offset += 1;
  }, 0);
  const report: LimitsReport = {
    segments,
    recordsPerBatch: size,
    batches,
    largestPartitionItemBytes: Math.max(largest.partition, env.watch.largest().partition),
    largestLayoutItemBytes: env.watch.largest().layout,
    layoutReadsPerSecondPerContainer: { steady: round(steady, 3), drain: round(drain, 3) },
    layoutTtlMs,
  };
  env.progress?.(
    `limits: layout reads per second per container ${report.layoutReadsPerSecondPerContainer.steady} steady, ${report.layoutReadsPerSecondPerContainer.drain} during a drain`,
  );
  return report;
}

/** One partition's records `[from, from + count)`, cycling through `keys`. */
function eventOf(keys: readonly string[], from: number, count: number): RawKafkaEvent {
  const records = Array.from({ length: count }, (_, i) =>
    toRawRecord(
      new KafkaRecord({
        topic: 'orders',
        partition: 0,
        offset: from + i,
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key: Buffer.from(keys[i % keys.length]!),
        value: Buffer.from('{"type":"OrderUpdated"}'),
        headers: [],
      }),
    ),
  );
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/bench/abc',
    bootstrapServers: 'b-1.bench:9098',
    records: { 'orders-0': records },
  };
}
