import { ConfigurationError } from '../errors.js';

/** How a failing record is retried inside a batch before its key is blocked and the record reported failed. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 3 */
  readonly maxAttempts: number;
  /** Delay before the second attempt; doubles each time. @default 100 */
  readonly baseDelayMs: number;
  /** Ceiling of one delay. @default 2000 */
  readonly maxDelayMs: number;
  /** Full jitter spreads retries of many keys failing at once. @default true */
  readonly jitter: boolean;
}

/** The retry policy used where none is given. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  jitter: true,
});

/** Fills in defaults and checks the values; throws ConfigurationError naming the bad one. */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...partial };
  const check = (name: keyof RetryPolicy, ok: boolean, allowed: string) => {
    if (!ok) throw new ConfigurationError(`retry.${name} must be ${allowed}, got ${String(policy[name])}`);
  };
  check(
    'maxAttempts',
    Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1 && policy.maxAttempts <= 100,
    'an integer from 1 to 100',
  );
  check('baseDelayMs', Number.isFinite(policy.baseDelayMs) && policy.baseDelayMs >= 0, 'a number >= 0');
  check(
    'maxDelayMs',
    Number.isFinite(policy.maxDelayMs) && policy.maxDelayMs >= policy.baseDelayMs,
    `a number >= baseDelayMs (${policy.baseDelayMs})`,
  );
  check('jitter', typeof policy.jitter === 'boolean', 'true or false');
  return Object.freeze(policy);
}

/** The delay after failed attempt number `attempt` (1-based): exponential, capped, optionally full jitter. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return policy.jitter ? Math.floor(random() * ceiling) : ceiling;
}
