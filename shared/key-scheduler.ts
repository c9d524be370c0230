import type { LimitFunction } from 'p-limit';
import { isRetriable } from './errors.js';
import { retryDelay, type RetryPolicy } from './retry-policy.js';

/** One record to run, with the key that orders it. Keys are compared as given: scope them per partition. */
export interface KeyedItem {
  readonly key: string;
  readonly offset: number;
}

/** What happened to one record. */
export type RecordOutcome =
  | { readonly status: 'done'; readonly attempts: number }
  | { readonly status: 'failed'; readonly attempts: number; readonly error: unknown }
  /** An earlier record of the same key failed: this one waits for it. */
  | { readonly status: 'blocked'; readonly blockedBy: number }
  /** Not started: the lease was lost or the invocation ran out of time. */
  | { readonly status: 'notStarted' };

/** What {@link runInKeyOrder} needs besides the records. */
export interface KeyOrderOptions<T extends KeyedItem> {
  /** Bounds how many records run at once; share one across partitions of an invocation. */
  readonly limit: LimitFunction;
  readonly retry: RetryPolicy;
  /** Runs one attempt (1-based) of a record. */
  readonly invoke: (item: T, attempt: number) => Promise<void>;
  /** Asked before every attempt: false once the lease is lost or time is short. */
  readonly canStart: (item: T) => boolean | Promise<boolean>;
  /** Asked before sleeping for a retry: whether there is time to wait this long and try again. */
  readonly hasTimeFor: (delayMs: number) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs records so that each key's records go one after another in offset order while different keys run at once,
 * up to the limit. A record that still fails after its retries (or at once, when its error is not retriable)
 * blocks the later records of its key; other keys go on. Returns one outcome per item, in the items' order.
 */
export async function runInKeyOrder<T extends KeyedItem>(
  items: readonly T[],
  options: KeyOrderOptions<T>,
): Promise<RecordOutcome[]> {
  const outcomes: RecordOutcome[] = new Array<RecordOutcome>(items.length);
  const queues = new Map<string, number[]>();
  // Queues start in order of their first offset, so low offsets (the ones a checkpoint waits for) go first.
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.offset - items[b]!.offset);
  for (const index of order) {
    const queue = queues.get(items[index]!.key);
    if (queue) queue.push(index);
    else queues.set(items[index]!.key, [index]);
  }
  const sleep = options.sleep ?? defaultSleep;

  const runKey = async (queue: number[]) => {
    for (let position = 0; position < queue.length; position++) {
      const index = queue[position]!;
      const outcome = await runRecord(items[index]!);
      outcomes[index] = outcome;
      if (outcome.status === 'done') continue;
      const rest = queue.slice(position + 1);
      for (const later of rest) {
        outcomes[later] =
          outcome.status === 'notStarted'
            ? { status: 'notStarted' }
            : { status: 'blocked', blockedBy: items[index]!.offset };
      }
      return;
    }
  };

  const runRecord = async (item: T): Promise<RecordOutcome> => {
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      const result = await options.limit(async (): Promise<RecordOutcome | undefined> => {
        if (!(await options.canStart(item))) return { status: 'notStarted' };
        try {
          await options.invoke(item, attempt);
          return { status: 'done', attempts: attempt };
        } catch (error) {
          lastError = error;
          const last = attempt >= options.retry.maxAttempts || !isRetriable(error);
          return last ? { status: 'failed', attempts: attempt, error } : undefined;
        }
      });
      if (result) return result;
      // The slot is given back while waiting, so other keys use it.
      const delay = retryDelay(options.retry, attempt, options.random);
      // No time to wait and retry: it fails now with its own error and is delivered again.
      if (!options.hasTimeFor(delay)) return { status: 'failed', attempts: attempt, error: lastError };
      if (delay > 0) await sleep(delay);
    }
  };

  await Promise.all([...queues.values()].map(runKey));
  return outcomes;
}
