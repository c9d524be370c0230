import type { DeadLetter, LetterError, ParkedKey, SourceSkip } from './dead-letter.js';
import { TidemarkError } from '../errors.js';

/** One parked key of one partition. */
export interface ParkedKeyRef {
  readonly processor: string;
  readonly topic: string;
  readonly partition: number;
  readonly digest: string;
}

/** A parked key with the partition it is parked in. */
export interface ParkedKeyState extends ParkedKey {
  readonly topic: string;
  readonly partition: number;
}

/** A granted redrive lease on a parked key; `epoch` grows with every grant and fences every later write. */
export interface RedriveLease extends ParkedKeyRef {
  readonly owner: string;
  readonly epoch: number;
  readonly until: number;
  readonly entry: ParkedKey;
}

/** Who deleted letters and why: kept as an audit item. */
export interface AuditNote {
  readonly by: string;
  readonly reason: string;
}

/** One audit item. */
export interface AuditEntry extends AuditNote {
  readonly processor: string;
  readonly at: number;
  readonly action: string;
  readonly target: string;
}

/** Why a redrive lease was not granted. */
export class RedriveRefusedError extends TidemarkError {
  constructor(
    message: string,
    readonly why: 'not parked' | 'leased' | 'not due',
    context: Record<string, unknown> = {},
  ) {
    super(message, { retriable: why !== 'not parked', context: { ...context, why } });
  }
}

/**
 * The dead-letter store port: reading parked keys and letters, and the fenced writes of a redrive and of an
 * operator. Parking itself is part of the token store's checkpoint.
 */
export interface DeadLetterStore {
  /** Every parked key of the processor, over all its partitions (entries whose letters are all resolved too). */
  listParkedKeys(processor: string): Promise<ParkedKeyState[]>;
  /** A key's letters in offset order, from `fromOffset` on. */
  readLetters(ref: ParkedKeyRef, options?: { limit?: number; fromOffset?: number }): Promise<DeadLetter[]>;
  /**
   * Grants the key's redrive lease when the key has letters, nobody holds a live lease and (with `dueBy`) its next
   * attempt is due. Throws RedriveRefusedError otherwise.
   */
  takeLease(ref: ParkedKeyRef, options: { owner: string; leaseMs: number; dueBy?: number }): Promise<RedriveLease>;
  /** Deletes a redriven letter and counts it resolved, under the lease (renewed). Throws FencedError otherwise. */
  resolve(lease: RedriveLease, offset: number, options: { leaseMs: number }): Promise<RedriveLease>;
  /** Records a failed redrive on the key and its letter and ends the lease. Throws FencedError if it was lost. */
  fail(
    lease: RedriveLease,
    failure: { offset: number; error: LetterError; attempts: number; nextAttemptAt: number },
  ): Promise<void>;
  /** Ends the lease; the key is due again at `nextAttemptAt`. A lease already gone is left alone. */
  release(lease: RedriveLease, options: { nextAttemptAt: number }): Promise<void>;
  /** Makes a parked key due at `at` (a manual retry). Returns false if the key is not parked. */
  makeDue(ref: ParkedKeyRef, at: number): Promise<boolean>;
  /**
   * Deletes letters (while no redrive holds the key), counting them resolved, with an audit item each. Returns how
   * many were deleted; letters already gone are not counted.
   */
  deleteLetters(ref: ParkedKeyRef, offsets: readonly number[], note: AuditNote): Promise<number>;
  /** Ranges the event source moved past, oldest first. */
  listSkips(processor: string): Promise<SourceSkip[]>;
  /** Audit items, newest first. */
  listAudit(processor: string, limit?: number): Promise<AuditEntry[]>;
}
