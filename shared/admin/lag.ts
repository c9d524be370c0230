import type { LagSample } from './status-view.js';

/** How long a partition's position must stay put, with lag, to count as stalled on AWS (samples every minute). */
export const DEFAULT_STALL_WINDOW_MS = 5 * 60_000;

/** A partition's lag from its token position, its end in Kafka and the newest record its last checkpoint covered. */
export function partitionLag(input: {
  position: number | null;
  low: number | null;
  high: number | null;
  lastRecordAt: number | null;
  now: number;
}): { recordLag: number | null; timeLagSeconds: number | null } {
  const { high, low, lastRecordAt, now } = input;
  if (high === null) return { recordLag: null, timeLagSeconds: null };
  // Before the first batch everything still kept is lag; a position below the retained start counts from there.
  const from = Math.max(input.position ?? low ?? 0, low ?? 0);
  const recordLag = Math.max(0, high - from);
  if (recordLag === 0) return { recordLag, timeLagSeconds: 0 };
  // The next record was written after the newest one handled: its age is at most this, and it is the usual bound.
  return {
    recordLag,
    timeLagSeconds: lastRecordAt === null ? null : Math.max(0, Math.round((now - lastRecordAt) / 1000)),
  };
}

/**
 * Burrow's STALL rule over the samples: the partition has lag now, and its position has not moved, with lag in every
 * sample, for at least `windowMs` (some sample that old must exist, so a fresh processor is never called stalled).
 */
export function isStalled(
  history: readonly LagSample[],
  id: string,
  current: { position: number | null; recordLag: number | null },
  now: number,
  windowMs: number,
): boolean {
  if (!current.recordLag) return false;
  let spansWindow = false;
  for (let i = history.length - 1; i >= 0; i--) {
    const sample = history[i]!;
    const entry = sample.partitions[id];
    if (!entry || entry.position !== current.position || !entry.recordLag) return false;
    if (now - sample.at >= windowMs) {
      spansWindow = true;
      break;
    }
  }
  return spansWindow;
}
