import { describeError } from '../shared/observability/logger.js';
import type { EventSourceControl, EventSourceMappingState } from '../shared/operations/event-source-control.js';

/** What {@link PollerEventSourceControl} starts and stops: a {@link KafkaPoller}, or anything shaped like one. */
export interface ControlledPoller {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Settings of {@link PollerEventSourceControl}. */
export interface PollerEventSourceControlOptions {
  /** The topics the poller reads: one "mapping" each, as on AWS. */
  readonly topics: readonly string[];
  /** The poller's consumer group. */
  readonly groupId: string;
  /** Makes a poller to start; a stopped KafkaPoller cannot start again, so each enable makes a new one. */
  readonly createPoller: () => ControlledPoller;
  /** A poller already running, controlled from now on. @default none: the control starts disabled */
  readonly running?: ControlledPoller;
  /** @default Date.now */
  readonly clock?: () => number;
}

/**
 * The local stack's event source as {@link EventSourceControl}: disabling stops the Kafka poller (it finishes its
 * deliveries, commits and leaves the group), enabling starts a new one that rejoins the group at its committed
 * offsets, as Lambda's mapping does. Both return at once; `describe()` shows `Disabling`/`Enabling` until done.
 */
export class PollerEventSourceControl implements EventSourceControl {
  private poller: ControlledPoller | undefined;
  private state: 'Enabled' | 'Enabling' | 'Disabled' | 'Disabling';
  private lastModified: number;
  private transition: Promise<void> = Promise.resolve();
  private readonly clock: () => number;
  /** Why the last start or stop failed, if it did. */
  lastError: { name: string; message: string } | undefined;

  constructor(private readonly options: PollerEventSourceControlOptions) {
    this.clock = options.clock ?? Date.now;
    this.poller = options.running;
    this.state = options.running ? 'Enabled' : 'Disabled';
    this.lastModified = this.clock();
  }

  async describe(): Promise<EventSourceMappingState[]> {
    return this.options.topics.map((topic) => ({
      topic,
      id: `local-${topic}`,
      consumerGroupId: this.options.groupId,
      state: this.state,
      lastModified: this.lastModified,
    }));
  }

  async setEnabled(enabled: boolean): Promise<void> {
    const want = enabled ? 'Enabled' : 'Disabled';
    if (this.state === want || this.state === (enabled ? 'Enabling' : 'Disabling')) return;
    this.move(enabled ? 'Enabling' : 'Disabling');
    this.transition = this.transition.then(async () => {
      try {
        if (enabled) {
          const poller = this.options.createPoller();
          await poller.start();
          this.poller = poller;
        } else {
          const poller = this.poller;
          this.poller = undefined;
          await poller?.stop();
        }
        this.lastError = undefined;
        this.move(want);
      } catch (error) {
        this.lastError = describeError(error);
        this.move(enabled ? 'Disabled' : 'Enabled');
      }
    });
  }

  /** Resolves once the last enable or disable has taken effect (or failed: see `lastError`). */
  settled(): Promise<void> {
    return this.transition;
  }

  /** Stops the poller, if one runs, and waits for it. */
  async close(): Promise<void> {
    await this.setEnabled(false);
    await this.settled();
  }

  private move(state: PollerEventSourceControl['state']): void {
    this.state = state;
    this.lastModified = this.clock();
  }
}
