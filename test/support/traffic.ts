import type { Dispatcher } from '../../shared/processing/dispatcher.js';
import type { TokenStore } from '../../shared/tokens/token-store.js';
import { dispatch, eventOf, ScriptedHandler, testDispatcher, testProcessor, type LogRecord } from './harness.js';

/**
 * A continuous stream through real dispatchers, delivered like Lambda's Kafka event source: one batch per
 * partition at a time, resuming from the first reported offset, with occasional rewinds (redelivery after a
 * rebalance) and duplicate concurrent deliveries to a second container. Runs until stopped, then delivers until
 * every partition is through.
 */
export class Traffic {
  readonly handler: ScriptedHandler;
  readonly log: LogRecord[][];
  private readonly containers: Dispatcher[];
  private readonly committed: number[];
  private running = false;
  private loops: Promise<void>[] = [];
  private seed = 7;
  batches = 0;
  /** Records handed back because their segment was draining. */
  heldBack = 0;
  /** Records held for a drain and handled once the change was applied, in the same invocation. */
  released = 0;

  constructor(
    store: TokenStore,
    private readonly options: {
      processor: string;
      partitions: number;
      keys: number;
      segments: number;
      failures?: Array<[string, number]>;
      layoutTtlMs?: number;
    },
  ) {
    this.handler = new ScriptedHandler(options.failures ?? [], { delayMs: 1 });
    this.containers = ['a', 'b'].map((name) =>
      testDispatcher(
        testProcessor({
          name: options.processor,
          handler: this.handler.for(name),
          initialSegments: options.segments,
          concurrency: 4,
        }),
        store,
        { settings: { layoutTtlMs: options.layoutTtlMs ?? 200, claimWaitMs: 2_000 } },
      ),
    );
    this.log = Array.from({ length: options.partitions }, () => []);
    this.committed = this.log.map(() => 0);
  }

  /** Starts producing and delivering. */
  start(): this {
    this.running = true;
    this.loops = this.log.map((_, partition) => this.deliver(partition));
    return this;
  }

  /** Stops producing, delivers what is left and resolves once every partition is through. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Every record produced. */
  produced(): LogRecord[] {
    return this.log.flat();
  }

  private random(): number {
    this.seed = (Math.imul(this.seed, 1_103_515_245) + 12_345) >>> 0;
    return this.seed / 2 ** 32;
  }

  private produce(partition: number, count: number): void {
    const log = this.log[partition]!;
    for (let i = 0; i < count; i++) {
      log.push({
        topic: 'orders',
        partition,
        offset: log.length,
        key: `k${Math.floor(this.random() * this.options.keys)}`,
      });
    }
  }

  private async deliver(partition: number): Promise<void> {
    const log = this.log[partition]!;
    for (let round = 0; round < 10_000; round++) {
      if (this.running) this.produce(partition, 1 + Math.floor(this.random() * 8));
      else if (this.committed[partition]! >= log.length) return;
      const rewind = this.random() < 0.05 ? Math.floor(this.random() * 10) : 0;
      const from = Math.max(0, this.committed[partition]! - rewind);
      const batch = log.slice(from, from + 10);
      if (batch.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      const duplicate = this.random() < 0.1;
      const results = await Promise.all(
        (duplicate ? this.containers : this.containers.slice(partition % 2, (partition % 2) + 1)).map((d, i) =>
          dispatch(d, eventOf(batch), `p${partition}-r${round}-${i}`),
        ),
      );
      this.batches++;
      for (const result of results)
        for (const report of result.partitions) {
          this.heldBack += report.draining;
          this.released += report.released;
        }
      const failure = results[0]!.response.batchItemFailures[0];
      this.committed[partition] = failure ? failure.itemIdentifier.offset : from + batch.length;
      // A partition whose records are held back (draining) is retried at once by Lambda; pace it a little.
      if (failure) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`partition ${partition} did not finish`);
  }
}

/** Checks invariants 1–4 over a finished run; returns a list of violations (empty when all hold). */
export function violations(traffic: Traffic): string[] {
  const problems: string[] = [];
  const produced = traffic.produced().map((r) => `orders-${r.partition}@${r.offset}`);
  const successes = traffic.handler.successes();
  const counts = new Map<string, number>();
  for (const id of successes) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const id of produced) if (!counts.has(id)) problems.push(`lost ${id}`);
  for (const [id, n] of counts) if (n > 1) problems.push(`handled ${n} times: ${id}`);
  const last = new Map<string, number>();
  for (const call of traffic.handler.calls) {
    const key = `${call.topicPartition}/${call.key}`;
    if ((last.get(key) ?? -1) > call.offset) problems.push(`order: ${key} ran ${call.offset} after ${last.get(key)}`);
    last.set(key, call.offset);
  }
  if (traffic.handler.overlap) problems.push(`two invocations ran one partition at once: ${traffic.handler.overlap}`);
  return problems;
}
