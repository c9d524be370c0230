import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ConfigurationError } from '../errors.js';
import type { KafkaAdmin } from '../kafka/kafka-admin.js';
import { createLogger, describeError } from '../observability/logger.js';
import { METRICS_NAMESPACE } from '../observability/metrics.js';
import { powertoolsMetrics } from '../observability/powertools.js';
import {
  EVENT_SOURCES_ENV,
  LambdaEventSourceControl,
  parseEventSourceRefs,
} from '../operations/lambda-event-source-control.js';
import { ENV, kafkaAdminSettingsFromEnv } from '../settings.js';
import type { LambdaContext, LambdaHandler } from '../processing/lambda-handler.js';
import { handleAdminRequest, type AdminBackend, type ResetService } from './admin-api.js';
import { adminSettingsFromEnv } from './admin-settings.js';
import { adminStores } from './admin-stores.js';
import { sampleLag } from './lag-sampler.js';
import { resetService } from './reset-service.js';
import { SfnOperationRunner } from './sfn-operation-runner.js';

/** A Lambda function URL request (payload format 2.0), as far as the admin API reads it. */
export interface FunctionUrlEvent {
  readonly rawPath?: string;
  readonly headers?: Record<string, string | undefined>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: {
    readonly http?: { readonly method?: string };
    readonly authorizer?: { readonly iam?: { readonly userArn?: string } };
  };
}

/** The schedule's event: take a lag sample and publish the gauges. */
export interface SampleLagEvent {
  readonly action: 'sample-lag';
}

export interface FunctionUrlResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Options of {@link createAdminHandler}: what a deployment reads from its environment, replaceable in tests. */
export interface AdminHandlerOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** The status page (from the bundle). */
  readonly page?: AdminBackend['page'];
  /** The Kafka admin; by default made from the environment's Kafka settings, if any. */
  readonly kafka?: () => Promise<KafkaAdmin>;
  readonly resets?: ResetService;
  /** @default a DynamoDBClient from the environment */
  readonly dynamoDb?: DynamoDBClient;
  /** What runs layout changes and resets. @default Step Functions executions of the construct's state machines */
  readonly runner?: AdminBackend['runner'];
}

/**
 * The admin function: behind a function URL with `AWS_IAM` auth it answers the admin API (the caller's principal
 * ARN, as IAM authenticated it, goes into every audit item); from the schedule it takes a lag sample and publishes
 * `RecordLag`, `MaxTimeLagSeconds`, `StalledPartitions` and `EventSourceDisabledSeconds`.
 */
export function createAdminHandler(
  options: AdminHandlerOptions = {},
): LambdaHandler<FunctionUrlEvent | SampleLagEvent, FunctionUrlResult | { sampled: boolean }> {
  const env = options.env ?? process.env;
  const settings = adminSettingsFromEnv(env);
  const tableName = env[ENV.tableName];
  if (!tableName) throw new ConfigurationError(`${ENV.tableName} must be set (the construct sets it)`);
  const logger = createLogger({ processor: settings.processor }, env);
  const dynamoDb = options.dynamoDb ?? new DynamoDBClient({});
  const stores = adminStores(tableName, dynamoDb);
  const mappings = parseEventSourceRefs(env[EVENT_SOURCES_ENV]);
  const control = mappings.length ? new LambdaEventSourceControl(new LambdaClient({}), mappings) : undefined;
  let kafka: Promise<KafkaAdmin> | undefined;
  const kafkaSettings = kafkaAdminSettingsFromEnv(env);
  const connectKafka =
    options.kafka ??
    (kafkaSettings
      ? () =>
          (kafka ??= import('../kafka/kafkajs-admin.js').then(({ createKafkaAdmin }) =>
            createKafkaAdmin(kafkaSettings),
          ))
      : undefined);
  const backend: AdminBackend = {
    processors: [{ name: settings.processor, topics: settings.topics }],
    ...stores,
    runner: options.runner ?? new SfnOperationRunner(new SFNClient({}), settings.stateMachines),
    ...(connectKafka ? { kafka: connectKafka } : {}),
    ...(control ? { eventSources: (p: string) => (p === settings.processor ? control : undefined) } : {}),
    ...(options.resets
      ? { resets: options.resets }
      : connectKafka && settings.stateMachines.reset
        ? {
            resets: resetService({
              tableName,
              client: dynamoDb,
              tokens: stores.tokens,
              kafka: connectKafka,
              processors: [{ name: settings.processor, topics: settings.topics }],
            }),
          }
        : {}),
    ...(options.page ? { page: options.page } : {}),
    stallWindowMs: settings.stallWindowMs,
    logger,
  };
  const metrics = powertoolsMetrics(METRICS_NAMESPACE, settings.processor, logger);

  return async (event: FunctionUrlEvent | SampleLagEvent, _context: LambdaContext) => {
    if ('action' in event && event.action === 'sample-lag') {
      try {
        const { gauges } = await sampleLag(
          {
            ...stores,
            topics: settings.topics,
            ...(connectKafka ? { kafka: await connectKafka() } : {}),
            ...(control ? { eventSources: control } : {}),
          },
          settings.processor,
          { stallWindowMs: settings.stallWindowMs },
        );
        for (const [name, value] of Object.entries(gauges)) {
          if (value !== null)
            metrics.addMetric(name, name.endsWith('Seconds') ? MetricUnit.Seconds : MetricUnit.Count, value);
        }
        // The heartbeat: its absence says the sampler (and so the stall alarm) is not running.
        metrics.addMetric('LagSamples', MetricUnit.Count, 1);
        metrics.publishStoredMetrics();
        return { sampled: true };
      } catch (error) {
        logger.error('lag sample failed', { error: describeError(error) });
        throw error;
      }
    }
    const request = event as FunctionUrlEvent;
    const body =
      request.body === undefined
        ? undefined
        : request.isBase64Encoded
          ? Buffer.from(request.body, 'base64').toString('utf8')
          : request.body;
    const headers = Object.fromEntries(
      Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const response = await handleAdminRequest(
      {
        method: request.requestContext?.http?.method ?? 'GET',
        path: request.rawPath ?? '/',
        headers,
        body,
        // AWS_IAM auth: the URL refuses unsigned calls, so a principal is always there behind it.
        principal: request.requestContext?.authorizer?.iam?.userArn ?? 'unknown',
      },
      backend,
    );
    return { statusCode: response.status, headers: { ...response.headers }, body: response.body };
  };
}
