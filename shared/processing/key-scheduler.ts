import { isRetriable, TidemarkError } from '../errors.js';
import { retryDelay, type RetryPolicy } from './retry-policy.js';

/** One record to run, with the key that orders it. Order holds between items of the same scope and key. */
export interface KeyedItem {
  /** Where keys mean something (a partition: order is only defined within one). @default '' */
  readonly scope?: string;
  readonly key: string;
  readonly offset: number;
}

/** What happened to one record. */
export type RecordOutcome =
  | { readonly status: 'done'; readonly attempts: number }
  | { readonly status: 'failed'; readonly attempts: number; readonly error: unknown }
  /** An earlier record of the same key failed: this one waits for it. */
  | { readonly status: 'blocked'; readonly blockedBy: number }
  /** Not started (the lease was lost or the invocation ran out of time), or still running when the run stopped. */
  | { readonly status: 'notStarted' };

/** A handler attempt ran past its time bound; the run stops waiting for it and its key is blocked. */
export class RecordTimeoutError extends TidemarkError {
  constructor(timeoutMs: number) {
    super(`the handler did not finish within ${timeoutMs} ms; its record is reported back, its key blocked`, {
      retriable: true,
      context: { timeoutMs },
    });
  }
}

/** What {@link runInKeyOrder} needs besides the records. */
export interface KeyOrderOptions<T extends KeyedItem> {
  /** How many records run at once, over all keys and partitions of the call. */
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  /** Attempts a record may have in this run, when fewer than `retry.maxAttempts` (it failed in earlier runs). */
  readonly maxAttempts?: (item: T) => number;
  /** Runs one attempt (1-based) of a record. */
  readonly invoke: (item: T, attempt: number) => Promise<void> | void;
  /** Asked before every attempt: false once the lease is lost or time is short. Synchronous when it can be. */
  readonly canStart: (item: T) => boolean | Promise<boolean>;
  /** Asked before sleeping for a retry: whether there is time to wait this long and try again. */
  readonly hasTimeFor: (delayMs: number) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /**
   * Longest wait for one attempt. Past it the attempt fails with a RecordTimeoutError that uses up the record's
   * attempts of this run (its call may still be running, so it is not tried again beside it) and blocks its key; if
   * the call finishes later, its outcome is ignored. @default no bound
   */
  readonly attemptTimeoutMs?: number;
  /**
   * When the run stops waiting, as `{ at, clock }` (epoch ms): records still running then end `notStarted` and the
   * run answers; their calls, if they finish later, change nothing. @default waits for every record
   */
  readonly stopWaitingAt?: { readonly at: number; readonly clock: () => number };
  /**
   * Told of every attempt that failed: its call threw, or ran past `attemptTimeoutMs` (then with a
   * RecordTimeoutError). Not told of an attempt whose result no longer counts. What it throws is ignored.
   */
  readonly onAttemptFailed?: (item: T, attempt: number, error: unknown) => void;
}

/** Why a key stopped early: what its remaining records (and any added later) get. */
type KeyEnd = (blockedBy: number) => RecordOutcome;

/** One key's records, in offset order, and how far it got. */
interface KeyQueue {
  readonly indices: number[];
  next: number;
  attempt: number;
  /** Position in the ready heap, or -1 while the key runs, waits to retry, or has nothing left. */
  heapIndex: number;
  /** Set once the key stopped early (a failure, a lost lease): records added later end the same way. */
  ended?: { readonly outcome: KeyEnd; readonly blockedBy: number };
  /** Raised when the run stops waiting for the key's running attempt: that attempt's result is then ignored. */
  generation: number;
  /** Whether an attempt of the key is in progress. */
  running: boolean;
  /** When the running attempt started (epoch ms), when attempts are bounded. */
  startedAt: number;
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
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.offset - items[b]!.offset);
  const run = new KeyOrderedRun(options);
  run.add(order.map((i) => items[i]!));
  return run.close().then((sorted) => {
    const outcomes = new Array<RecordOutcome>(items.length);
    order.forEach((itemIndex, i) => (outcomes[itemIndex] = sorted[i]!));
    return outcomes;
  });
}

/**
 * The scheduler of {@link runInKeyOrder}, taking records as they come: work starts with the first records added,
 * while later ones are still being read. Each key's records must be added in offset order (a later `add` may bring
 * more records of a key that is running or already done). `close` says nothing more will come and resolves with
 * one outcome per added record, in the order they were added.
 */
