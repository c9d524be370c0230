import middy from '@middy/core';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Agent } from 'node:https';
import type { LambdaContext, LambdaHandler } from './lambda-handler.js';
import { Dispatcher, type KafkaBatchResponse } from './dispatcher.js';
import {
  DISPATCHER_ENV,
  ENV,
  resolveDispatcherSettings,
  settingsFromEnv,
  type DispatcherSettings,
} from '../settings.js';
import { ConfigurationError } from '../errors.js';
import { DynamoDbTokenStore } from '../tokens/dynamodb-token-store.js';
import {
  LambdaFanOutRunner,
  runSegmentWorker,
  type SegmentWorkerRequest,
  type SegmentWorkerResponse,
} from './fan-out.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { handlerTelemetry, type HandlerTelemetry } from '../observability/handler-telemetry.js';
import { DynamoDbDeadLetterStore } from '../dead-letters/dynamodb-dead-letter-store.js';
import type { DeadLetterStore, ParkedKeyRef } from '../dead-letters/dead-letter-store.js';
import { isSyntheticKey, keyDigest } from '../dead-letters/dead-letter.js';
import { parseTopicPartition } from '../kafka/kafka-record.js';
import { Redriver, type RedriveReport } from '../dead-letters/redriver.js';
import type { ProcessorObserver } from './observer.js';
import type { Processor } from './processor.js';
import { InlineRunner } from './segment-runner.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';

/**
 * middy's early timeout would answer Lambda with an error while the dispatch still runs and may checkpoint; the
 * dispatch keeps its own deadline (`checkpointReserveMs` before the end) and answers itself.
 */
const NO_EARLY_TIMEOUT = { timeoutEarlyInMillis: 0 } as const;

/** Where records run: in the dispatcher's own process, or in one segment-worker invocation per segment. */
export const ProcessingMode = { Inline: 'inline', FanOut: 'fan-out' } as const;
export type ProcessingMode = (typeof ProcessingMode)[keyof typeof ProcessingMode];

/**
 * How a handler reaches its token store and workers. Each option falls back to an environment variable set by the
 * CDK construct, then to a default.
 */
export interface RuntimeOptions extends Partial<DispatcherSettings> {
  /** @default a DynamoDbTokenStore on `tableName` */
  readonly store?: TokenStore;
  /** @default process.env.TIDEMARK_TABLE_NAME (required unless `store` is given) */
  readonly tableName?: string;
  /** @default process.env.TIDEMARK_MODE, else 'inline' */
  readonly mode?: ProcessingMode;
  /** The segment worker's name or ARN (fan-out mode). @default process.env.TIDEMARK_WORKER_FUNCTION */
  readonly workerFunctionName?: string;
  readonly lambdaClient?: LambdaClient;
  /**
   * Tidemark's own lines and handlers' `context.logger`. @default a Powertools Logger (service and `processor` = the
   * processor's name, level from TIDEMARK_LOG_LEVEL or POWERTOOLS_LOG_LEVEL, Lambda context keys on every line)
   */
  readonly logger?: Logger;
  /** @default Date.now */
  readonly clock?: Clock;
  /**
   * Print CloudWatch EMF metrics (Powertools Metrics; namespace `Tidemark`, dimension `Processor`) after every batch.
   * @default true
   */
  readonly metrics?: boolean;
  /**
   * Also publish each partition's counts and lags with the dimensions `Processor` and `Partition`.
   * @default process.env.TIDEMARK_METRICS_PARTITION_DIMENSION === 'true'
   */
  readonly metricsPartitionDimension?: boolean;
  /** Where dead letters are read and resolved (redrive). @default a DynamoDbDeadLetterStore on `tableName` */
  readonly deadLetters?: DeadLetterStore;
  /**
   * Told of claims, checkpoints, parks and hand-backs (dispatch), failed attempts (wherever they ran) and redrives;
   * its errors are logged and never change processing. @default none
   */
  readonly observer?: ProcessorObserver;
}

/**
 * Resolves options against the environment; a ConfigurationError names what is missing or wrong. `capture` wraps
 * the AWS SDK clients made here (the tracer's, in a Lambda handler).
 */
