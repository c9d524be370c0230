import { ConfigurationError } from '../errors.js';
import { assertProcessorName, TOPIC_NAME } from '../settings.js';
import type { AdminStateMachines } from './sfn-operation-runner.js';
import { DEFAULT_STALL_WINDOW_MS } from './lag.js';

/** The environment of the admin function: which processor it serves and what it starts. Set by the construct. */
export const ADMIN_ENV = Object.freeze({
  processor: 'TIDEMARK_PROCESSOR_NAME',
  /** Comma-separated. */
  topics: 'TIDEMARK_TOPICS',
  split: 'TIDEMARK_SPLIT_STATE_MACHINE',
  merge: 'TIDEMARK_MERGE_STATE_MACHINE',
  scale: 'TIDEMARK_SCALE_STATE_MACHINE',
  reset: 'TIDEMARK_RESET_STATE_MACHINE',
  stallWindowMs: 'TIDEMARK_STALL_WINDOW_MS',
});

/** What the admin function runs with. */
export interface AdminSettings {
  readonly processor: string;
  readonly topics: readonly string[];
  readonly stateMachines: AdminStateMachines;
  /** Position unchanged with lag this long counts as stalled. @default 5 minutes */
  readonly stallWindowMs: number;
}

/** Bounds of the stall window: at least two of the sampler's minutes, at most a day. */
export const STALL_WINDOW_MS = Object.freeze({
  default: DEFAULT_STALL_WINDOW_MS,
  min: 2 * 60_000,
  max: 24 * 3_600_000,
});

/** Checks the stall window; the construct and the function both call it. */
export function assertStallWindow(ms: number, name = 'stallWindow'): void {
  if (!Number.isInteger(ms) || ms < STALL_WINDOW_MS.min || ms > STALL_WINDOW_MS.max) {
    throw new ConfigurationError(
      `${name} must be from ${STALL_WINDOW_MS.min / 60_000} minutes to ${STALL_WINDOW_MS.max / 3_600_000} hours (the lag sampler runs every minute), got ${ms} ms`,
    );
  }
}

/** Reads and checks the admin function's environment; a missing or bad variable is a ConfigurationError naming it. */
export function adminSettingsFromEnv(env: NodeJS.ProcessEnv): AdminSettings {
  const required = (name: keyof typeof ADMIN_ENV) => {
    const value = env[ADMIN_ENV[name]];
    if (!value) throw new ConfigurationError(`${ADMIN_ENV[name]} must be set (the construct sets it)`);
    return value;
  };
  const processor = required('processor');
  assertProcessorName(processor);
  const topics = required('topics').split(',');
  for (const topic of topics) {
    if (!TOPIC_NAME.pattern.test(topic)) {
      throw new ConfigurationError(`${ADMIN_ENV.topics} has ${JSON.stringify(topic)}, which is not a topic name`);
    }
  }
  const stallText = env[ADMIN_ENV.stallWindowMs];
  const stallWindowMs = stallText ? Number(stallText) : STALL_WINDOW_MS.default;
  assertStallWindow(stallWindowMs, ADMIN_ENV.stallWindowMs);
  const reset = env[ADMIN_ENV.reset];
  return {
    processor,
    topics,
    stateMachines: {
      split: required('split'),
      merge: required('merge'),
      scale: required('scale'),
      ...(reset ? { reset } : {}),
    },
    stallWindowMs,
  };
}
