import { ConfigurationError } from './errors.js';

/**
 * Every runtime setting, its default, its rule and the environment variable that carries it to Lambda. The runtime
 * reads the environment through this module and the construct writes it through this module, so synth rejects
 * exactly what the runtime would reject.
 */

/** A rule for a name: the pattern and how the allowed values are described in errors. */
export interface NameRule {
  readonly pattern: RegExp;
  readonly allowed: string;
}

/** Processor names appear in every item key of the token table. */
export const PROCESSOR_NAME: NameRule = {
  pattern: /^[A-Za-z0-9._-]{1,100}$/,
  allowed: "1 to 100 letters, digits, '.', '_' or '-'",
};

/** Kafka's own rule for topic names. */
export const TOPIC_NAME: NameRule = {
  pattern: /^[A-Za-z0-9._-]{1,249}$/,
  allowed: "Kafka topic names: 1 to 249 letters, digits, '.', '_' or '-'",
};

/** DynamoDB's rule for table names. */
export const TABLE_NAME: NameRule = {
  pattern: /^[A-Za-z0-9._-]{3,255}$/,
  allowed: "3 to 255 letters, digits, '.', '_' or '-'",
};

/** Records handled at once per invocation (inline) or per worker (fan-out). */
export const CONCURRENCY = Object.freeze({ default: 16, min: 1, max: 10_000 });

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What is wrong with a topic list, in words, or undefined when it is fine. */
export function topicsProblem(topics: unknown): string | undefined {
  if (!Array.isArray(topics) || topics.length === 0) return 'one or more Kafka topic names';
  const bad = topics.find((t) => typeof t !== 'string' || !TOPIC_NAME.pattern.test(t));
  if (bad !== undefined) return `${TOPIC_NAME.allowed} (got ${JSON.stringify(bad)})`;
  if (new Set(topics).size !== topics.length) return 'each topic once';
  return undefined;
}

/** Throws ConfigurationError unless `processor` is a valid processor name. */
export function assertProcessorName(processor: string): void {
  if (typeof processor !== 'string' || !PROCESSOR_NAME.pattern.test(processor)) {
    throw new ConfigurationError(
      `processor name ${JSON.stringify(processor)} is not allowed: use ${PROCESSOR_NAME.allowed}`,
    );
  }
}

/** Runtime settings of the dispatcher. Every one has a default. */
export interface DispatcherSettings {
  /** Claim lease; renewed inline while work runs. @default 30000 */
  readonly leaseMs: number;
  /** How long a container may route with a layout it read. @default 5000 */
  readonly layoutTtlMs: number;
  /** How long to wait for another live holder of a partition (a duplicate delivery) before handing it back. @default 10000 */
  readonly claimWaitMs: number;
  /** Time kept at the end of the invocation to checkpoint. @default 3000 */
  readonly checkpointReserveMs: number;
  /** Stop starting work this long before the lease ends. @default 2000 */
  readonly leaseSafetyMs: number;
  /** Out-of-order ranges kept per token cell. @default 200 */
  readonly maxRanges: number;
  /**
   * How long to wait for a split or merge to finish before handing back records of a draining segment (never past
   * the invocation's deadline). Hand-backs count against Lambda's retry limit like failures, so the default outlasts
   * a whole drain: the coordinator's drain timeout (2 minutes) and its clock allowance. @default 150000
   */
  readonly drainWaitMs: number;
  /**
   * Records parsed between two turns of the event loop. Records start while later ones are parsed; a turn lets
   * claims' answers and finished handlers through. @default 256
   */
  readonly parseChunk: number;
}

/** The defaults of {@link DispatcherSettings}. */
export const DEFAULT_DISPATCHER_SETTINGS: DispatcherSettings = Object.freeze({
  leaseMs: 30_000,
  layoutTtlMs: 5_000,
  claimWaitMs: 10_000,
  checkpointReserveMs: 3_000,
  leaseSafetyMs: 2_000,
  maxRanges: 200,
  drainWaitMs: 150_000,
  parseChunk: 256,
});

/** Checks dispatcher settings; a ConfigurationError names the bad value and what is allowed. */
export function resolveDispatcherSettings(partial: Partial<DispatcherSettings> = {}): DispatcherSettings {
  const settings = { ...DEFAULT_DISPATCHER_SETTINGS, ...stripUndefined(partial) };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigurationError(`${name} must be a whole number >= 0, got ${String(value)}`);
    }
  }
  if (settings.leaseMs < 1_000 || settings.leaseSafetyMs * 2 >= settings.leaseMs) {
    throw new ConfigurationError(
      `leaseMs must be >= 1000 and more than twice leaseSafetyMs (${settings.leaseSafetyMs}), got ${settings.leaseMs}`,
    );
  }
  if (settings.maxRanges < 1) throw new ConfigurationError(`maxRanges must be >= 1, got ${settings.maxRanges}`);
  if (settings.parseChunk < 1) throw new ConfigurationError(`parseChunk must be >= 1, got ${settings.parseChunk}`);
  return Object.freeze(settings);
}

/** Settings of the split/merge coordinator. */
export interface CoordinatorSettings {
  /** The dispatchers' layout cache bound; the drain waits at least this long. @default 5000 */
  readonly layoutTtlMs: number;
  /** Allowance for clock differences between Lambdas. @default 1000 */
  readonly clockSkewMs: number;
  /** Roll back when claims have not drained by then. @default 120000 */
  readonly drainTimeoutMs: number;
  /** Seconds between drain checks. @default 5 */
  readonly pollSeconds: number;
  /**
   * A change still pending this long after its deadline was abandoned (its execution was stopped or kept
   * failing): the next change rolls it back first, so no segment stays draining for ever. @default 300000
   */
  readonly staleChangeGraceMs: number;
}