export function resolveRuntime(
  options: RuntimeOptions = {},
  env: NodeJS.ProcessEnv = process.env,
  capture: <C>(client: C) => C = (client) => client,
) {
  const settings = settingsFromEnv(DISPATCHER_ENV, options, env);
  const mode = options.mode ?? ((env[ENV.mode] as ProcessingMode | undefined) || ProcessingMode.Inline);
  if (mode !== ProcessingMode.Inline && mode !== ProcessingMode.FanOut) {
    throw new ConfigurationError(`mode must be "inline" or "fan-out", got "${String(mode)}"`);
  }
  const tableName = options.tableName ?? env[ENV.tableName];
  if (!options.store && !tableName) {
    throw new ConfigurationError('no token store: pass `store` or `tableName`, or set TIDEMARK_TABLE_NAME');
  }
  const clock = options.clock ?? Date.now;
  const dynamoDb = () => capture(new DynamoDBClient({}));
  const store = options.store ?? new DynamoDbTokenStore({ tableName: tableName!, clock, client: dynamoDb() });
  const workerFunctionName = options.workerFunctionName ?? env[ENV.workerFunction];
  if (mode === ProcessingMode.FanOut && !workerFunctionName) {
    throw new ConfigurationError(
      'fan-out mode needs the segment worker: pass `workerFunctionName` or set TIDEMARK_WORKER_FUNCTION',
    );
  }
  return {
    settings: resolveDispatcherSettings(settings),
    mode,
    store,
    clock,
    logger: options.logger ?? createLogger({}, env),
    workerFunctionName,
    tableName,
    lambdaClient: options.lambdaClient ?? (mode === ProcessingMode.FanOut ? capture(workerClient()) : undefined),
    observer: options.observer,
    dynamoDb,
  };
}

/**
 * The client that invokes segment workers: no automatic retry (a request that may have reached a worker is never
 * sent twice; the runner retries only throttling, answered before a worker starts), and a socket pool large enough
 * that a batch over many segments invokes them all at once instead of in waves of the default 50.
 */
function workerClient(): LambdaClient {
  return new LambdaClient({
    maxAttempts: 1,
    requestHandler: { httpsAgent: new Agent({ keepAlive: true, maxSockets: 1_024 }) },
  });
}

/** Builds the dispatcher a handler uses (exposed for the local stack, which drives it without Lambda). */
export function createDispatcher(processor: Processor, options: RuntimeOptions = {}): Dispatcher {
  return dispatcherFor(processor, resolveRuntime(options));
}

function dispatcherFor(
  processor: Processor,
  runtime: ReturnType<typeof resolveRuntime>,
  onHandlerDuration?: (ms: number) => void,
): Dispatcher {
  const runner =
    runtime.mode === ProcessingMode.FanOut
      ? new LambdaFanOutRunner({
          client: runtime.lambdaClient ?? workerClient(),
          clock: runtime.clock,
          functionName: runtime.workerFunctionName!,
          logger: runtime.logger,
        })
      : new InlineRunner({ clock: runtime.clock });
  return new Dispatcher({
    processor,
    store: runtime.store,
    runner,
    settings: runtime.settings,
    clock: runtime.clock,
    logger: runtime.logger,
    ...(runtime.observer ? { observer: runtime.observer } : {}),
    ...(onHandlerDuration ? { onHandlerDuration } : {}),
  });
}

/** A handler's telemetry and its runtime, whose logger is the telemetry's and whose AWS clients it traces. */
function instrumented(processor: Processor, options: RuntimeOptions) {
  const telemetry = handlerTelemetry(processor.name, options);
  const runtime = resolveRuntime({ ...options, logger: telemetry.logger }, process.env, telemetry.capture);
  return { telemetry, runtime };
}

/** A middy handler with the telemetry's middlewares (the trace subsegment, the Lambda context on log lines). */
function instrumentedHandler<TEvent, TResult>(
  telemetry: HandlerTelemetry,
  body: (event: TEvent, context: LambdaContext) => Promise<TResult>,
): LambdaHandler<TEvent, TResult> {
  const handler = middy<TEvent, TResult, Error, LambdaContext>(NO_EARLY_TIMEOUT);
  for (const middleware of telemetry.middlewares) handler.use(middleware as never);
  return handler.handler(async (event, context) => {
    telemetry.annotate();
    return body(event, context);
  });
}

/**
 * The Lambda handler for the Kafka event source: returns the partial batch response. Use with
 * `FunctionResponseTypes: [ReportBatchItemFailures]` on the event source mapping.
 */
export function createDispatchHandler(
  processor: Processor,
  options: RuntimeOptions = {},
): LambdaHandler<unknown, KafkaBatchResponse> {
  const { telemetry, runtime } = instrumented(processor, options);
  const { metrics } = telemetry;
  const dispatcher = dispatcherFor(processor, runtime, metrics && ((ms) => metrics.handlerDuration(ms)));
  const { logger } = runtime;
  return instrumentedHandler<unknown, KafkaBatchResponse>(telemetry, async (event, context) => {
    let result;
    try {
      result = await dispatcher.dispatch(event, {
        remainingMs: () => context.getRemainingTimeInMillis(),
        invocationId: context.awsRequestId,
      });
    } catch (error) {
      // The event was refused (Lambda retries it): the handler calls that ran are still counted.
      metrics?.flush();
      throw error;
    }
    logger.info('batch processed', { layoutVersion: result.layoutVersion, partitions: result.partitions });
    metrics?.batch(result, runtime.clock());
    return result.response;
  });
}

