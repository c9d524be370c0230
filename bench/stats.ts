/** The arithmetic every figure of the report goes through. */

/** Rounds to `digits` decimals: the report prints figures, not floating-point noise. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The median of samples (the lower middle for an even count, so it is always a measured sample). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
