import middy from '@middy/core';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbDeadLetterStore } from '../dead-letters/dynamodb-dead-letter-store.js';
import { ConfigurationError } from '../errors.js';
import { createKafkaAdmin } from '../kafka/kafkajs-admin.js';
import {
  EVENT_SOURCES_ENV,
  LambdaEventSourceControl,
  parseEventSourceRefs,
} from '../operations/lambda-event-source-control.js';
import type { LambdaContext, LambdaHandler } from '../processing/lambda-handler.js';
import { ENV, kafkaAdminSettingsFromEnv, RESET_ENV, settingsFromEnv } from '../settings.js';
import { DynamoDbTokenStore } from '../tokens/dynamodb-token-store.js';
import type { ResetExecutionInput } from './reset-execution.js';
import type { ResetPlan } from './reset-plan.js';
import {
  ResetSteps,
  type GroupsCheck,
  type GroupsMoved,
  type ResetSources,
  type ResetStepsOptions,
} from './reset-steps.js';
import type { ResetWriteResult } from './reset-writer.js';

/** The reset state machine's task handlers, one per step (functions/reset/*.ts export them). */
export interface ResetHandlers {
  readonly disable: LambdaHandler<ResetExecutionInput, ResetSources>;
  readonly check: LambdaHandler<{ processor: string; sources: ResetSources }, GroupsCheck>;
  readonly plan: LambdaHandler<ResetExecutionInput & { sources: ResetSources }, ResetPlan>;
  readonly move: LambdaHandler<{ processor: string; plan: ResetPlan; sources: ResetSources }, GroupsMoved>;
  readonly write: LambdaHandler<ResetExecutionInput & { plan: ResetPlan }, ResetWriteResult>;
  readonly enable: LambdaHandler<
    { processor: string; sources: Pick<ResetSources, 'enabledBefore'> },
    { mappings: ReadonlyArray<{ topic: string; state: string }> }
  >;
}

/**
 * Builds the reset's steps from options and, for what is not given, the environment the construct sets: the token
 * table (`TIDEMARK_TABLE_NAME`), the processor's event source mappings (`TIDEMARK_EVENT_SOURCES`), the cluster
 * (`TIDEMARK_KAFKA_*`, `TIDEMARK_MSK_CLUSTER_ARN`) and the reset's timings (`TIDEMARK_RESET_*`).
 */
export function createResetSteps(
  options: Partial<ResetStepsOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): ResetSteps {
  const tableName = options.table?.tableName ?? env[ENV.tableName];
  if (!tableName) throw new ConfigurationError(`no token table: pass \`table\` or set ${ENV.tableName}`);
  const client = new DynamoDBClient({});
  const table = options.table ?? {
    documents: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    tableName,
  };
  let kafka = options.kafka;
  if (!kafka) {
    const settings = kafkaAdminSettingsFromEnv(env);
    if (!settings) {
      throw new ConfigurationError(
        'no Kafka cluster for the reset: set TIDEMARK_KAFKA_BROKERS or TIDEMARK_MSK_CLUSTER_ARN',
      );
    }
    kafka = () => createKafkaAdmin(settings);
  }
  let eventSources = options.eventSources;
  if (!eventSources) {
    const refs = parseEventSourceRefs(env[EVENT_SOURCES_ENV]);
    if (refs.length === 0) throw new ConfigurationError(`no event sources to pause: set ${EVENT_SOURCES_ENV}`);
    eventSources = new LambdaEventSourceControl(new LambdaClient({}), refs);
  }
  return new ResetSteps({
    table,
    layouts: options.layouts ?? new DynamoDbTokenStore({ tableName, client }),
    deadLetters: options.deadLetters ?? new DynamoDbDeadLetterStore({ tableName, client }),
    kafka,
    eventSources,
    settings: { ...settingsFromEnv(RESET_ENV, {}, env), ...options.settings },
    clock: options.clock,
  });
}

/** The reset state machine's Lambda handlers; the steps are built on the first invocation. */
export function createResetHandlers(
  options: Partial<ResetStepsOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): ResetHandlers {
  let steps: ResetSteps | undefined;
  const get = () => (steps ??= createResetSteps(options, env));
  const handler = <I, O>(step: (steps: ResetSteps, input: I) => Promise<O>) =>
    middy<I, O, Error, LambdaContext>().handler((input) => step(get(), input));
  return {
    disable: handler((s, input: ResetExecutionInput) => s.disable(input)),
    check: handler((s, input: { processor: string; sources: ResetSources }) => s.check(input)),
    plan: handler((s, input: ResetExecutionInput & { sources: ResetSources }) => s.plan(input)),
    move: handler((s, input: { processor: string; plan: ResetPlan; sources: ResetSources }) => s.move(input)),
    write: handler((s, input: ResetExecutionInput & { plan: ResetPlan }) => s.write(input)),
    enable: handler((s, input: { processor: string; sources: Pick<ResetSources, 'enabledBefore'> }) => s.enable(input)),
  };
}
