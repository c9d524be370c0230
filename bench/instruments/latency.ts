/** The handler latency the simulated I/O really took: the physical limit is computed from it. */
import { round } from '../stats.js';

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
