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

// ---------------------------------------------------------------------------------------------------------------
// Kafka access of the admin side (reset, lag): never the dispatch path, which Lambda's event source feeds.

/** How the admin side authenticates to the cluster. */
export const KafkaAuth = {
  /** Plain brokers (a local or test cluster): no TLS, no SASL. */
  None: 'none',
  /** Amazon MSK with IAM: SASL/OAUTHBEARER tokens signed by aws-msk-iam-sasl-signer-js, over TLS. */
  MskIam: 'msk-iam',
  /** SASL/SCRAM-SHA-256 over TLS; username and password from a Secrets Manager secret. */
  SaslScram256: 'sasl-scram-256',
  /** SASL/SCRAM-SHA-512 over TLS; username and password from a Secrets Manager secret. */
  SaslScram512: 'sasl-scram-512',
} as const;
export type KafkaAuth = (typeof KafkaAuth)[keyof typeof KafkaAuth];

/** Where the admin side's Kafka cluster is and how it signs in. Resolved once by {@link resolveKafkaAdminSettings}. */
export interface KafkaAdminSettings {
  /** `host:port` of bootstrap brokers; empty for MSK, whose brokers come from GetBootstrapBrokers. */
  readonly brokers: readonly string[];
  /** The MSK cluster: its brokers, and the region the IAM tokens are signed for. */
  readonly mskClusterArn: string | undefined;
  /** @default "msk-iam" with an MSK cluster, else "none" */
  readonly auth: KafkaAuth;
  /** The secret holding `{"username": …, "password": …}`; SASL/SCRAM only. */
  readonly secretArn: string | undefined;
}

/** The environment variable of each {@link KafkaAdminSettings} field. */
export const KAFKA_ADMIN_ENV: Readonly<Record<keyof KafkaAdminSettings, string>> = Object.freeze({
  brokers: 'TIDEMARK_KAFKA_BROKERS',
  mskClusterArn: 'TIDEMARK_MSK_CLUSTER_ARN',
  auth: 'TIDEMARK_KAFKA_AUTH',
  secretArn: 'TIDEMARK_KAFKA_SECRET_ARN',
});

