import { ConfigurationError } from '../errors.js';
import {
  GetEventSourceMappingCommand,
  UpdateEventSourceMappingCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import type { EventSourceControl, EventSourceMappingState } from './event-source-control.js';

/** One of the processor's mappings, as the construct passes them to its functions (`TIDEMARK_EVENT_SOURCES`). */
export interface EventSourceMappingRef {
  readonly topic: string;
  /** The mapping's UUID. */
  readonly id: string;
  readonly consumerGroupId: string;
}

/**
 * The processor's Kafka event source mappings on AWS Lambda. Disabling a mapping stops its pollers and leaves its
 * consumer group; enabling it rejoins the group at the committed offsets.
 */
export class LambdaEventSourceControl implements EventSourceControl {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly mappings: readonly EventSourceMappingRef[],
  ) {}

  async describe(): Promise<EventSourceMappingState[]> {
    return Promise.all(
      this.mappings.map(async (ref) => {
        const mapping = await this.lambda.send(new GetEventSourceMappingCommand({ UUID: ref.id }));
        return {
          topic: ref.topic,
          id: ref.id,
          consumerGroupId: ref.consumerGroupId,
          state: mapping.State ?? 'Unknown',
          lastModified: mapping.LastModified?.getTime() ?? 0,
        };
      }),
    );
  }

  async setEnabled(enabled: boolean): Promise<void> {
    for (const ref of this.mappings) {
      const { State } = await this.lambda.send(new GetEventSourceMappingCommand({ UUID: ref.id }));
      // Already where asked (or on its way): an update would fail with ResourceInUse while it changes state.
      if (enabled ? State === 'Enabled' || State === 'Enabling' : State === 'Disabled' || State === 'Disabling')
        continue;
      await this.lambda.send(new UpdateEventSourceMappingCommand({ UUID: ref.id, Enabled: enabled }));
    }
  }
}

/** Reads `TIDEMARK_EVENT_SOURCES`: a JSON list of {@link EventSourceMappingRef}. */
export function parseEventSourceRefs(text: string | undefined): EventSourceMappingRef[] {
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`${EVENT_SOURCES_ENV} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(parsed))
    throw new ConfigurationError(`${EVENT_SOURCES_ENV} must be a JSON list of {topic, id, consumerGroupId}`);
  return parsed.map((entry: unknown) => {
    const e = entry as Partial<EventSourceMappingRef>;
    if (typeof e.topic !== 'string' || typeof e.id !== 'string' || typeof e.consumerGroupId !== 'string') {
      throw new ConfigurationError(
        `${EVENT_SOURCES_ENV} entry ${JSON.stringify(entry)} needs topic, id and consumerGroupId`,
      );
    }
    return { topic: e.topic, id: e.id, consumerGroupId: e.consumerGroupId };
  });
}

/** The env var the construct sets on functions that pause and resume the processor's mappings. */
export const EVENT_SOURCES_ENV = 'TIDEMARK_EVENT_SOURCES';
