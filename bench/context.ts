/**
 * What every scenario is given: the options, the environment, and the few habits they share (unique processor
 * names, a pause between timed runs, the simulated handler, a key-ordered consumer on the run's store).
 */
import type { TokenStore } from '../shared/tokens/token-store.js';
import type { BenchEnvironment } from './environment.js';
import { LatencyRecorder } from './instruments/latency.js';
import { OrderTracker } from './instruments/order-tracker.js';
import type { BenchOptions } from './options.js';
import { KeyOrderedConsumer, simulatedIoHandler, type CoreHandler } from './runs.js';
import type { PartitionLog } from './workload.js';

export class ScenarioContext {
  readonly progress: (message: string) => void;
  /** Tells the runs of this benchmark from those of earlier ones on the same store. */
  private readonly runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  private runs = 0;

  constructor(
    readonly options: BenchOptions,
    readonly env: BenchEnvironment,
  ) {
    this.progress = env.progress ?? (() => {});
  }

  /** A processor name no other run uses: another processor's tokens would cover its offsets. */
  processorName(label: string): string {
    return `bench-${this.runId}-${label}-${this.runs++}`;
  }

  /** Pauses between timed runs, so one run's garbage is not collected during the next. */
  settle(ms = this.options.pauseMs): Promise<void> {
    return new Promise<void>((resolve) => setTimeout(resolve, ms));
  }

  /** The simulated I/O handler; without a tracker and recorder of the caller's, one whose figures are dropped. */
  handler(logs: readonly PartitionLog[], tracker?: OrderTracker, latency?: LatencyRecorder): CoreHandler {
    return simulatedIoHandler(
      this.options.latencyMs,
      tracker ?? new OrderTracker(logs),
      latency ?? new LatencyRecorder(1),
    );
  }

  /** A key-ordered consumer at the options' concurrency and segments, on the run's store unless given another. */
  consumer(label: string, store: TokenStore = this.env.store): KeyOrderedConsumer {
    return new KeyOrderedConsumer({
      concurrency: this.options.concurrency,
      store,
      processorName: this.processorName(label),
      segments: this.options.segments,
    });
  }
}
