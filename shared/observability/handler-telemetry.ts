import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { LambdaContext } from '../processing/lambda-handler.js';
import { metricsPartitionDimensionFromEnv } from '../settings.js';
import { logLevelFromEnv, type Logger } from './logger.js';
import { ProcessorMetrics } from './metrics.js';
import { clientCapture, fromPowertools, powertoolsLogger, processorTracer } from './powertools.js';

/** Wraps an AWS SDK v3 client so its calls appear in the trace; the client itself when tracing is off. */
export type ClientCapture = <C>(client: C) => C;

/** What a handler factory is given about its logs and metrics. */
export interface TelemetryOptions {
  /** @default a Powertools Logger (service and `processor` = the processor's name) */
  readonly logger?: Logger;
  /** Publish EMF metrics. @default true */
  readonly metrics?: boolean;
  /** Also publish per-partition metrics. @default TIDEMARK_METRICS_PARTITION_DIMENSION, else false */
  readonly metricsPartitionDimension?: boolean;
}

/**
 * The logger, metrics and tracer of one Lambda handler, and the middy middlewares that tie them to each invocation:
 * the tracer's `## handler` subsegment (cold start and service annotations) and the Lambda context on log lines.
 */
export interface HandlerTelemetry {
  readonly logger: Logger;
  /** Undefined with `metrics: false`. */
  readonly metrics: ProcessorMetrics | undefined;
  /** Wraps the handler's AWS SDK clients (DynamoDB, Lambda) so their calls appear in the trace. */
  readonly capture: ClientCapture;
  readonly middlewares: ReadonlyArray<MiddlewareObj<never, never, Error, LambdaContext>>;
  /** Annotates the invocation's trace with the processor (nothing when tracing is off). */
  annotate(): void;
}

/**
 * Builds a handler's telemetry from Powertools for AWS Lambda. Outside Lambda (tests, the local stack) the tracer is
 * off, and a logger given in `options` replaces the Powertools one.
 */
export function handlerTelemetry(
  processor: string,
  options: TelemetryOptions,
  env: NodeJS.ProcessEnv = process.env,
): HandlerTelemetry {
  const tracer = processorTracer(processor);
  const middlewares: Array<MiddlewareObj<never, never, Error, LambdaContext>> = [];
  // Powertools' middlewares are typed for aws-lambda's Context, of which Tidemark reads a part.
  const middleware = (m: unknown) => middlewares.push(m as MiddlewareObj<never, never, Error, LambdaContext>);
  middleware(captureLambdaHandler(tracer));
  let logger = options.logger;
  if (!logger) {
    const level = logLevelFromEnv(env);
    const powertools = powertoolsLogger({ processor, ...(level === undefined ? {} : { level }) });
    middleware(injectLambdaContext(powertools));
    logger = fromPowertools(powertools);
  }
  const partitionDimension = options.metricsPartitionDimension ?? metricsPartitionDimensionFromEnv(env);
  return {
    logger,
    metrics: options.metrics === false ? undefined : new ProcessorMetrics({ processor, partitionDimension, logger }),
    capture: clientCapture(tracer),
    middlewares,
    annotate: () => {
      if (tracer.isTracingEnabled()) tracer.putAnnotation('Processor', processor);
    },
  };
}