/** The Lambda handler of the segment worker (fan-out mode). */
export function createSegmentWorkerHandler(
  processor: Processor,
  options: RuntimeOptions = {},
): LambdaHandler<SegmentWorkerRequest, SegmentWorkerResponse> {
  const { telemetry, runtime } = instrumented(processor, { ...options, mode: ProcessingMode.Inline });
  const { metrics } = telemetry;
  return instrumentedHandler<SegmentWorkerRequest, SegmentWorkerResponse>(telemetry, async (request, context) => {
    if (request.processor !== processor.name) {
      throw new ConfigurationError(`worker of "${processor.name}" was sent work of "${String(request.processor)}"`);
    }
    try {
      return await runSegmentWorker(request, {
        processor,
        store: runtime.store,
        clock: runtime.clock,
        logger: runtime.logger,
        leaseMs: runtime.settings.leaseMs,
        leaseSafetyMs: runtime.settings.leaseSafetyMs,
        checkpointReserveMs: Math.min(1_000, runtime.settings.checkpointReserveMs),
        remainingMs: () => context.getRemainingTimeInMillis(),
        requestId: context.awsRequestId,
        ...(runtime.observer ? { observer: runtime.observer } : {}),
        ...(metrics ? { onHandlerDuration: (ms: number) => metrics.handlerDuration(ms) } : {}),
      });
    } finally {
      // The worker's handler calls, for the dashboard's handler latency.
      metrics?.flush();
    }
  });
}

/** What the redrive function is invoked with: nothing (the schedule), or the keys to redrive now. */
export interface RedriveRequest {
  readonly action?: 'redrive-due' | 'redrive-keys';
  /** With `redrive-keys`: each a partition and the key (or its digest). */
  readonly keys?: ReadonlyArray<{ readonly topicPartition: string; readonly key?: string; readonly digest?: string }>;
}

/**
 * The Lambda handler that redrives dead letters: on the schedule every key that is due, or (invoked by
 * `tidemark dead-letters retry --function`) the keys it is given. Prints the processor's dead-letter gauges as EMF.
 */
export function createRedriveHandler(
  processor: Processor,
  options: RuntimeOptions & { keysPerRun?: number } = {},
): LambdaHandler<RedriveRequest | undefined, RedriveReport> {
  const { telemetry, runtime } = instrumented(processor, { ...options, mode: ProcessingMode.Inline });
  const { keysPerRun } = settingsFromEnv({ keysPerRun: ENV.redriveKeysPerRun }, options, process.env);
  const deadLetters =
    options.deadLetters ??
    new DynamoDbDeadLetterStore({ tableName: runtime.tableName!, clock: runtime.clock, client: runtime.dynamoDb() });
  const redriver = new Redriver({
    processor,
    store: runtime.store,
    deadLetters,
    logger: runtime.logger,
    clock: runtime.clock,
    settings: { leaseMs: runtime.settings.leaseMs, ...(keysPerRun === undefined ? {} : { keysPerRun }) },
    ...(runtime.observer ? { observer: runtime.observer } : {}),
  });
  return instrumentedHandler<RedriveRequest | undefined, RedriveReport>(telemetry, async (request, context) => {
    const remainingMs = () => context.getRemainingTimeInMillis();
    let report: RedriveReport;
    if (request?.action === 'redrive-keys') {
      const keys = [];
      const deadline = runtime.clock() + remainingMs() - 5_000;
      for (const target of request.keys ?? []) {
        const ref = parkedKeyRef(processor.name, target);
        keys.push(await redriver.redriveKey(ref, { deadline, requestId: context.awsRequestId }));
      }
      report = {
        keys,
        redriven: keys.reduce((n, k) => n + k.redriven, 0),
      };
    } else {
      report = await redriver.redriveDue({ remainingMs, requestId: context.awsRequestId });
      telemetry.metrics?.deadLetters({
        ParkedKeys: report.parkedKeys ?? 0,
        OldestParkedAgeSeconds: report.oldestParkedAgeSeconds ?? 0,
        RecordsRedriven: report.redriven,
      });
    }
    runtime.logger.info('redrive run', { redriven: report.redriven, keys: report.keys });
    return report;
  });
}

/** A parked key named by partition and key (or digest); a ConfigurationError names what is wrong. */
export function parkedKeyRef(
  processor: string,
  target: { readonly topicPartition: string; readonly key?: string; readonly digest?: string },
): ParkedKeyRef {
  const partition = parseTopicPartition(target.topicPartition);
  if (!partition) {
    throw new ConfigurationError(
      `"${target.topicPartition}" is not a partition: use <topic>-<partition>, e.g. orders-3`,
    );
  }
  if (target.digest === undefined && target.key === undefined) {
    throw new ConfigurationError('name the parked key by its key or its digest');
  }
  return { processor, ...partition, digest: target.digest ?? keyDigest(target.key!, isSyntheticKey(target.key!)) };
}
