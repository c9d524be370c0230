import { TidemarkError } from '../errors.js';

/** What part of a reset request was wrong. */
export type ResetField = 'to' | 'partitions' | 'segments' | 'clearParked' | 'resetId' | 'topics';

/**
 * A reset request that cannot be carried out as given: a bad spec, a partition or segment that does not exist, a
 * combination that is not allowed. The message names what was given and what is allowed; never retriable.
 */
export class ResetRequestError extends TidemarkError {
  constructor(
    readonly field: ResetField,
    message: string,
    context: Record<string, unknown> = {},
  ) {
    super(message, { context: { ...context, field } });
  }
}

/**
 * What the reset was planned on moved before it was written: the layout changed (or a change began), or a
 * partition was claimed since the plan (an invocation still running). Nothing of that partition was written; run
 * the reset again (with the same id, the partitions it already wrote are skipped).
 */
export class ResetConflictError extends TidemarkError {}

/** The event sources' consumer groups did not become empty in time after the mappings were disabled. */
export class GroupsNotEmptyError extends TidemarkError {}
