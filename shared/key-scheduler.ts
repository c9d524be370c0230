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
  /** How many records run at once, over all keys and partitions of the call. */
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  /** Runs one attempt (1-based) of a record. */
  readonly invoke: (item: T, attempt: number) => Promise<void> | void;
  /** Asked before every attempt: false once the lease is lost or time is short. Synchronous when it can be. */
  readonly canStart: (item: T) => boolean | Promise<boolean>;
  /** Asked before sleeping for a retry: whether there is time to wait this long and try again. */
  readonly hasTimeFor: (delayMs: number) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** One key's records, in offset order, and how far it got. */
interface KeyQueue {
  readonly indices: number[];
  next: number;
  attempt: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs records so that each key's records go one after another in offset order while different keys run at once,
 * up to `concurrency`. A free slot goes to the ready key with the most records left (then the lowest offset): the
 * longest chain bounds the batch, so starting it first keeps the tail short. A record that still fails after its
 * retries (or at once, when its error is not retriable) blocks the later records of its key; other keys go on.
 * A key waiting to retry gives its slot back. Returns one outcome per item, in the items' order.
 */
export function runInKeyOrder<T extends KeyedItem>(
  items: readonly T[],
  options: KeyOrderOptions<T>,
): Promise<RecordOutcome[]> {
  const outcomes = new Array<RecordOutcome>(items.length);
  const byKey = new Map<string, KeyQueue>();
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.offset - items[b]!.offset);
  for (const index of order) {
    const queue = byKey.get(items[index]!.key);
    if (queue) queue.indices.push(index);
    else byKey.set(items[index]!.key, { indices: [index], next: 0, attempt: 1 });
  }
  const ready = new KeyHeap(
    (queue) => queue.indices.length - queue.next,
    (queue) => items[queue.indices[queue.next]!]!.offset,
  );
  for (const queue of byKey.values()) ready.push(queue);
  const sleep = options.sleep ?? defaultSleep;
  let running = 0;
  let unfinishedKeys = byKey.size;

  return new Promise<RecordOutcome[]>((resolve, reject) => {
    const finishKey = (queue: KeyQueue, from: number, outcome: (blockedBy: number) => RecordOutcome) => {
      const blockedBy = items[queue.indices[from - 1] ?? queue.indices[from]!]!.offset;
      for (let i = from; i < queue.indices.length; i++) outcomes[queue.indices[i]!] = outcome(blockedBy);
      queue.next = queue.indices.length;
      unfinishedKeys--;
    };
    const pump = () => {
      while (running < options.concurrency && ready.size > 0) {
        running++;
        void attempt(ready.pop()!).catch(reject);
      }
      if (unfinishedKeys === 0) resolve(outcomes);
    };
    const attempt = async (queue: KeyQueue) => {
      const index = queue.indices[queue.next]!;
      const item = items[index]!;
      const allowed = options.canStart(item);
      if (!(typeof allowed === 'boolean' ? allowed : await allowed)) {
        running--;
        finishKey(queue, queue.next, () => ({ status: 'notStarted' }));
        return pump();
      }
      let error: unknown;
      let succeeded = false;
      try {
        await options.invoke(item, queue.attempt);
        succeeded = true;
      } catch (caught) {
        error = caught;
      }
      running--;
      if (succeeded) {
        outcomes[index] = { status: 'done', attempts: queue.attempt };
        queue.next++;
        queue.attempt = 1;
        if (queue.next < queue.indices.length) ready.push(queue);
        else unfinishedKeys--;
        return pump();
      }
      const delay = retryDelay(options.retry, queue.attempt, options.random);
      const last = queue.attempt >= options.retry.maxAttempts || !isRetriable(error) || !options.hasTimeFor(delay);
      if (last) {
        outcomes[index] = { status: 'failed', attempts: queue.attempt, error };
        finishKey(queue, queue.next + 1, (blockedBy) => ({ status: 'blocked', blockedBy }));
        return pump();
      }
      // The slot is free while the key waits to retry, so other keys use it.
      pump();
      if (delay > 0) await sleep(delay);
      queue.attempt++;
      ready.push(queue);
      pump();
    };
    pump();
  });
}

/** A max-heap of ready keys: most records left first, then lowest head offset. */
class KeyHeap {
  private readonly heap: KeyQueue[] = [];

  constructor(
    private readonly remaining: (queue: KeyQueue) => number,
    private readonly head: (queue: KeyQueue) => number,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  push(queue: KeyQueue): void {
    const heap = this.heap;
    heap.push(queue);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): KeyQueue | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < heap.length && this.before(heap[left]!, heap[best]!)) best = left;
        if (right < heap.length && this.before(heap[right]!, heap[best]!)) best = right;
        if (best === i) break;
        [heap[i], heap[best]] = [heap[best]!, heap[i]!];
        i = best;
      }
    }
    return top;
  }

  private before(a: KeyQueue, b: KeyQueue): boolean {
    const byRemaining = this.remaining(a) - this.remaining(b);
    return byRemaining !== 0 ? byRemaining > 0 : this.head(a) < this.head(b);
  }
}
