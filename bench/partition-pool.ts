/**
 * One worker thread per partition for the scaling scenario: on Lambda each partition's batch runs in an execution
 * environment of its own, with its own event loop, so one Node event loop shared by every partition would measure
 * that loop instead. Each worker builds its partition's log, its own token store client and its own Dispatcher.
 */
import { Worker } from 'node:worker_threads';
import type { OrderReport } from './instruments/order-tracker.js';
import type { TidemarkRunResult } from './runs.js';

/** Which token store a worker opens: its own client on the shared DynamoDB Local, or a store of its own in memory. */
export type WorkerStore =
  { readonly kind: 'memory' } | { readonly kind: 'dynamodb'; readonly endpoint: string; readonly tableName: string };

/** What every worker is built from (its partition number is added per worker). */
export interface PartitionWorkerSetup {
  readonly partition: number;
  readonly records: number;
  readonly keys: number;
  readonly seed: number;
  readonly concurrency: number;
  readonly latencyMs: number;
  readonly segments: number;
  readonly store: WorkerStore;
}

/** Main thread → worker. */
export interface PartitionRunRequest {
  readonly type: 'run';
  readonly processorName: string;
  readonly batchSize: number;
  /** Deliver only the first this many records of the partition's log (a warm-up); all of them when absent. */
  readonly records?: number;
}

/** Worker → main thread: one run's result, with wall-clock start and end (ms since the epoch, sub-ms precision). */
export type PartitionWorkerMessage =
  | { readonly type: 'ready' }
  | {
      readonly type: 'done';
      readonly result: TidemarkRunResult;
      readonly order: OrderReport;
      readonly startedAt: number;
      readonly endedAt: number;
    }
  | { readonly type: 'error'; readonly message: string };

/** What a run over several partitions at once did. */
export interface PoolRun {
  readonly records: number;
  /** From the first partition's start to the last one's end. */
  readonly elapsedMs: number;
  readonly results: readonly TidemarkRunResult[];
  readonly orders: readonly OrderReport[];
}

const WORKER_URL = new URL('./partition-worker.ts', import.meta.url);

/** A worker per partition, started once and reused for every run of the scaling scenario. */
export class PartitionPool {
  private constructor(private readonly workers: readonly Worker[]) {}

  /** Starts `count` workers (partitions 0..count-1) and waits until each has built its log and store. */
  static async start(count: number, setup: Omit<PartitionWorkerSetup, 'partition'>): Promise<PartitionPool> {
    const workers = Array.from(
      { length: count },
      (_, partition) =>
        new Worker(WORKER_URL, {
          // The worker is TypeScript like the rest of the benchmark.
          execArgv: ['--import', 'tsx'],
          workerData: { ...setup, partition } satisfies PartitionWorkerSetup,
        }),
    );
    const pool = new PartitionPool(workers);
    try {
      await Promise.all(workers.map((worker) => nextMessage(worker, 'ready')));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** Runs partitions 0..count-1 at once, each its own delivery loop, and waits for all of them. */
  async run(count: number, request: Omit<PartitionRunRequest, 'type'>): Promise<PoolRun> {
    if (count > this.workers.length) throw new Error(`the pool has ${this.workers.length} workers, asked for ${count}`);
    const replies = await Promise.all(
      this.workers.slice(0, count).map((worker) => {
        const reply = nextMessage(worker, 'done');
        worker.postMessage({ type: 'run', ...request } satisfies PartitionRunRequest);
        return reply;
      }),
    );
    const startedAt = Math.min(...replies.map((r) => r.startedAt));
    const endedAt = Math.max(...replies.map((r) => r.endedAt));
    return {
      records: replies.reduce((n, r) => n + r.result.records, 0),
      elapsedMs: endedAt - startedAt,
      results: replies.map((r) => r.result),
      orders: replies.map((r) => r.order),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

/** The worker's next message, which must be of `type`; an error message or a worker crash rejects. */
function nextMessage<T extends PartitionWorkerMessage['type']>(
  worker: Worker,
  type: T,
): Promise<Extract<PartitionWorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanUp = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (message: PartitionWorkerMessage) => {
      cleanUp();
      if (message.type === type) resolve(message as Extract<PartitionWorkerMessage, { type: T }>);
      else if (message.type === 'error') reject(new Error(`partition worker: ${message.message}`));
      else reject(new Error(`partition worker: expected "${type}", got "${message.type}"`));
    };
    const onError = (error: Error) => {
      cleanUp();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanUp();
      reject(new Error(`partition worker exited with code ${code} while the benchmark waited for "${type}"`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
