import type { EventSourceControl, EventSourceMappingState } from '../operations/event-source-control.js';

/**
 * Event sources this process does not control (the CLI beside a running local stack): they are reported `Disabled`
 * and `setEnabled` does nothing, so stop them yourself first. A reset still cannot move offsets while their group has
 * members: the broker, or the admin's sole-member join, refuses.
 */
export class UnmanagedEventSources implements EventSourceControl {
  constructor(
    private readonly topics: readonly string[],
    private readonly groupId: string,
  ) {}

  async describe(): Promise<EventSourceMappingState[]> {
    return this.topics.map((topic) => ({
      topic,
      id: `unmanaged-${topic}`,
      consumerGroupId: this.groupId,
      state: 'Disabled',
      lastModified: 0,
    }));
  }

  async setEnabled(): Promise<void> {}
}
