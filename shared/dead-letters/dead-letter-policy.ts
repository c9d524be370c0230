import { ConfigurationError } from '../errors.js';

/**
 * When records are parked as dead letters and how parked keys are retried. Parking takes a record out of its
 * partition's way: the partition and the other keys go on, and the key's later records are parked behind it.
 */
export interface DeadLetterPolicy {
  /**
   * Handler attempts in all, over every delivery, after which a failing record is parked. The default, 9, is three
   * deliveries of the default 3 attempts: far below Lambda's retry limit (10 with the construct's defaults).
   * @default 9
   */
  readonly afterAttempts: number;
  /**
   * Parked keys one partition may hold. A record that would park a new key past the bound is not parked: it stays
   * unfinished and blocks its key, its offset is reported back, and `RecordsUnparkable` raises an alarm.
   * @default 100
   */
  readonly maxParkedKeys: number;
  /** First automatic redrive of a key this long after it was parked; doubles after each failed redrive. @default 60000 */
  readonly redriveBaseDelayMs: number;
  /** Ceiling of the redrive delay. @default 3600000 */
  readonly redriveMaxDelayMs: number;
}

/** The dead-letter policy used where none is given. */
export const DEFAULT_DEAD_LETTER_POLICY: DeadLetterPolicy = Object.freeze({
  afterAttempts: 9,
  maxParkedKeys: 100,
  redriveBaseDelayMs: 60_000,
  redriveMaxDelayMs: 3_600_000,
});

/** Fills in defaults and checks the values; throws ConfigurationError naming the bad one. */
export function resolveDeadLetterPolicy(partial: Partial<DeadLetterPolicy> = {}): DeadLetterPolicy {
  const policy = { ...DEFAULT_DEAD_LETTER_POLICY, ...partial };
  const check = (name: keyof DeadLetterPolicy, min: number, max: number) => {
    const value = policy[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigurationError(`deadLetter.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
    }
  };
  check('afterAttempts', 1, 1_000);
  check('maxParkedKeys', 1, 1_000);
  check('redriveBaseDelayMs', 0, 86_400_000);
  check('redriveMaxDelayMs', policy.redriveBaseDelayMs, 7 * 86_400_000);
  return Object.freeze(policy);
}

/** When a key whose redrive failed `attempts` times is tried again: exponential, capped, full jitter. */
export function nextRedriveAt(
  policy: DeadLetterPolicy,
  attempts: number,
  now: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.redriveMaxDelayMs, policy.redriveBaseDelayMs * 2 ** Math.max(0, attempts - 1));
  // Half fixed, half jitter: keys parked together spread out, but none comes back at once.
  return now + Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * The construct's default `retryAttempts` of the event source mapping: Lambda retries a batch that made no progress
 * this many times, then sends it to the on-failure destination. The local simulator and chaos use it too.
 */
export const DEFAULT_LAMBDA_RETRY_ATTEMPTS = 10;
