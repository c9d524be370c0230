import { TidemarkError } from '../errors.js';

/** Why an effect was refused before anything of it was written. */
export const EffectRefusal = {
  /** A transaction of more than 100 actions (DynamoDB's limit). */
  TooManyItems: 'too-many-items',
  /** A transaction over 4 MB, or an item DynamoDB finds over 400 KB. */
  TooLarge: 'too-large',
  /** Two actions of one transaction on the same item (DynamoDB refuses them), or one record writing an item twice. */
  SameItemTwice: 'same-item-twice',
  /** An action the helper cannot make exactly-once (a Delete: nothing would be left to hold the item's position). */
  Unsupported: 'unsupported',
  /** The request is not valid (empty, a reserved placeholder, or DynamoDB's ValidationException). */
  Invalid: 'invalid',
} as const;
export type EffectRefusal = (typeof EffectRefusal)[keyof typeof EffectRefusal];

/**
 * An effect that can never be applied as given: past DynamoDB's transaction limits, two actions on one item, a
 * Delete, or a request DynamoDB refuses as invalid. Nothing of it was written. Not retriable: the record is parked
 * at once (its key's later records behind it), to be redriven once the handler is fixed.
 */
export class EffectRefusedError extends TidemarkError {
  constructor(
    readonly reason: EffectRefusal,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { ...options, retriable: false, context: { ...options.context, reason } });
  }
}

/**
 * The effect's own `ConditionExpression` was false (the item's position did not refuse it: the effect was not
 * applied before). Nothing was written. Retriable, like any error of the handler's own: the record is retried,
 * then parked after `deadLetter.afterAttempts`. `index` names the transaction action whose condition failed.
 */
export class EffectConditionFailedError extends TidemarkError {
  constructor(
    message: string,
    readonly index: number,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { ...options, retriable: true, context: { ...options.context, index } });
  }
}

/**
 * DynamoDB cancelled the effect's transaction (or refused its write) because another transaction held one of its
 * items, as many times as the helper retries it. Nothing was written by this attempt; retriable.
 */
export class TransactionConflictError extends TidemarkError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, { ...options, retriable: true });
  }
}

/**
 * The idempotency record is held by another run of the same effect that may still be running (its time is not up
 * and it is not an older claim of the same partition). Retriable: by the next attempt the other run has completed
 * (its result is returned), released it, or run out of time.
 */
export class IdempotencyInProgressError extends TidemarkError {
  constructor(
    message: string,
    readonly holder: { readonly owner: string; readonly epoch: number; readonly until: number },
    context: Record<string, unknown> = {},
  ) {
    super(message, { retriable: true, context: { ...context, holder } });
  }
}

/**
 * The effect ran, but its completion was refused: a run under a newer claim (or one that found this run's time up)
 * took the idempotency record over, so this run, a zombie, may not mark it complete. Retriable: the next attempt
 * finds what the newer run left.
 */
export class IdempotencyFencedError extends TidemarkError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { retriable: true, context });
  }
}

/**
 * The effect's result cannot be kept: not JSON, or over the size an item can hold. The effect ran once and is
 * recorded complete without its result, so it never runs again; every later call with the same key throws this too.
 * Not retriable: the record is parked.
 */
export class IdempotencyResultError extends TidemarkError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { retriable: false, context });
  }
}
