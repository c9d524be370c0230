import { ConfigurationError } from '../errors.js';
import { ENV, LOG_LEVELS, type LogLevel } from '../settings.js';
import { fromPowertools, powertoolsLogger } from './powertools.js';

/**
 * Structured log lines; Lambda sends stdout to CloudWatch, where JSON fields can be queried. Tidemark's own code and
 * handlers (`context.logger`) log through this; the default one is a Powertools Logger.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Names the `service` of every line and is its `processor` key. @default 'tidemark', no processor key */
  readonly processor?: string;
  /** @default TIDEMARK_LOG_LEVEL, else Powertools' own (POWERTOOLS_LOG_LEVEL, Lambda's log level), else 'info' */
  readonly level?: LogLevel;
}

/**
 * A Logger backed by a Powertools for AWS Lambda Logger: one JSON object per line with Powertools' keys (`level`,
 * `message`, `timestamp`, `service`, `cold_start`, `function_request_id`, `xray_trace_id`, ...), `processor`, and the
 * fields of each call (errors as name, message and stack).
 */
export function createLogger(options: LoggerOptions = {}, env: NodeJS.ProcessEnv = process.env): Logger {
  const level = options.level ?? logLevelFromEnv(env);
  return fromPowertools(powertoolsLogger({ ...options, ...(level === undefined ? {} : { level }) }));
}

/** A JSON logger at or above `level`: {@link createLogger} without a processor. */
export function jsonLogger(level?: LogLevel): Logger {
  return createLogger(level === undefined ? {} : { level });
}

/** `TIDEMARK_LOG_LEVEL`, checked; undefined when unset, so Powertools' own variables apply. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel | undefined {
  const text = env[ENV.logLevel];
  if (text === undefined || text === '') return undefined;
  const level = text.toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigurationError(`${ENV.logLevel} must be one of ${LOG_LEVELS.join(', ')}, got "${text}"`);
  }
  return level;
}

/**
 * A logger that adds `keys` to every line (a call's own fields win): the handler's logger carries the record's
 * segment, epoch, topic, partition and offset this way.
 */
export function withLogKeys(logger: Logger, keys: Record<string, unknown>): Logger {
  if (logger === silentLogger) return logger;
  return {
    debug: (message, fields) => logger.debug(message, { ...keys, ...fields }),
    info: (message, fields) => logger.info(message, { ...keys, ...fields }),
    warn: (message, fields) => logger.warn(message, { ...keys, ...fields }),
    error: (message, fields) => logger.error(message, { ...keys, ...fields }),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Errors as `{name, message}` in logs and responses. */
export function describeError(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}
