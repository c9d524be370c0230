import type { KafkaAdmin, PartitionWatermarks } from '../shared/kafka/kafka-admin.js';
import type { EventSourceControl, EventSourceMappingState } from '../shared/operations/event-source-control.js';
import type { EventSourceSimulator, TopicLog } from './event-source-simulator.js';

/**
 * The in-memory topics' side of {@link KafkaAdmin}, for the local stack without brokers: their ends and offsets by
 * time, and the simulator's committed offsets as its consumer group. Offsets are never trimmed, so `low` is 0.
 */
export class TopicLogAdmin implements KafkaAdmin {
  constructor(
    private readonly logs: readonly TopicLog[],
    private readonly simulators: ReadonlyMap<string, EventSourceSimulator> = new Map(),
  ) {}

  private log(topic: string): TopicLog {
    const log = this.logs.find((l) => l.topic === topic);
    if (!log)
      throw new Error(
        `unknown topic ${JSON.stringify(topic)}; the local stack has ${this.logs.map((l) => l.topic).join(', ')}`,
      );
    return log;
  }

  watermarks(topic: string): Promise<PartitionWatermarks[]> {
    const log = this.log(topic);
    return Promise.resolve(
      Array.from({ length: log.partitionCount }, (_, partition) => ({ partition, low: 0, high: log.end(partition) })),
    );
  }

  offsetsAt(topic: string, timestampMs: number): Promise<Array<{ partition: number; offset: number }>> {
    const log = this.log(topic);
    return Promise.resolve(
      Array.from({ length: log.partitionCount }, (_, partition) => {
        const records = log.read(partition, 0, log.end(partition));
        const first = records.find((r) => r.timestamp >= timestampMs);
        return { partition, offset: first ? first.offset : log.end(partition) };
      }),
    );
  }

  groupState(groupId: string): Promise<{ state: string; members: number }> {
    const simulator = this.simulators.get(groupId);
    if (!simulator) return Promise.resolve({ state: 'Dead', members: 0 });
    const empty = simulator.paused && simulator.idle;
    return Promise.resolve({ state: empty ? 'Empty' : 'Stable', members: empty ? 0 : 1 });
  }

  groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number | null }>> {
    const log = this.log(topic);
    const simulator = this.simulators.get(groupId);
    return Promise.resolve(
      Array.from({ length: log.partitionCount }, (_, partition) => ({
        partition,
        offset: simulator ? simulator.committedOffset(partition) : null,
      })),
    );
  }

  setGroupOffsets(): Promise<void> {
    return Promise.reject(
      new Error('the in-memory topics cannot move offsets; run the local stack with --brokers for resets'),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Pauses and resumes the local stack's simulator as disabling and enabling a mapping would. */
export function simulatorControl(
  simulator: EventSourceSimulator,
  mapping: { topic: string; consumerGroupId: string },
): EventSourceControl {
  let lastModified = Date.now();
  return {
    describe(): Promise<EventSourceMappingState[]> {
      const state = simulator.paused ? (simulator.idle ? 'Disabled' : 'Disabling') : 'Enabled';
      return Promise.resolve([{ ...mapping, id: `local-${mapping.topic}`, state, lastModified }]);
    },
    setEnabled(enabled: boolean): Promise<void> {
      if (enabled === !simulator.paused) return Promise.resolve();
      lastModified = Date.now();
      if (enabled) simulator.resume();
      else simulator.pause();
      return Promise.resolve();
    },
  };
}
