import { randomBytes } from 'node:crypto';
import { assertProcessorName } from '../settings.js';
import { ResetRequestError } from './reset-errors.js';
import { listOf } from './reset-scope.js';
import { parseResetSpec } from './reset-spec.js';

/**
 * The input of the reset state machine, every field present (JSONPath reads them all): what a reset is asked to do,
 * its id (also the execution's name) and who asked for it and why, for the audit items.
 */
export interface ResetExecutionInput {
  readonly processor: string;
  readonly resetId: string;
  readonly to: string;
  /** Comma-separated, or null for every partition. */
  readonly partitions: string | null;
  /** Comma-separated, or null for every segment. */
  readonly segments: string | null;
  readonly clearParked: boolean;
  readonly by: string;
  readonly reason: string;
}

/** Reset ids are Step Functions execution names: at most 80 of these characters. */
export const RESET_ID = {
  pattern: /^[A-Za-z0-9._-]{1,80}$/,
  allowed: "1 to 80 letters, digits, '.', '_' or '-'",
} as const;

/** A new reset id: `<processor>-reset-<UTC time>-<4 hex>`, the processor cut so the whole fits 80 characters. */
export function newResetId(processor: string, now: number = Date.now()): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const tail = `-reset-${stamp}-${randomBytes(2).toString('hex')}`;
  return `${processor.slice(0, 80 - tail.length)}${tail}`;
}

/**
 * Checks a reset's input before anything is changed (processor name, spec, scope lists, id) and returns it with
 * every field present. A {@link ResetRequestError} (or ConfigurationError for the processor name) names what is wrong.
 */
export function resetExecutionInput(input: {
  processor: string;
  resetId: string;
  to: string;
  partitions?: string | readonly string[] | null;
  segments?: string | readonly string[] | null;
  clearParked?: boolean;
  by: string;
  reason?: string;
}): ResetExecutionInput {
  assertProcessorName(input.processor);
  parseResetSpec(input.to);
  if (typeof input.resetId !== 'string' || !RESET_ID.pattern.test(input.resetId)) {
    throw new ResetRequestError(
      'resetId',
      `reset id ${JSON.stringify(input.resetId)} is not allowed: use ${RESET_ID.allowed}`,
    );
  }
  const partitions = listOf(input.partitions);
  const segments = listOf(input.segments);
  if (input.clearParked === true && segments !== null) {
    throw new ResetRequestError(
      'clearParked',
      'clearing parked letters applies to whole partitions, not segments: scope the reset by --partitions, or leave the letters parked (they are redriven as usual)',
    );
  }
  return {
    processor: input.processor,
    resetId: input.resetId,
    to: input.to,
    partitions: partitions === null ? null : partitions.join(','),
    segments: segments === null ? null : segments.join(','),
    clearParked: input.clearParked === true,
    by: input.by || 'unknown',
    reason: input.reason || 'reset',
  };
}
