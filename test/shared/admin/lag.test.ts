import { describe, expect, it } from 'vitest';
import { isStalled, partitionLag } from '../../../shared/admin/lag.js';
import type { LagSample } from '../../../shared/admin/status-view.js';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;

/** Samples of partition orders-0 a minute apart, the last one a minute ago, oldest first. */
function samples(entries: Array<[position: number | null, recordLag: number]>): LagSample[] {
  return entries.map(([position, recordLag], i) => ({
    at: NOW - (entries.length - i) * MINUTE,
    partitions: { 'orders-0': { position, recordLag, timeLagSeconds: null } },
  }));
}

describe('partitionLag', () => {
  it('counts the records between the position and the end, and ages the newest handled record while behind', () => {
    expect(partitionLag({ position: 90, low: 0, high: 100, lastRecordAt: NOW - 42_000, now: NOW })).toEqual({
      recordLag: 10,
      timeLagSeconds: 42,
    });
  });

  it('is zero in records and seconds once caught up, however old the last record is', () => {
    expect(partitionLag({ position: 100, low: 0, high: 100, lastRecordAt: NOW - 3_600_000, now: NOW })).toEqual({
      recordLag: 0,
      timeLagSeconds: 0,
    });
  });

  it('counts from the retained start when the position is below it or not there yet', () => {
    expect(partitionLag({ position: 5, low: 50, high: 100, lastRecordAt: null, now: NOW }).recordLag).toBe(50);
    expect(partitionLag({ position: null, low: 20, high: 100, lastRecordAt: null, now: NOW })).toEqual({
      recordLag: 80,
      timeLagSeconds: null,
    });
  });

  it('is unknown without the end', () => {
    expect(partitionLag({ position: 5, low: null, high: null, lastRecordAt: NOW, now: NOW })).toEqual({
      recordLag: null,
      timeLagSeconds: null,
    });
  });
});

describe('isStalled (Burrow: the position has not moved, with lag, over the window)', () => {
  const window = 5 * MINUTE;

  it('is stalled when every sample over the window has the same position and lag', () => {
    const history = samples([
      [10, 5],
      [10, 7],
      [10, 9],
      [10, 9],
      [10, 12],
      [10, 15],
    ]);
    expect(isStalled(history, 'orders-0', { position: 10, recordLag: 20 }, NOW, window)).toBe(true);
  });

  it('is not stalled once the position moved within the window', () => {
    const history = samples([
      [10, 5],
      [10, 7],
      [10, 9],
      [11, 9],
      [11, 12],
      [11, 15],
    ]);
    expect(isStalled(history, 'orders-0', { position: 11, recordLag: 20 }, NOW, window)).toBe(false);
  });

  it('is not stalled while the samples do not span the window yet (a new processor)', () => {
    const history = samples([
      [10, 5],
      [10, 7],
    ]);
    expect(isStalled(history, 'orders-0', { position: 10, recordLag: 20 }, NOW, window)).toBe(false);
  });

  it('is not stalled without lag: an idle topic is not a stuck consumer', () => {
    const history = samples([
      [10, 0],
      [10, 0],
      [10, 0],
      [10, 0],
      [10, 0],
      [10, 0],
    ]);
    expect(isStalled(history, 'orders-0', { position: 10, recordLag: 0 }, NOW, window)).toBe(false);
    // Lag that appeared only now is not a stall either: a sample in the window had none.
    expect(isStalled(history, 'orders-0', { position: 10, recordLag: 3 }, NOW, window)).toBe(false);
  });

  it('is not stalled when a sample in the window lacks the partition', () => {
    const history = samples([
      [10, 5],
      [10, 5],
      [10, 5],
      [10, 5],
      [10, 5],
      [10, 5],
    ]);
    expect(isStalled(history, 'orders-1', { position: 10, recordLag: 5 }, NOW, window)).toBe(false);
  });
});
