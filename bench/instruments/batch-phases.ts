/** Where the wall time of a key-ordered batch goes: before, between and after its handler calls. */
import type { TokenStore } from '../../shared/tokens/token-store.js';
import { round } from '../stats.js';

/** Where a batch's wall time goes, as means in milliseconds per batch. */
export interface BatchPhaseReport {
  readonly batches: number;
  readonly totalMs: number;
  /** From the invocation's start to the first handler call: parse, layout, claim, routing, scheduling set-up. */
  readonly toFirstHandlerMs: number;
  /** From the first handler call starting to the last one ending. */
  readonly handlersMs: number;
  /** From the last handler call ending to the invocation returning: token advance and the checkpoint write. */
  readonly afterLastHandlerMs: number;
  /** Time spent in token store calls, by method (they fall inside the phases above). */
  readonly storeMs: Record<string, number>;
}

/**
 * Splits the wall time of one partition's batches into phases. Feed it one batch at a time (one partition):
 * `begin`/`end` around the invocation, `handlerStart`/`handlerEnd` from the handler, and wrap the store with
 * {@link BatchPhases.timeStore}.
 */
export class BatchPhases {
  private current: { start: number; first: number; last: number; store: Record<string, number> } | undefined;
  private readonly sums = { batches: 0, total: 0, toFirst: 0, handlers: 0, after: 0 };
  private readonly storeSums: Record<string, number> = {};

  begin(): void {
    this.current = { start: performance.now(), first: Number.NaN, last: Number.NaN, store: {} };
  }

  handlerStart(): void {
    if (this.current && Number.isNaN(this.current.first)) this.current.first = performance.now();
  }

  handlerEnd(): void {
    if (this.current) this.current.last = performance.now();
  }

  end(): void {
    const batch = this.current;
    if (!batch) return;
    const now = performance.now();
    this.sums.batches++;
    this.sums.total += now - batch.start;
    if (!Number.isNaN(batch.first)) {
      this.sums.toFirst += batch.first - batch.start;
      this.sums.handlers += batch.last - batch.first;
      this.sums.after += now - batch.last;
    }
    for (const [name, ms] of Object.entries(batch.store)) this.storeSums[name] = (this.storeSums[name] ?? 0) + ms;
    this.current = undefined;
  }

  /** Wraps a store so the time of each call counts towards the batch under way. */
  timeStore(store: TokenStore): TokenStore {
    return new Proxy(store, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const name = String(property);
        return async (...args: unknown[]) => {
          const started = performance.now();
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            if (this.current) this.current.store[name] = (this.current.store[name] ?? 0) + performance.now() - started;
          }
        };
      },
    });
  }

  report(): BatchPhaseReport {
    const n = Math.max(1, this.sums.batches);
    return {
      batches: this.sums.batches,
      totalMs: round(this.sums.total / n, 3),
      toFirstHandlerMs: round(this.sums.toFirst / n, 3),
      handlersMs: round(this.sums.handlers / n, 3),
      afterLastHandlerMs: round(this.sums.after / n, 3),
      storeMs: Object.fromEntries(Object.entries(this.storeSums).map(([name, ms]) => [name, round(ms / n, 3)])),
    };
  }
}
