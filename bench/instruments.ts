/**
 * What the benchmark measures from the outside: the order handlers started in, their real latency, and the
 * requests the token store made (per TokenStore call, and per DynamoDB request when the store is on DynamoDB).
 */
import { readFileSync } from 'node:fs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TokenStore } from '../shared/tokens/token-store.js';
import type { PartitionLog } from './workload.js';

/** Order observations: how many handler starts broke per-key offset order. */
export interface OrderReport {
  readonly started: number;
  /** Starts whose offset is below an offset of the same key that had already started. */
  readonly startInversions: number;
  /** Starts while an earlier-started record of the same key was still running. */
  readonly overlaps: number;
  /** Starts that were an inversion, an overlap or both: each counted once. */
  readonly violations: number;
}

/** Per partition: each offset's key as a small number, and the state of every key. */
interface PartitionOrder {
  readonly keyOf: Int32Array;
  readonly maxStarted: Float64Array;
  readonly running: Int32Array;
}

const keyIdCache = new WeakMap<PartitionLog, { keyOf: Int32Array; count: number }>();

/** Numbers the keys of a log once: the tracker then indexes arrays instead of hashing strings per call. */
function keyIds(log: PartitionLog): { keyOf: Int32Array; count: number } {
  let ids = keyIdCache.get(log);
  if (!ids) {
    const numbers = new Map<string, number>();
    const keyOf = new Int32Array(log.keys.length);
    log.keys.forEach((key, offset) => {
      let id = numbers.get(key);
      if (id === undefined) numbers.set(key, (id = numbers.size));
      keyOf[offset] = id;
    });
    keyIdCache.set(log, (ids = { keyOf, count: numbers.size }));
  }
  return ids;
}

/**
 * Counts per-key order violations in the order handlers start. A start is a violation when its offset is lower
 * than one already started for the key (an inversion) or when a record of the key is still running (the two
 * would finish in any order). The key of a record is the one the workload gave it (looked up by partition and
 * offset), not one the code under test computed. Cheap per call, so it disturbs what it measures as little as it can.
 */
export class OrderTracker {
  private readonly partitions: PartitionOrder[] = [];
  private started = 0;
  private startInversions = 0;
  private overlaps = 0;
  private violations = 0;

  constructor(logs: readonly PartitionLog[]) {
    for (const log of logs) {
      const { keyOf, count } = keyIds(log);
      this.partitions[log.partition] = {
        keyOf,
        maxStarted: new Float64Array(count).fill(-1),
        running: new Int32Array(count),
      };
    }
  }

  start(partition: number, offset: number): void {
    const { state, key } = this.locate(partition, offset);
    const inversion = offset < state.maxStarted[key]!;
    const overlap = state.running[key]! > 0;
    if (inversion) this.startInversions++;
    if (overlap) this.overlaps++;
    if (inversion || overlap) this.violations++;
    if (!inversion) state.maxStarted[key] = offset;
    state.running[key]!++;
    this.started++;
  }

  finish(partition: number, offset: number): void {
    const { state, key } = this.locate(partition, offset);
    state.running[key]!--;
  }

  report(): OrderReport {
    return {
      started: this.started,
      startInversions: this.startInversions,
      overlaps: this.overlaps,
      violations: this.violations,
    };
  }

  private locate(partition: number, offset: number): { state: PartitionOrder; key: number } {
    const state = this.partitions[partition];
    const key = state?.keyOf[offset];
    if (state === undefined || key === undefined) {
      throw new Error(`order tracker: no record at partition ${partition}, offset ${offset} in its logs`);
    }
    return { state, key };
  }
}

/** Latency statistics in milliseconds. */
export interface LatencyReport {
  readonly samples: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Collects handler latencies (every sample up to a cap, then a uniform stride of them for percentiles). */
export class LatencyRecorder {
  private readonly kept: number[] = [];
  private count = 0;
  private sum = 0;
  private max = 0;

  constructor(private readonly cap = 200_000) {}

  add(ms: number): void {
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (this.kept.length < this.cap) this.kept.push(ms);
  }

  report(): LatencyReport {
    const sorted = [...this.kept].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      samples: this.count,
      meanMs: round(this.count === 0 ? 0 : this.sum / this.count, 4),
      p50Ms: round(at(0.5), 4),
      p99Ms: round(at(0.99), 4),
      maxMs: round(this.max, 4),
    };
  }
}

/** The simulated handler of the throughput runs: note the start, await `latencyMs` of I/O, note the end. */
export function simulatedIoHandler(latencyMs: number, tracker: OrderTracker, latency: LatencyRecorder) {
  return async (partition: number, offset: number): Promise<void> => {
    tracker.start(partition, offset);
    const started = performance.now();
    await new Promise<void>((resolve) => setTimeout(resolve, latencyMs));
    latency.add(performance.now() - started);
    tracker.finish(partition, offset);
  };
}

/** Token store calls by method. */
export type StoreCalls = Record<string, number>;

