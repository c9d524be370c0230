import middy from '@middy/core';
import { ConfigurationError } from '../errors.js';
import { DynamoDbTokenStore } from '../tokens/dynamodb-token-store.js';
import { LayoutCoordinator, type BeginInput, type ChangeState, type ScalePlan } from './layout-change.js';
import type { LambdaContext, LambdaHandler } from '../processing/lambda-handler.js';
import {
  COORDINATOR_ENV,
  ENV,
  resolveCoordinatorSettings,
  settingsFromEnv,
  type CoordinatorSettings,
} from '../settings.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';

/** How coordinator handlers reach the token store; each option falls back to the environment the construct sets. */
export interface CoordinatorOptions extends Partial<CoordinatorSettings> {
  /** @default a DynamoDbTokenStore on process.env.TIDEMARK_TABLE_NAME */
  readonly store?: TokenStore;
  readonly clock?: Clock;
}

/** Builds the coordinator from options and environment. */
export function createCoordinator(
  options: CoordinatorOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): LayoutCoordinator {
  const settings = resolveCoordinatorSettings(settingsFromEnv(COORDINATOR_ENV, options, env));
  const tableName = env[ENV.tableName];
  if (!options.store && !tableName)
    throw new ConfigurationError('no token store: pass `store` or set TIDEMARK_TABLE_NAME');
  const store = options.store ?? new DynamoDbTokenStore({ tableName: tableName!, clock: options.clock });
  return new LayoutCoordinator(store, { settings, clock: options.clock });
}

/** The Lambda handlers of the split/merge/scale state machines' task states. */
/** The coordinator's Lambda handlers, one per task state. */
export interface CoordinatorHandlers {
  readonly begin: LambdaHandler<BeginInput, ChangeState>;
  readonly check: LambdaHandler<ChangeState, ChangeState>;
  readonly apply: LambdaHandler<ChangeState, ChangeState>;
  readonly rollback: LambdaHandler<ChangeState, ChangeState>;
  readonly plan: LambdaHandler<{ processor: string; target: number; step?: number; executionName: string }, ScalePlan>;
}

export function createCoordinatorHandlers(options: CoordinatorOptions = {}): CoordinatorHandlers {
  let coordinator: LayoutCoordinator | undefined;
  const get = () => (coordinator ??= createCoordinator(options));
  return {
    begin: middy<BeginInput, ChangeState, Error, LambdaContext>().handler((input) => get().begin(input)),
    check: middy<ChangeState, ChangeState, Error, LambdaContext>().handler((state) => get().check(state)),
    apply: middy<ChangeState, ChangeState, Error, LambdaContext>().handler((state) => get().apply(state)),
    rollback: middy<ChangeState, ChangeState, Error, LambdaContext>().handler((state) => get().rollback(state)),
    plan: middy<
      { processor: string; target: number; step?: number; executionName: string },
      ScalePlan,
      Error,
      LambdaContext
    >().handler((input) => get().planScale(input)),
  };
}
