import { TRANSIENT_COORDINATOR_ERRORS } from '../coordination/change-layout.js';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store.js';
import type { KafkaAdmin } from '../kafka/kafka-admin.js';
import { KafkaAdminUnsupportedError } from '../kafka/kafkajs-admin.js';
import type { EventSourceControl, EventSourceMappingState } from '../operations/event-source-control.js';
import { resolveResetSettings, type ResetSettings } from '../settings.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';
import { GroupsNotEmptyError } from './reset-errors.js';
import { resetExecutionInput, type ResetExecutionInput } from './reset-execution.js';
import type { TokenTable } from './reset-items.js';
import { planReset, type ResetPlan } from './reset-plan.js';
import { parseResetSpec } from './reset-spec.js';
import { writeReset, type ResetWriteResult } from './reset-writer.js';

/** What the reset's steps work with. */
export interface ResetStepsOptions {
  readonly table: TokenTable;
  readonly layouts: Pick<TokenStore, 'readLayout'>;
  readonly deadLetters: Pick<DeadLetterStore, 'readLetters' | 'deleteLetters'>;
  /** A Kafka admin for one step; the step closes it when done. */
  readonly kafka: () => KafkaAdmin;
  readonly eventSources: EventSourceControl;
  readonly settings?: Partial<ResetSettings>;
  readonly clock?: Clock;
}

/** The event sources as the first step found them: the topics to reset and the groups that read them. */
export interface ResetSources {
  readonly topics: readonly string[];
  readonly groups: ReadonlyArray<{ readonly groupId: string; readonly topics: readonly string[] }>;
  /** Past this (ms since the epoch) the groups still not empty fail the reset. */
  readonly deadline: number;
  /** Seconds the state machine waits between checks. */
  readonly waitSeconds: number;
  /** Whether the mappings were reading before the reset (a paused processor stays paused after it). */
  readonly enabledBefore: boolean;
}

/** One check of the event sources and their groups. */
export interface GroupsCheck {
  /** Every mapping disabled and every group empty (or, where the broker cannot say, its mapping disabled). */
  readonly empty: boolean;
  readonly mappings: ReadonlyArray<{ readonly topic: string; readonly state: string }>;
  /** `state` as the broker reports it; `Unknown` where it lacks DescribeGroups (librdkafka's mock cluster). */
  readonly groups: ReadonlyArray<{ readonly groupId: string; readonly state: string; readonly members: number | null }>;
}

/** What moving the groups' offsets did. */
export interface GroupsMoved {
  readonly groups: ReadonlyArray<{ readonly groupId: string; readonly topic: string; readonly partitions: number }>;
}

/** Errors worth another attempt of a step: the coordinator's transient ones, Kafka's, Lambda's and a busy group. */
export const RESET_RETRIED_ERRORS: readonly string[] = Object.freeze([
  ...TRANSIENT_COORDINATOR_ERRORS,
  'KafkaAdminError',
  'GroupNotEmptyError',
  'ResourceConflictException',
  'ResourceInUseException',
  'TooManyRequestsException',
]);

/** Group states in which nobody reads: offsets may move. */
const IDLE_GROUP_STATES = new Set(['Empty', 'Dead']);

/**
 * The steps of a reset, as the reset state machine runs them (cdk/reset-state-machine.ts):
 * disable the event sources → check, until their consumer groups are empty → plan → move the groups' offsets to the
 * plan → write the reset tokens → enable the event sources. On a failure after disabling, the machine enables them
 * again and fails with the error. Each step is safe to run twice.
 */
export class ResetSteps {
  private readonly settings: ResetSettings;
  private readonly clock: Clock;

