import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { ConfigurationError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../settings.js';
import type { Logger, LoggerOptions } from './logger.js';

/*
 * The Powertools for AWS Lambda objects behind Tidemark's Logger, metrics and tracing. Kept out of the public API:
 * Powertools' declarations import `aws-lambda` types, which a team's type graph must not need.
 */

/**
 * The Powertools Logger behind `createLogger`; the handler factories also give it each invocation's context. Without
 * a level, Powertools' own settings apply (POWERTOOLS_LOG_LEVEL, Lambda's log level), else info.
 */
export function powertoolsLogger(options: LoggerOptions): PowertoolsLogger {
  const level = options.level;
  if (level !== undefined && !LOG_LEVELS.includes(level)) {
    throw new ConfigurationError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }
  return new PowertoolsLogger({
    serviceName: options.processor ?? 'tidemark',
    ...(level === undefined ? {} : { logLevel: level.toUpperCase() as Uppercase<LogLevel> }),
    ...(options.processor === undefined ? {} : { persistentKeys: { processor: options.processor } }),
  });
}

/** Tidemark's Logger over a Powertools one. */
export function fromPowertools(logger: PowertoolsLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(message, fields ?? {}),
    info: (message, fields) => logger.info(message, fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
  };
}

/**
 * The X-Ray tracer of a processor's functions (service = processor name). Powertools turns it off outside Lambda
 * (no `AWS_EXECUTION_ENV`) and with `POWERTOOLS_TRACE_ENABLED=false`: then it records nothing and costs nothing.
 */
export function processorTracer(processor: string): Tracer {
  return new Tracer({ serviceName: processor });
}

/** Wraps an AWS SDK v3 client so its calls appear in the tracer's trace; the client itself when tracing is off. */
export function clientCapture(tracer: Tracer): <C>(client: C) => C {
  return <C>(client: C): C => (tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client as never) : client);
}

/**
 * A Powertools Metrics of a processor: EMF in `namespace` with the one default dimension `Processor`. Powertools adds
 * a `service` dimension by default; Tidemark's metrics, and the alarms on them, have `Processor` only, so it goes.
 */
export function powertoolsMetrics(namespace: string, processor: string, logger: Logger): Metrics {
  const metrics = new Metrics({
    namespace,
    logger: {
      debug: (message: unknown) => logger.debug(String(message)),
      info: (message: unknown) => logger.info(String(message)),
      warn: (message: unknown) => logger.warn(String(message)),
      error: (message: unknown) => logger.error(String(message)),
    },
  });
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ Processor: processor });
  return metrics;
}