/** The defaults of {@link CoordinatorSettings}; `layoutTtlMs` is the dispatchers' default. */
export const DEFAULT_COORDINATOR_SETTINGS: CoordinatorSettings = Object.freeze({
  layoutTtlMs: DEFAULT_DISPATCHER_SETTINGS.layoutTtlMs,
  clockSkewMs: 1_000,
  drainTimeoutMs: 120_000,
  pollSeconds: 5,
  staleChangeGraceMs: 300_000,
});

/** Checks coordinator settings; a ConfigurationError names the bad value. */
export function resolveCoordinatorSettings(partial: Partial<CoordinatorSettings> = {}): CoordinatorSettings {
  const settings = { ...DEFAULT_COORDINATOR_SETTINGS, ...stripUndefined(partial) };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigurationError(`${name} must be a whole number >= 0, got ${String(value)}`);
    }
  }
  if (settings.pollSeconds < 1) throw new ConfigurationError(`pollSeconds must be >= 1, got ${settings.pollSeconds}`);
  return Object.freeze(settings);
}

/** The environment variable of each dispatcher setting. */
export const DISPATCHER_ENV: Readonly<Record<keyof DispatcherSettings, string>> = Object.freeze({
  leaseMs: 'TIDEMARK_LEASE_MS',
  layoutTtlMs: 'TIDEMARK_LAYOUT_TTL_MS',
  claimWaitMs: 'TIDEMARK_CLAIM_WAIT_MS',
  checkpointReserveMs: 'TIDEMARK_CHECKPOINT_RESERVE_MS',
  leaseSafetyMs: 'TIDEMARK_LEASE_SAFETY_MS',
  maxRanges: 'TIDEMARK_MAX_RANGES',
  drainWaitMs: 'TIDEMARK_DRAIN_WAIT_MS',
  parseChunk: 'TIDEMARK_PARSE_CHUNK',
});

/** The environment variable of each coordinator setting; the layout bound is the dispatchers' variable. */
export const COORDINATOR_ENV: Readonly<Record<keyof CoordinatorSettings, string>> = Object.freeze({
  layoutTtlMs: DISPATCHER_ENV.layoutTtlMs,
  clockSkewMs: 'TIDEMARK_CLOCK_SKEW_MS',
  drainTimeoutMs: 'TIDEMARK_DRAIN_TIMEOUT_MS',
  pollSeconds: 'TIDEMARK_DRAIN_POLL_SECONDS',
  staleChangeGraceMs: 'TIDEMARK_STALE_CHANGE_GRACE_MS',
});

/** The other variables the construct sets and the runtime reads. */
export const ENV = Object.freeze({
  tableName: 'TIDEMARK_TABLE_NAME',
  mode: 'TIDEMARK_MODE',
  workerFunction: 'TIDEMARK_WORKER_FUNCTION',
  logLevel: 'TIDEMARK_LOG_LEVEL',
  redriveKeysPerRun: 'TIDEMARK_REDRIVE_KEYS_PER_RUN',
});

/** The settings of Tidemark's CloudWatch metrics and the environment variable of each. */
export const METRICS_ENV = Object.freeze({
  /**
   * `true` to publish each partition's counts and lags also with the dimension `Partition` (`<topic>-<n>`), besides
   * `Processor`; `false` (the default) for `Processor` only. Every partition is a metric series of its own, billed as
   * such, so it is opted in.
   */
  partitionDimension: 'TIDEMARK_METRICS_PARTITION_DIMENSION',
});

/** Reads {@link METRICS_ENV}`.partitionDimension`: unset is false; anything but true or false is a ConfigurationError. */
export function metricsPartitionDimensionFromEnv(env: NodeJS.ProcessEnv): boolean {
  const text = env[METRICS_ENV.partitionDimension];
  if (text === undefined || text === '' || text === 'false') return false;
  if (text === 'true') return true;
  throw new ConfigurationError(`${METRICS_ENV.partitionDimension} must be "true" or "false", got "${text}"`);
}

/** The environment that carries the partition dimension setting to the runtime. */
export function metricsPartitionDimensionToEnv(enabled: boolean): Record<string, string> {
  return { [METRICS_ENV.partitionDimension]: String(enabled) };
}

/**
 * The settings named in `variables` that the environment sets, as numbers; options given in code win. A variable
 * that is not a number is a ConfigurationError naming it.
 */
export function settingsFromEnv<K extends string>(
  variables: Readonly<Record<K, string>>,
  options: NoInfer<Partial<Record<K, number>>>,
  env: NodeJS.ProcessEnv,
): Partial<Record<K, number>> {
  const settings: Partial<Record<K, number>> = {};
  for (const [name, variable] of Object.entries(variables) as Array<[K, string]>) {
    const given = options[name];
    if (given !== undefined) {
      settings[name] = given;
      continue;
    }
    const text = env[variable];
    if (text === undefined || text === '') continue;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new ConfigurationError(`${variable} must be a number, got "${text}"`);
    settings[name] = value;
  }
  return settings;
}

/** The environment that carries `settings` to the runtime: the inverse of {@link settingsFromEnv}. */
export function settingsToEnv<K extends string>(
  variables: Readonly<Record<K, string>>,
  settings: Readonly<Record<K, number>>,
): Record<string, string> {
  return Object.fromEntries(
    (Object.entries(variables) as Array<[K, string]>).map(([name, variable]) => [variable, String(settings[name])]),
  );
}

function stripUndefined<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}
