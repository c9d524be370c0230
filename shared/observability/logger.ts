/** Structured log lines; Lambda sends stdout to CloudWatch, where JSON fields can be queried. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** A logger that prints one JSON object per line at or above `level` (default from `TIDEMARK_LOG_LEVEL`, else info). */
export function jsonLogger(level: Level = (process.env.TIDEMARK_LOG_LEVEL as Level | undefined) ?? 'info'): Logger {
  const threshold = Math.max(0, LEVELS.indexOf(level));
  const write =
    (at: Level) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (LEVELS.indexOf(at) < threshold) return;
      console.log(JSON.stringify({ level: at, message, ...fields }, errorReplacer));
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Errors as `{name, message}` in logs and responses. */
export function describeError(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? describeError(value) : value;
}