const BROKER = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const MSK_CLUSTER_ARN =
  /^arn:aws[a-z-]*:kafka:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):\d{12}:cluster\/[A-Za-z0-9-]+\/[A-Za-z0-9-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:secret:.+$/;

/**
 * Checks the admin side's Kafka settings; a ConfigurationError names the bad value (by its environment variable when
 * `from` is "env") and what is allowed. Brokers or an MSK cluster are required; SASL/SCRAM needs a secret, MSK IAM a
 * cluster (its region signs the tokens).
 */
export function resolveKafkaAdminSettings(
  partial: { brokers?: readonly string[] | string; mskClusterArn?: string; auth?: string; secretArn?: string },
  from: 'code' | 'env' = 'code',
): KafkaAdminSettings {
  const name = (field: keyof KafkaAdminSettings) => (from === 'env' ? KAFKA_ADMIN_ENV[field] : field);
  const brokers = (typeof partial.brokers === 'string' ? partial.brokers.split(',') : [...(partial.brokers ?? [])])
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  for (const broker of brokers) {
    const port = Number(BROKER.exec(broker)?.[1]);
    if (!(port >= 1 && port <= 65_535)) {
      throw new ConfigurationError(
        `${name('brokers')} must list "host:port" brokers separated by commas (port 1 to 65535), got ${JSON.stringify(broker)}`,
      );
    }
  }
  const mskClusterArn = partial.mskClusterArn || undefined;
  if (mskClusterArn !== undefined && !MSK_CLUSTER_ARN.test(mskClusterArn)) {
    throw new ConfigurationError(
      `${name('mskClusterArn')} must be an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>), got ${JSON.stringify(mskClusterArn)}`,
    );
  }
  const auths = Object.values(KafkaAuth) as string[];
  const auth = (partial.auth || (mskClusterArn ? KafkaAuth.MskIam : KafkaAuth.None)) as KafkaAuth;
  if (!auths.includes(auth)) {
    throw new ConfigurationError(`${name('auth')} must be one of ${auths.join(', ')}, got ${JSON.stringify(auth)}`);
  }
  const secretArn = partial.secretArn || undefined;
  if (secretArn !== undefined && !SECRET_ARN.test(secretArn)) {
    throw new ConfigurationError(
      `${name('secretArn')} must be a Secrets Manager secret ARN, got ${JSON.stringify(secretArn)}`,
    );
  }
  if (brokers.length === 0 && mskClusterArn === undefined) {
    throw new ConfigurationError(
      `the admin side needs Kafka: set ${name('brokers')} ("host:port,…") or ${name('mskClusterArn')}`,
    );
  }
  if (auth === KafkaAuth.MskIam && mskClusterArn === undefined) {
    throw new ConfigurationError(
      `${name('auth')} "msk-iam" needs ${name('mskClusterArn')}: its region signs the IAM tokens`,
    );
  }
  const scram = auth === KafkaAuth.SaslScram256 || auth === KafkaAuth.SaslScram512;
  if (scram && secretArn === undefined) {
    throw new ConfigurationError(
      `${name('auth')} "${auth}" needs ${name('secretArn')}: the secret holding {"username", "password"}`,
    );
  }
  if (!scram && secretArn !== undefined) {
    throw new ConfigurationError(`${name('secretArn')} is for SASL/SCRAM only, but ${name('auth')} is "${auth}"`);
  }
  return Object.freeze({ brokers: Object.freeze(brokers), mskClusterArn, auth, secretArn });
}

/** The admin side's Kafka settings from the environment the construct sets; undefined when none is set. */
export function kafkaAdminSettingsFromEnv(env: NodeJS.ProcessEnv): KafkaAdminSettings | undefined {
  const given = Object.values(KAFKA_ADMIN_ENV).some((variable) => (env[variable] ?? '') !== '');
  if (!given) return undefined;
  return resolveKafkaAdminSettings(
    {
      brokers: env[KAFKA_ADMIN_ENV.brokers],
      mskClusterArn: env[KAFKA_ADMIN_ENV.mskClusterArn],
      auth: env[KAFKA_ADMIN_ENV.auth],
      secretArn: env[KAFKA_ADMIN_ENV.secretArn],
    },
    'env',
  );
}

/** The environment that carries the admin side's Kafka settings to a function: the inverse of {@link kafkaAdminSettingsFromEnv}. */
export function kafkaAdminSettingsToEnv(settings: KafkaAdminSettings): Record<string, string> {
  return {
    [KAFKA_ADMIN_ENV.auth]: settings.auth,
    ...(settings.brokers.length ? { [KAFKA_ADMIN_ENV.brokers]: settings.brokers.join(',') } : {}),
    ...(settings.mskClusterArn ? { [KAFKA_ADMIN_ENV.mskClusterArn]: settings.mskClusterArn } : {}),
    ...(settings.secretArn ? { [KAFKA_ADMIN_ENV.secretArn]: settings.secretArn } : {}),
  };
}

/** The region of an MSK cluster ARN (checked by {@link resolveKafkaAdminSettings}). */
export function mskClusterRegion(clusterArn: string): string {
  const region = MSK_CLUSTER_ARN.exec(clusterArn)?.[1];
  if (!region) throw new ConfigurationError(`not an MSK cluster ARN: ${JSON.stringify(clusterArn)}`);
  return region;
}

/** Settings of a reset's orchestration (the reset state machine's steps). */
export interface ResetSettings {
  /** How long to wait, after disabling the event sources, for their consumer groups to be empty. @default 600000 */
  readonly emptyGroupTimeoutMs: number;
  /** Seconds between two checks of the consumer groups. @default 10 */
  readonly pollSeconds: number;
}

/** The defaults of {@link ResetSettings}. */
export const DEFAULT_RESET_SETTINGS: ResetSettings = Object.freeze({ emptyGroupTimeoutMs: 600_000, pollSeconds: 10 });

/** The environment variable of each reset setting. */
export const RESET_ENV: Readonly<Record<keyof ResetSettings, string>> = Object.freeze({
  emptyGroupTimeoutMs: 'TIDEMARK_RESET_GROUP_TIMEOUT_MS',
  pollSeconds: 'TIDEMARK_RESET_POLL_SECONDS',
});

/** Checks reset settings; a ConfigurationError names the bad value. */
export function resolveResetSettings(partial: Partial<ResetSettings> = {}): ResetSettings {
  const settings = { ...DEFAULT_RESET_SETTINGS, ...stripUndefined(partial) };
  if (!Number.isInteger(settings.emptyGroupTimeoutMs) || settings.emptyGroupTimeoutMs < 1_000) {
    throw new ConfigurationError(
      `emptyGroupTimeoutMs must be a whole number >= 1000, got ${String(settings.emptyGroupTimeoutMs)}`,
    );
  }
  if (!Number.isInteger(settings.pollSeconds) || settings.pollSeconds < 1 || settings.pollSeconds > 300) {
    throw new ConfigurationError(
      `pollSeconds must be a whole number from 1 to 300, got ${String(settings.pollSeconds)}`,
    );
  }
  return Object.freeze(settings);
}