export class KeyOrderedRun<T extends KeyedItem> {
  private readonly items: T[] = [];
  private readonly outcomes: RecordOutcome[] = [];
  /** Queues by scope, then by key: two lookups, but no string built per record. */
  private readonly byScope = new Map<string, Map<string, KeyQueue>>();
  private readonly ready: KeyHeap;
  private readonly sleep: (ms: number) => Promise<void>;
  private running = 0;
  /** Keys with records not yet run (ready, running or waiting to retry). */
  private unfinishedKeys = 0;
  private closed = false;
  private stopped = false;
  private failure: unknown;
  private settle: { resolve: (outcomes: RecordOutcome[]) => void; reject: (error: unknown) => void } | undefined;
  private stopTimer: ReturnType<typeof setTimeout> | undefined;
  /** One timer for the whole run checks running attempts against attemptTimeoutMs (no timer per record). */
  private watch: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: KeyOrderOptions<T>) {
    this.ready = new KeyHeap((queue) => this.items[queue.indices[queue.next]!]!.offset);
    this.sleep = options.sleep ?? defaultSleep;
  }

  /**
   * Adds records (each key's in offset order, after any of that key added before) and starts what it can. Throws
   * if a record comes before one of its key already added, or after `close`.
   */
  add(items: readonly T[]): void {
    if (this.closed) throw new Error('KeyOrderedRun: add after close');
    for (const item of items) {
      const index = this.items.push(item) - 1;
      const scope = item.scope ?? '';
      let keys = this.byScope.get(scope);
      if (!keys) this.byScope.set(scope, (keys = new Map()));
      const queue = keys.get(item.key);
      if (!queue) {
        const created: KeyQueue = {
          indices: [index],
          next: 0,
          attempt: 1,
          heapIndex: -1,
          generation: 0,
          running: false,
          startedAt: 0,
        };
        keys.set(item.key, created);
        this.unfinishedKeys++;
        this.ready.push(created);
        continue;
      }
      const last = this.items[queue.indices[queue.indices.length - 1]!]!;
      if (item.offset < last.offset) {
        throw new Error(
          `KeyOrderedRun: offset ${item.offset} of key ${JSON.stringify(item.key)} added after offset ${last.offset}`,
        );
      }
      queue.indices.push(index);
      if (queue.ended) {
        queue.next = queue.indices.length;
        this.outcomes[index] = queue.ended.outcome(queue.ended.blockedBy);
      } else if (queue.next === queue.indices.length - 1) {
        // The key had finished everything it had (a running or waiting key is still at an earlier record): it is
        // ready again.
        this.unfinishedKeys++;
        this.ready.push(queue);
      } else if (queue.heapIndex !== -1) {
        this.ready.raised(queue);
      }
    }
    this.pump();
  }

  /**
   * Starts nothing more: every record not started ends `notStarted` (including records of a key waiting to retry).
   * Resolves, like `close`, once the records running now have finished.
   */
  abandon(): Promise<RecordOutcome[]> {
    this.stopped = true;
    return this.close();
  }

  /** No more records will be added: resolves once every added record has an outcome. */
  close(): Promise<RecordOutcome[]> {
    this.closed = true;
    const done = new Promise<RecordOutcome[]>((resolve, reject) => (this.settle = { resolve, reject }));
    const stop = this.options.stopWaitingAt;
    if (stop && !this.stopTimer) {
      this.stopTimer = setTimeout(() => this.stopWaiting(), Math.max(0, stop.at - stop.clock()));
    }
    this.pump();
    return done.finally(() => {
      clearTimeout(this.stopTimer);
      clearInterval(this.watch);
    });
  }

  /** Starts the run's one watchdog for attempt time bounds, if attempts are bounded. */
  private watchAttempts(): void {
    const timeoutMs = this.options.attemptTimeoutMs;
    if (timeoutMs === undefined || this.watch) return;
    // Checks often enough to stop within a tenth of the bound of it.
    this.watch = setInterval(() => this.timeOut(timeoutMs), Math.max(5, Math.floor(timeoutMs / 10)));
    this.watch.unref();
  }

  /**
   * Fails the attempts running past their bound: with all of this run's attempts (the call may still be running, so
   * it is not tried again beside itself), blocking the rest of the key. If the call finishes later, it counts for
   * nothing.
   */
  private timeOut(timeoutMs: number): void {
    const now = Date.now();
    for (const queue of this.runningQueues()) {
      if (now - queue.startedAt < timeoutMs) continue;
      const index = queue.indices[queue.next]!;
      const attempts = Math.max(queue.attempt, this.attemptsFor(this.items[index]!));
      const error = new RecordTimeoutError(timeoutMs);
      this.outcomes[index] = { status: 'failed', attempts, error };
      this.failed(this.items[index]!, queue.attempt, error);
      this.letGo(queue, (blockedBy) => ({ status: 'blocked', blockedBy }), queue.next + 1);
    }
    this.pump();
  }

  /** The run's time is up: nothing more starts, and records still running end `notStarted` now. */
  private stopWaiting(): void {
    this.stopped = true;
    for (const queue of this.runningQueues()) this.letGo(queue, () => ({ status: 'notStarted' }));
    this.pump();
  }

  /** Stops waiting for a key's running attempt: its record and the rest end with `outcome`; its result is ignored. */
  private letGo(queue: KeyQueue, outcome: KeyEnd, from = queue.next): void {
    queue.generation++;
    queue.running = false;
    this.running--;
    this.endKey(queue, from, outcome);
  }

  /**
   * Keys with an attempt in progress. Walks every key: it runs only when the run stops waiting or its watchdog fires,
   * which spares a set update on every attempt.
   */
  private runningQueues(): KeyQueue[] {
    const running: KeyQueue[] = [];
    for (const keys of this.byScope.values()) for (const queue of keys.values()) if (queue.running) running.push(queue);
    return running;
  }

  private pump(): void {
    if (this.stopped) {
      for (let queue = this.ready.pop(); queue; queue = this.ready.pop()) {
        this.endKey(queue, queue.next, () => ({ status: 'notStarted' }));
      }
    }
    while (this.running < this.options.concurrency && this.ready.size > 0) {
      this.running++;
      const queue = this.ready.pop()!;
      this.attempt(queue).catch((error: unknown) => {
        this.failure ??= error;
        this.settle?.reject(error);
      });
    }
    if (this.settle) {
      if (this.failure !== undefined) this.settle.reject(this.failure);
      else if (this.unfinishedKeys === 0) this.settle.resolve(this.outcomes);
    }
  }

  /** Ends a key from record `from` on: those records (and any added later) get `outcome`. */
  private endKey(queue: KeyQueue, from: number, outcome: KeyEnd): void {
    const blockedBy = this.items[queue.indices[from - 1] ?? queue.indices[from]!]!.offset;
    for (let i = from; i < queue.indices.length; i++) this.outcomes[queue.indices[i]!] = outcome(blockedBy);
    queue.next = queue.indices.length;
    queue.ended = { outcome, blockedBy };
    this.unfinishedKeys--;
  }

  /** Tells `onAttemptFailed`, if given, of a failed attempt; nothing it does reaches the run. */
  private failed(item: T, attempt: number, error: unknown): void {
    try {
      this.options.onAttemptFailed?.(item, attempt, error);
    } catch {
      // Observation must not change the run.
    }
  }

  /** Attempts a record may have in this run. */
  private attemptsFor(item: T): number {
    const { retry, maxAttempts } = this.options;
    return maxAttempts ? Math.min(retry.maxAttempts, maxAttempts(item)) : retry.maxAttempts;
  }

  private async attempt(queue: KeyQueue): Promise<void> {
    const { options } = this;
    const index = queue.indices[queue.next]!;
    const item = this.items[index]!;
    const allowed = options.canStart(item);
    if (!(typeof allowed === 'boolean' ? allowed : await allowed)) {
      this.running--;
      this.endKey(queue, queue.next, () => ({ status: 'notStarted' }));
      return this.pump();
    }
    let error: unknown;
    let succeeded = false;
    const generation = queue.generation;
    queue.running = true;
    queue.startedAt = options.attemptTimeoutMs === undefined ? 0 : Date.now();
    this.watchAttempts();
    try {
      await options.invoke(item, queue.attempt);
      succeeded = true;
    } catch (caught) {
      error = caught;
    }
    // The run stopped waiting for this attempt (its time ran out, or the run's): what it did no longer counts.
    if (queue.generation !== generation) return;
    queue.running = false;
    this.running--;
    if (succeeded) {
      this.outcomes[index] = { status: 'done', attempts: queue.attempt };
      queue.next++;
      queue.attempt = 1;
      if (queue.next < queue.indices.length) this.ready.push(queue);
      else this.unfinishedKeys--;
      return this.pump();
    }
    this.failed(item, queue.attempt, error);
    const delay = retryDelay(options.retry, queue.attempt, options.random);
    const last = queue.attempt >= this.attemptsFor(item) || !isRetriable(error) || !options.hasTimeFor(delay);
    if (last) {
      this.outcomes[index] = { status: 'failed', attempts: queue.attempt, error };
      this.endKey(queue, queue.next + 1, (blockedBy) => ({ status: 'blocked', blockedBy }));
      return this.pump();
    }
    // The slot is free while the key waits to retry, so other keys use it.
    this.pump();
    if (delay > 0) await this.sleep(delay);
    queue.attempt++;
    this.ready.push(queue);
    this.pump();
  }
}