  constructor(private readonly options: ResetStepsOptions) {
    this.settings = resolveResetSettings(options.settings);
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Checks the input and that the processor exists (so a bad request changes nothing), then disables the
   * processor's event sources and says which topics and groups they read. If disabling fails, it enables what was
   * enabled before and fails: the state machine's catch for this step has nothing left to undo.
   */
  async disable(input: ResetExecutionInput): Promise<ResetSources> {
    resetExecutionInput(input);
    await this.options.layouts.readLayout(input.processor);
    const before = await this.options.eventSources.describe();
    const enabledBefore = before.some((m) => m.state !== 'Disabled' && m.state !== 'Disabling');
    try {
      await this.options.eventSources.setEnabled(false);
    } catch (error) {
      if (enabledBefore) await this.options.eventSources.setEnabled(true).catch(() => undefined);
      throw error;
    }
    const mappings = before;
    const groups = new Map<string, Set<string>>();
    for (const m of mappings) groups.set(m.consumerGroupId, (groups.get(m.consumerGroupId) ?? new Set()).add(m.topic));
    return {
      topics: [...new Set(mappings.map((m) => m.topic))].sort(),
      groups: [...groups].map(([groupId, topics]) => ({ groupId, topics: [...topics].sort() })),
      deadline: this.clock() + this.settings.emptyGroupTimeoutMs,
      waitSeconds: this.settings.pollSeconds,
      enabledBefore,
    };
  }

  /**
   * Whether every mapping is disabled and every group empty. Past the deadline, a group still read from fails with
   * {@link GroupsNotEmptyError}. A broker without DescribeGroups cannot say: its group counts as empty once its
   * mapping is disabled, and moving the offsets checks it again (it refuses while the group has members).
   */
  async check(input: { processor: string; sources: ResetSources }): Promise<GroupsCheck> {
    const mappings = await this.options.eventSources.describe();
    const kafka = this.options.kafka();
    let groups: GroupsCheck['groups'];
    try {
      groups = await Promise.all(
        input.sources.groups.map(async ({ groupId }) => {
          try {
            return { groupId, ...(await kafka.groupState(groupId)) };
          } catch (error) {
            if (!(error instanceof KafkaAdminUnsupportedError)) throw error;
            return { groupId, state: 'Unknown', members: null };
          }
        }),
      );
    } finally {
      await kafka.close();
    }
    const stopped = mappings.every((m) => m.state === 'Disabled');
    const empty = stopped && groups.every((g) => IDLE_GROUP_STATES.has(g.state) || g.state === 'Unknown');
    if (!empty && this.clock() >= input.sources.deadline) {
      throw new GroupsNotEmptyError(
        `the event sources of "${input.processor}" did not stop in time: ${describeSources(mappings, groups)}; the reset changed nothing and the event sources are enabled again`,
        { context: { processor: input.processor } },
      );
    }
    return { empty, mappings: mappings.map((m) => ({ topic: m.topic, state: m.state })), groups };
  }

  /** Plans the reset on the tokens as the stopped event sources left them. */
  async plan(input: ResetExecutionInput & { sources: ResetSources }): Promise<ResetPlan> {
    const kafka = this.options.kafka();
    try {
      return await planReset(
        {
          processor: input.processor,
          to: input.to,
          partitions: input.partitions,
          segments: input.segments,
          clearParked: input.clearParked,
          resetId: input.resetId,
        },
        {
          table: this.options.table,
          layouts: this.options.layouts,
          kafka,
          topics: input.sources.topics,
          clock: this.clock,
        },
      );
    } finally {
      await kafka.close();
    }
  }

  /**
   * Moves each group's committed offsets to where the plan says the event source must read again: the new tokens'
   * lowest positions, so nothing after the reset point is skipped (what the tokens cover is skipped by the
   * dispatcher). Run before the tokens are written: a crash in between leaves the old tokens, which cover what is
   * redelivered, so nothing runs twice after a checkpoint.
   */
  async move(input: { processor: string; plan: ResetPlan; sources: ResetSources }): Promise<GroupsMoved> {
    const moves = input.sources.groups.flatMap(({ groupId, topics }) =>
      topics.map((topic) => ({
        groupId,
        topic,
        offsets: input.plan.partitions
          .filter((p) => p.topic === topic && p.pending && p.groupOffset !== null)
          .map((p) => ({ partition: p.partition, offset: p.groupOffset! })),
      })),
    );
    const kafka = this.options.kafka();
    try {
      for (const move of moves) {
        if (move.offsets.length > 0) await kafka.setGroupOffsets(move.groupId, move.topic, move.offsets);
      }
    } finally {
      await kafka.close();
    }
    return {
      groups: moves.map((m) => ({ groupId: m.groupId, topic: m.topic, partitions: m.offsets.length })),
    };
  }

  /** Writes the reset tokens (one fenced write per partition) and the audit item. */
  async write(input: ResetExecutionInput & { plan: ResetPlan }): Promise<ResetWriteResult> {
    const result = await writeReset(
      { table: this.options.table, deadLetters: this.options.deadLetters, clock: this.clock },
      {
        processor: input.processor,
        resetId: input.resetId,
        target: parseResetSpec(input.to),
        layoutVersion: input.plan.layoutVersion,
        segments: input.plan.scope.segments,
        clearParked: input.clearParked,
        by: input.by,
        reason: input.reason,
      },
      input.plan.partitions,
    );
    // The per-partition list can be long; the state machine keeps the counts.
    return { ...result, partitions: result.partitions.filter((p) => p.outcome === 'written') };
  }

  /**
   * Enables the event sources again, after the reset and after a failure once they were disabled; sources that were
   * disabled before the reset (a paused processor) stay disabled.
   */
  async enable(input: {
    processor: string;
    sources: Pick<ResetSources, 'enabledBefore'>;
  }): Promise<{ mappings: ReadonlyArray<{ topic: string; state: string }> }> {
    if (input.sources.enabledBefore) await this.options.eventSources.setEnabled(true);
    const mappings = await this.options.eventSources.describe();
    return { mappings: mappings.map((m) => ({ topic: m.topic, state: m.state })) };
  }
}

function describeSources(mappings: readonly EventSourceMappingState[], groups: GroupsCheck['groups']): string {
  const notStopped = mappings.filter((m) => m.state !== 'Disabled').map((m) => `mapping of ${m.topic} is ${m.state}`);
  const busy = groups
    .filter((g) => !IDLE_GROUP_STATES.has(g.state) && g.state !== 'Unknown')
    .map((g) => `group ${g.groupId} is ${g.state} with ${String(g.members)} member(s)`);
  return [...notStopped, ...busy].join(', ') || 'still busy';
}