/** Wraps a token store so every call is counted by method name. */
export function countingStore(store: TokenStore): { store: TokenStore; calls: StoreCalls } {
  const calls: StoreCalls = {};
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const name = String(property);
      return (...args: unknown[]) => {
        calls[name] = (calls[name] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

/** DynamoDB requests and request units seen on a client. */
export interface DynamoDbTally {
  /** Requests by operation (GetItem, UpdateItem, ...). */
  readonly byOperation: Record<string, number>;
  /** Requests by the item they address (LAYOUT, PARTITIONS, TOKEN, HISTORY, other). */
  readonly byItem: Record<string, number>;
  readonly readRequests: number;
  readonly writeRequests: number;
  /** Request units as DynamoDB reported them (ReturnConsumedCapacity), or estimated when it did not. */
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Requests whose units DynamoDB did not report (estimated at 1 unit each: items stay under 1 KB). */
  readonly estimatedUnitRequests: number;
  readonly failedRequests: number;
}

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/** `UpdateCommand` (document client) and `UpdateItemCommand` both count as `UpdateItem`. */
function operationOf(commandName: string | undefined): string {
  const base = (commandName ?? 'Unknown').replace(/Command$/, '');
  const documentNames: Record<string, string> = {
    Get: 'GetItem',
    Put: 'PutItem',
    Update: 'UpdateItem',
    Delete: 'DeleteItem',
    BatchGet: 'BatchGetItem',
    BatchWrite: 'BatchWriteItem',
    TransactGet: 'TransactGetItems',
    TransactWrite: 'TransactWriteItems',
  };
  return documentNames[base] ?? base;
}

function itemOf(input: Record<string, unknown>): string {
  const key = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
  const sk = key?.sk as string | { S?: string } | undefined;
  const text = typeof sk === 'string' ? sk : sk?.S;
  if (!text) return 'other';
  return text.startsWith('HISTORY') ? 'HISTORY' : text;
}

/** Units from a ConsumedCapacity (one object, or a list for batch and transaction calls). */
function unitsOf(consumed: unknown, isRead: boolean): { read: number; write: number } | undefined {
  const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Array<{
    CapacityUnits?: number;
    ReadCapacityUnits?: number;
    WriteCapacityUnits?: number;
  }>;
  if (list.length === 0) return undefined;
  let read = 0;
  let write = 0;
  for (const entry of list) {
    if (entry.ReadCapacityUnits === undefined && entry.WriteCapacityUnits === undefined) {
      // Only the total: it is of the request's own kind.
      if (isRead) read += entry.CapacityUnits ?? 0;
      else write += entry.CapacityUnits ?? 0;
    } else {
      read += entry.ReadCapacityUnits ?? 0;
      write += entry.WriteCapacityUnits ?? 0;
    }
  }
  return { read, write };
}

/**
 * Counts every request a DynamoDB client sends (the token store's document client shares its middleware stack)
 * and asks DynamoDB to report the request units each one consumed. Call before the client is first used.
 */
export function countDynamoDbRequests(client: DynamoDBClient): { tally: () => DynamoDbTally; reset: () => void } {
  let state = emptyTally();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = operationOf((context as { commandName?: string }).commandName);
      const input = args.input as Record<string, unknown>;
      if (READS.has(operation) || WRITES.has(operation)) input.ReturnConsumedCapacity = 'TOTAL';
      const item = itemOf(input);
      const isRead = READS.has(operation);
      state.byOperation[operation] = (state.byOperation[operation] ?? 0) + 1;
      state.byItem[item] = (state.byItem[item] ?? 0) + 1;
      if (isRead) state.readRequests++;
      else if (WRITES.has(operation)) state.writeRequests++;
      try {
        const result = await next(args);
        const units = unitsOf((result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity, isRead);
        if (units) {
          state.readUnits += units.read;
          state.writeUnits += units.write;
        } else if (READS.has(operation) || WRITES.has(operation)) {
          state.estimatedUnitRequests++;
          if (isRead) state.readUnits += 1;
          else state.writeUnits += 1;
        }
        return result;
      } catch (error) {
        // A failed conditional write is still billed as a write (1 unit for our small items).
        state.failedRequests++;
        if (WRITES.has(operation)) state.writeUnits += 1;
        else if (isRead) state.readUnits += 1;
        throw error;
      }
    },
    { step: 'initialize', name: 'tidemarkBenchRequestCounter', override: true },
  );
  return {
    tally: () => ({ ...state, byOperation: { ...state.byOperation }, byItem: { ...state.byItem } }),
    reset: () => {
      state = emptyTally();
    },
  };
}

function emptyTally(): { -readonly [K in keyof DynamoDbTally]: DynamoDbTally[K] } {
  return {
    byOperation: {},
    byItem: {},
    readRequests: 0,
    writeRequests: 0,
    readUnits: 0,
    writeUnits: 0,
    estimatedUnitRequests: 0,
    failedRequests: 0,
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The median of samples (the lower middle for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

/** CPU use over an interval: this Node process (100 = one core busy) and the whole machine (100 = every core). */
export interface CpuReport {
  readonly nodeProcessPercentOfOneCore: number;
  /** `null` where /proc/stat cannot be read (not Linux). */
  readonly machineBusyPercent: number | null;
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Starts measuring CPU use; the returned function ends the interval and reports it. */
export function startCpuMeter(): () => CpuReport {
  const wall = performance.now();
  const node = process.cpuUsage();
  const machine = machineTicks();
  return () => {
    const elapsedUs = (performance.now() - wall) * 1000;
    const used = process.cpuUsage(node);
    const after = machineTicks();
    const machineBusy =
      machine && after && after.total > machine.total
        ? round((100 * (after.busy - machine.busy)) / (after.total - machine.total), 1)
        : null;
    return {
      nodeProcessPercentOfOneCore: round((100 * (used.user + used.system)) / elapsedUs, 1),
      machineBusyPercent: machineBusy,
    };
  };
}

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

/** Adds order reports of several runs. */
export function addOrderReports(reports: readonly OrderReport[]): OrderReport {
  return {
    started: reports.reduce((n, r) => n + r.started, 0),
    startInversions: reports.reduce((n, r) => n + r.startInversions, 0),
    overlaps: reports.reduce((n, r) => n + r.overlaps, 0),
    violations: reports.reduce((n, r) => n + r.violations, 0),
  };
}
