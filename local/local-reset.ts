import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { StateMachine, type StateMachineDefinition as AslMachine } from 'aws-local-stepfunctions';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  RESET_STATE_NAMES,
  RESET_TASK_FUNCTIONS,
  ResetStateMachine,
  type ResetFunctions,
} from '../cdk/reset-state-machine.js';
import { DynamoDbDeadLetterStore } from '../shared/dead-letters/dynamodb-dead-letter-store.js';
import type { KafkaAdmin } from '../shared/kafka/kafka-admin.js';
import { createKafkaAdmin, type KafkaAdminOptions } from '../shared/kafka/kafkajs-admin.js';
import type { EventSourceControl } from '../shared/operations/event-source-control.js';
import type { ResetExecutionInput } from '../shared/reset/reset-execution.js';
import { createResetHandlers } from '../shared/reset/reset-handlers.js';
import type { ResetRunResult } from '../shared/reset/run-reset.js';
import type { ResetSettings } from '../shared/settings.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import type { Clock } from '../shared/tokens/token-store.js';
import { lambdaContext, type LocalLambdaContext } from './lambda-context.js';
import { resolveDefinition, type StateMachineDefinition } from './local-state-machines.js';

// Like local-state-machines.ts, this module imports aws-cdk-lib, constructs and aws-local-stepfunctions (optional
// peers) at its top: load it with importPeer (the CLI does) rather than from tidemark/local's entry.

/** Settings of {@link runResetLocally}. */
export interface LocalResetOptions {
  /** A client of the DynamoDB holding the token table (DynamoDB Local). */
  readonly dynamoDb: DynamoDBClient;
  readonly tableName: string;
  /** The Kafka cluster's brokers (plain, as the local stack's), or an admin to use for every step. */
  readonly brokers?: readonly string[];
  readonly kafka?: () => KafkaAdmin;
  readonly kafkaOptions?: KafkaAdminOptions;
  /** What delivers the processor's records: the local stack's poller (see local/poller-control.ts). */
  readonly eventSources: EventSourceControl;
  /** The reset's timings; `pollSeconds` is also how long the wait state waits, unless `waitMs` says otherwise. */
  readonly settings?: Partial<ResetSettings>;
  /** How long the machine's wait-for-groups state waits. @default 200 */
  readonly waitMs?: number;
  /** Called after every task state with its output. */
  readonly onStep?: (state: string, output: unknown) => void | Promise<void>;
  readonly clock?: Clock;
}

/** The state a reset execution ends with: its input and every step's answer. */
export type LocalResetResult = ResetRunResult;

let synthesized: StateMachineDefinition | undefined;

/**
 * The reset state machine's definition as CloudFormation would receive it, synthesized offline from the construct
 * the deployment uses (once per process; each call returns a copy).
 */
export function synthesizeResetDefinition(): StateMachineDefinition {
  synthesized ??= synthesize();
  return structuredClone(synthesized);
}

function synthesize(): StateMachineDefinition {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'TidemarkLocalReset');
  const fn = (name: string) =>
    new lambda.Function(stack, name, {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({});'),
    });
  const functions: ResetFunctions = {
    disable: fn('Disable'),
    check: fn('Check'),
    plan: fn('Plan'),
    move: fn('Move'),
    write: fn('Write'),
    enable: fn('Enable'),
  };
  const table = new dynamodb.Table(stack, 'Tokens', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  });
  const mapping = new lambda.EventSourceMapping(stack, 'Mapping', {
    target: functions.disable,
    kafkaBootstrapServers: ['localhost:9092'],
    kafkaTopic: 'local',
    startingPosition: lambda.StartingPosition.TRIM_HORIZON,
  });
  const reset = new ResetStateMachine(stack, 'Reset', {
    processorName: 'local',
    table,
    eventSources: [{ topic: 'local', consumerGroupId: 'local', mapping }],
    kafka: { brokers: ['localhost:9092'] },
    functions,
  });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<
    string,
    { Properties: Record<string, unknown> }
  >;
  const logicalId = stack.getLogicalId(reset.stateMachine.node.defaultChild as never);
  return resolveDefinition(resources[logicalId]!.Properties.DefinitionString);
}

/**
 * Runs a reset in this process: the synthesized reset state machine, executed by aws-local-stepfunctions, its task
 * states calling the real step handlers (those `functions/reset/*` export) against the given DynamoDB, Kafka cluster
 * and event source control. Resolves with the execution's final state; rejects with the error of the step that
 * failed it (a typed Tidemark error: ResetRequestError, ResetConflictError, GroupsNotEmptyError, …) once the event
 * sources are enabled again.
 *
 * ```ts
 * const control = new PollerEventSourceControl({ topics: ['orders'], groupId: 'orders-view', running: poller, createPoller });
 * const result = await runResetLocally(
 *   resetExecutionInput({ processor: 'orders-view', resetId: newResetId('orders-view'), to: 'earliest', by: 'me' }),
 *   { dynamoDb: client, tableName, brokers, eventSources: control },
 * );
 * ```
 */
export async function runResetLocally(
  input: ResetExecutionInput,
  options: LocalResetOptions,
): Promise<LocalResetResult> {
  const documents = DynamoDBDocumentClient.from(options.dynamoDb, { marshallOptions: { removeUndefinedValues: true } });
  const brokers = options.brokers ?? [];
  const kafka = options.kafka ?? (() => createKafkaAdmin({ brokers }, options.kafkaOptions));
  const lambdas = createResetHandlers(
    {
      table: { documents, tableName: options.tableName },
      layouts: new DynamoDbTokenStore({ tableName: options.tableName, client: options.dynamoDb, clock: options.clock }),
      deadLetters: new DynamoDbDeadLetterStore({
        tableName: options.tableName,
        client: options.dynamoDb,
        clock: options.clock,
      }),
      kafka,
      eventSources: options.eventSources,
      settings: options.settings,
      clock: options.clock,
    },
    {},
  );
  // The first error a step threw that failed the execution: rethrown as it was, not as the Fail state's copy.
  const thrown: Error[] = [];
  const handlers = Object.fromEntries(
    Object.entries(RESET_TASK_FUNCTIONS).map(([state, step]) => [
      state,
      async (taskInput: unknown) => {
        const handler = lambdas[step] as (event: unknown, context: LocalLambdaContext) => Promise<unknown>;
        const payload = JSON.parse(JSON.stringify(taskInput)) as unknown;
        let output: unknown;
        try {
          output = JSON.parse(
            JSON.stringify(await handler(payload, lambdaContext(600_000, `${input.resetId}-${step}`, step))),
          ) as unknown;
        } catch (error) {
          if (error instanceof Error) thrown.push(error);
          throw error;
        }
        await options.onStep?.(state, output);
        return output as never;
      },
    ]),
  );
  const machine = new StateMachine(synthesizeResetDefinition() as unknown as AslMachine, {
    validationOptions: { checkArn: false },
  });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers,
      waitTimeOverrides: { [RESET_STATE_NAMES.wait]: options.waitMs ?? 200 },
      retryIntervalOverrides: Object.fromEntries(Object.keys(RESET_TASK_FUNCTIONS).map((state) => [state, 50])),
    },
    context: { Execution: { Name: input.resetId, Input: input, StartTime: new Date().toISOString() } } as never,
  });
  try {
    return (await execution.result) as unknown as LocalResetResult;
  } catch (error) {
    const failed = (error as { cause?: { name?: string } }).cause?.name;
    throw thrown.findLast((e) => e.name === failed) ?? error;
  }
}
