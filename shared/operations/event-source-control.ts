/**
 * Pauses and resumes what delivers a processor's records: on AWS its Kafka event source mappings (one per topic,
 * `UpdateEventSourceMapping` with `Enabled`), locally the event source simulator or poller. Reset and the admin API's
 * pause/resume go through it.
 */
export interface EventSourceControl {
  /** Every mapping of the processor with its state. */
  describe(): Promise<EventSourceMappingState[]>;
  /** Enables or disables every mapping; returns at once (the change takes effect over the next seconds). */
  setEnabled(enabled: boolean): Promise<void>;
}

/** One mapping (one topic) and where it stands. */
export interface EventSourceMappingState {
  readonly topic: string;
  /** The mapping's id (`UUID` on AWS). */
  readonly id: string;
  /** The consumer group the mapping reads with. */
  readonly consumerGroupId: string;
  /** As Lambda reports it: `Enabled`, `Disabled`, `Enabling`, `Disabling`, `Updating`, `Creating`, … */
  readonly state: string;
  /** When its state last changed, ms since the epoch (Lambda's `LastModified`). */
  readonly lastModified: number;
}