/** A max-heap of ready keys: most records left first, then lowest head offset. */
class KeyHeap {
  private readonly heap: KeyQueue[] = [];

  constructor(private readonly head: (queue: KeyQueue) => number) {}

  get size(): number {
    return this.heap.length;
  }

  push(queue: KeyQueue): void {
    queue.heapIndex = this.heap.length;
    this.heap.push(queue);
    this.up(queue.heapIndex);
  }

  /** The key gained records while waiting: it may move up. */
  raised(queue: KeyQueue): void {
    this.up(queue.heapIndex);
  }

  pop(): KeyQueue | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top) top.heapIndex = -1;
    if (heap.length > 0 && last) {
      heap[0] = last;
      last.heapIndex = 0;
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < heap.length && this.before(heap[left]!, heap[best]!)) best = left;
      if (right < heap.length && this.before(heap[right]!, heap[best]!)) best = right;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private swap(i: number, j: number): void {
    const heap = this.heap;
    const a = heap[i]!;
    const b = heap[j]!;
    heap[i] = b;
    heap[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }

  private before(a: KeyQueue, b: KeyQueue): boolean {
    const byRemaining = a.indices.length - a.next - (b.indices.length - b.next);
    return byRemaining !== 0 ? byRemaining > 0 : this.head(a) < this.head(b);
  }
}
