/**
 * Counts per-key order violations in the order handlers start, from the outside: the key of a record is the one
 * the workload gave it, never one the code under test computed.
 */
import type { PartitionLog } from '../workload.js';

export const ORDER_VIOLATION_DEFINITION =
  'a handler start is a violation when its offset is below one already started for the same partition and key ' +
  '(start inversion) or when a record of that key is still running (overlap); each start counts once';

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

/** Adds order reports of several runs. */
export function addOrderReports(reports: readonly OrderReport[]): OrderReport {
  return {
    started: reports.reduce((n, r) => n + r.started, 0),
    startInversions: reports.reduce((n, r) => n + r.startInversions, 0),
    overlaps: reports.reduce((n, r) => n + r.overlaps, 0),
    violations: reports.reduce((n, r) => n + r.violations, 0),
  };
}
