/**
 * The limits scenario, on the real token store: how large the items of a 1,024-segment processor grow when every
 * cell holds a failing key, and how often one container reads the layout, steady and while a drain holds it back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LayoutCoordinator } from '../../shared/coordination/layout-change.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { Dispatcher } from '../../shared/processing/dispatcher.js';
import { defineProcessor } from '../../shared/processing/processor.js';
import { InlineRunner } from '../../shared/processing/segment-runner.js';
import { defaultHash } from '../../shared/routing/hash.js';
import type { TokenStore } from '../../shared/tokens/token-store.js';
import type { ItemSizeWatch } from '../instruments/item-size-watch.js';
import { round } from '../stats.js';
import { ordersEvent } from '../workload.js';

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

/** One processor's container on partition 0 of `orders`, and the keys it is fed. */
interface Container {
  readonly name: string;
  readonly mask: number;
  readonly keys: readonly string[];
  readonly failing: ReadonlySet<string>;
  /** Dispatches `count` records from offset `from` on, cycling through `keys`. */
  readonly dispatch: (keys: readonly string[], from: number, count: number) => Promise<unknown>;
}

/**
 * A partition of a 1,024-segment processor with a failing key in every cell: batches whose every cell holds records
 * behind a failed one (so the token carries out-of-order ranges in every cell, with attempt counts beside it).
 * Records the largest items written, then the layout reads of one container while it routes batches (steady) and
 * while it holds records of a draining segment back (a split begun and not applied).
 */
export async function measureLimits(env: {
  store: TokenStore;
  watch: ItemSizeWatch;
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
  const layoutTtlMs = env.layoutTtlMs ?? 5_000;
  const container = failingContainer(env.store, segments, layoutTtlMs, env.drainWaitMs ?? 10_000);
  const size = container.keys.length * (env.recordsPerKey ?? 4);
  await env.store.initialise(container.name, segments);
  // Lambda delivers again from the lowest unfinished offset: the failing keys' first records.
  for (let i = 0; i < batches; i++) await container.dispatch(container.keys, 0, size);
  const largest = env.watch.largest();
  env.progress?.(`limits: largest partition item ${largest.partition} B, layout item ${largest.layout} B`);
  const reads = await layoutReadRates(env, container, layoutTtlMs, env.steadyMs ?? 3 * layoutTtlMs);
  const report: LimitsReport = {
    segments,
    recordsPerBatch: size,
    batches,
    largestPartitionItemBytes: Math.max(largest.partition, env.watch.largest().partition),
    largestLayoutItemBytes: env.watch.largest().layout,
    layoutReadsPerSecondPerContainer: { steady: round(reads.steady, 3), drain: round(reads.drain, 3) },
    layoutTtlMs,
  };
  env.progress?.(
    `limits: layout reads per second per container ${report.layoutReadsPerSecondPerContainer.steady} steady, ${report.layoutReadsPerSecondPerContainer.drain} during a drain`,
  );
  return report;
}

/** A container whose processor fails one key of each cell for good, and one working key per cell beside it. */
function failingContainer(store: TokenStore, segments: number, layoutTtlMs: number, drainWaitMs: number): Container {
  const name = `bench-limits-${Date.now().toString(36)}`;
  const mask = segments - 1;
  const { keys, failing } = twoKeysPerCell(mask);
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
    store,
    runner: new InlineRunner({ clock: Date.now }),
    logger: silentLogger,
    settings: { layoutTtlMs, drainWaitMs },
  });
  const dispatch = (fed: readonly string[], from: number, count: number) =>
    dispatcher.dispatch(
      ordersEvent(0, from, count, (i) => fed[i % fed.length]!),
      { remainingMs: () => 60_000 },
    );
  return { name, mask, keys, failing, dispatch };
}

/** The first keys that give every cell of the hash space two keys: the first of each cell fails. */
function twoKeysPerCell(mask: number): { keys: string[]; failing: Set<string> } {
  const failing = new Set<string>();
  const keys: string[] = [];
  const taken = new Map<number, number>();
  for (let i = 0; keys.length < 2 * (mask + 1); i++) {
    const key = `key-${i}`;
    const cell = defaultHash(key) & mask;
    const count = taken.get(cell) ?? 0;
    if (count >= 2) continue;
    taken.set(cell, count + 1);
    keys.push(key);
    if (count === 0) failing.add(key);
  }
  return { keys, failing };
}

/** Layout reads per second of the container: steady (working keys only), then with a split of cell 0 begun. */
async function layoutReadRates(
  env: { store: TokenStore; watch: ItemSizeWatch },
  container: Container,
  layoutTtlMs: number,
  steadyMs: number,
): Promise<{ steady: number; drain: number }> {
  const rate = async (work: () => Promise<unknown>, minMs: number) => {
    const before = env.watch.layoutReads();
    const started = Date.now();
    do await work();
    while (Date.now() - started < minMs);
    return (env.watch.layoutReads() - before) / ((Date.now() - started) / 1000);
  };
  const { name, mask, keys, failing } = container;
  // Steady: small batches of working keys only, for a few layout lifetimes. Offsets past the failing batches'.
  const working = keys.filter((k) => !failing.has(k));
  let offset = 1_000_000;
  const steady = await rate(async () => {
    await container.dispatch(working, offset, working.length);
    offset += working.length;
  }, steadyMs);
  // Drain: a split begun; the next batch holds records of the draining segment back and waits, re-reading the layout.
  const coordinator = new LayoutCoordinator(env.store, { settings: { layoutTtlMs } });
  const target = keys.find((k) => !failing.has(k) && (defaultHash(k) & mask) === 0)!;
  await coordinator.begin({ processor: name, operation: 'split', segment: `0/${mask}`, changeId: `${name}-split` });
  // Past the cached layout's lifetime the container sees the draining segment.
  await sleep(layoutTtlMs + 10);
  const drain = await rate(async () => {
    await container.dispatch([target], offset, 1);
    offset += 1;
  }, 0);
  return { steady, drain };
}
