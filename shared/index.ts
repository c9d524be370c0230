/**
 * Tidemark: segmented, key-ordered Kafka processing on AWS Lambda with a DynamoDB token store.
 *
 * Define a processor with {@link defineProcessor}, export {@link createDispatchHandler} as the Kafka-triggered
 * Lambda handler, and (in fan-out mode) {@link createSegmentWorkerHandler} as the segment worker.
 * @packageDocumentation
 */
export {
  TidemarkError,
  MalformedEventError,
  MalformedRecordError,
  SequencingKeyError,
  ConfigurationError,
  LayoutError,
  UnknownProcessorError,
  ClaimHeldError,
  StaleLayoutError,
  FencedError,
  LayoutConflictError,
  NonRetriableError,
  isRetriable,
} from './errors.js';
export {
  KafkaRecord,
  TimestampType,
  topicPartitionId,
  parseTopicPartition,
  type KafkaHeader,
  type KafkaRecordFields,
} from './kafka/kafka-record.js';
export {
  parseKafkaEvent,
  KafkaEventSource,
  type ParsedKafkaBatch,
  type RawKafkaEvent,
  type RawKafkaRecord,
} from './kafka/kafka-event.js';
export { javaStringHashCode, defaultHash, type HashFunction } from './routing/hash.js';
export { Sequencing, sequencingKeyOf, type SequencingPolicy } from './routing/sequencing-policy.js';
export {
  ROOT_SEGMENT,
  MAX_SEGMENT_DEPTH,
  segmentMatches,
  splitSegment,
  siblingOf,
  mergeSegments,
  parentOf,
  segmentName,
  parseSegmentName,
  type Segment,
} from './routing/segment.js';
export {
  SegmentState,
  LayoutOperation,
  balancedSegments,
  assertCompleteCover,
  SegmentRouter,
  type Layout,
  type LayoutSegment,
  type LayoutChange,
} from './routing/layout.js';
export { PartitionToken, type TokenCell } from './tokens/token.js';
/** A reset's replay: the token a partition had at the reset, read on every claim until the token passes it. */
export { replayPassed, isReplayed, type Replay } from './tokens/replay.js';
export { type Position, type OffsetRange } from './tokens/position.js';
export type {
  TokenStore,
  CheckpointChanges,
  FailureCount,
  Claim,
  ClaimRef,
  ClaimRequest,
  PartitionState,
  ProcessorState,
  Clock,
} from './tokens/token-store.js';
export { DynamoDbTokenStore, type DynamoDbTokenStoreOptions } from './tokens/dynamodb-token-store.js';
export { MemoryTokenStore } from './tokens/memory-token-store.js';
export { createTokenTable, TOKEN_TABLE_KEYS, PARTITION_ATTRIBUTES } from './tokens/token-table.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './processing/retry-policy.js';
export {
  DEFAULT_DEAD_LETTER_POLICY,
  DEFAULT_LAMBDA_RETRY_ATTEMPTS,
  type DeadLetterPolicy,
} from './dead-letters/dead-letter-policy.js';
export {
  ParkReason,
  SyntheticKey,
  keyDigest,
  isParked,
  type DeadLetter,
  type LetterError,
  type ParkedKey,
  type SourceSkip,
} from './dead-letters/dead-letter.js';
export {
  RedriveRefusedError,
  type DeadLetterStore,
  type ParkedKeyRef,
  type ParkedKeyState,
  type RedriveLease,
  type AuditEntry,
  type AuditNote,
} from './dead-letters/dead-letter-store.js';
export {
  DynamoDbDeadLetterStore,
  type DynamoDbDeadLetterStoreOptions,
} from './dead-letters/dynamodb-dead-letter-store.js';
export {
  Redriver,
  DEFAULT_REDRIVE_SETTINGS,
  type RedriveSettings,
  type RedriveReport,
  type KeyRedrive,
} from './dead-letters/redriver.js';
export {
  defineProcessor,
  ReplayMode,
  type ProcessorDefinition,
  type Processor,
  type HandlerContext,
  type RecordHandler,
} from './processing/processor.js';
/**
 * Record formats: declare `key` and `value` on a processor (`value: avro({ registry: confluentRegistry({ url }) })`)
 * and the handler gets `record.decodedKey` / `record.decodedValue`, with the writer schema in `context.schema`. A
 * record that cannot be decoded is a {@link RecordDecodeError} and is parked with its raw bytes.
 */
export { json, string, bytes, type JsonOptions, type StandardSchema } from './formats/plain-formats.js';
export { avro, type AvroOptions, type AvroSchemaInput } from './formats/avro.js';
export { protobuf, type ProtobufOptions } from './formats/protobuf.js';
export { jsonSchema, type JsonSchemaOptions } from './formats/json-schema.js';
export {
  confluentRegistry,
  CONFLUENT_MAGIC_BYTE,
  type ConfluentRegistryOptions,
} from './formats/confluent-registry.js';
export {
  glueRegistry,
  GLUE_HEADER_VERSION,
  GlueCompression,
  type GlueRegistryOptions,
  type GlueSchemaClient,
} from './formats/glue-registry.js';
export {
  SchemaCache,
  type SchemaRegistry,
  type SchemaCacheOptions,
  type WriterSchema,
  type Frame,
} from './formats/schema-registry.js';
export {
  DataFormat,
  isRecordFormat,
  type RecordFormat,
  type Decoded,
  type SchemaInfo,
  type SchemaFormat,
} from './formats/record-format.js';
export { RecordDecodeError, DecodeFailure, type RecordPart } from './formats/record-decode-error.js';
export { DecodedRecord, type HandlerRecord, type FormattedHandler } from './formats/decoded-record.js';
/**
 * Exactly-once effects: {@link exactlyOnce} writes a record's effects into the team's own DynamoDB tables so that
 * each lands once (every item keeps the position of the last record of each key applied to it, and every write is
 * conditional on it; several items go in one transaction); {@link idempotency} runs effects outside DynamoDB once
 * per record or key, with a completion fenced by the claim's owner and epoch. Their counts (`EffectsApplied`,
 * `EffectsAlreadyApplied`, `TransactionConflicts`) go out with the processor's metrics.
 */
export {
  exactlyOnce,
  requestToken,
  TRANSACTION_LIMITS,
  type ExactlyOnce,
  type ExactlyOnceOptions,
  type EffectContext,
  type EffectUpdate,
  type EffectPut,
  type EffectConditionCheck,
  type EffectAction,
  type EffectResult,
  type EffectStats,
} from './effects/exactly-once.js';
export {
  idempotency,
  idempotencyKey,
  IdempotencyStatus,
  MAX_RESULT_BYTES,
  type Idempotency,
  type IdempotencyOptions,
  type IdempotencyContext,
  type IdempotentCallOptions,
} from './effects/idempotency.js';
export { positionAttribute, type RecordPosition } from './effects/effect-position.js';
export { EffectMetric } from './effects/effect-metrics.js';
export {
  EffectRefusedError,
  EffectRefusal,
  EffectConditionFailedError,
  TransactionConflictError,
  IdempotencyInProgressError,
  IdempotencyFencedError,
  IdempotencyResultError,
} from './effects/effect-errors.js';
export {
  Dispatcher,
  type DispatchResult,
  type PartitionReport,
  type KafkaBatchResponse,
  type BatchItemFailure,
} from './processing/dispatcher.js';
export {
  InlineRunner,
  type SegmentRunner,
  type RunStream,
  type WorkItem,
  type RunContext,
} from './processing/segment-runner.js';
export { type RecordOutcome } from './processing/key-scheduler.js';
export {
  LambdaFanOutRunner,
  runSegmentWorker,
  type SegmentWorkerRequest,
  type SegmentWorkerResponse,
} from './processing/fan-out.js';
export {
  createDispatchHandler,
  createSegmentWorkerHandler,
  createDispatcher,
  createRedriveHandler,
  parkedKeyRef,
  type RedriveRequest,
  ProcessingMode,
  type RuntimeOptions,
} from './processing/handlers.js';
export {
  DEFAULT_DISPATCHER_SETTINGS,
  DEFAULT_COORDINATOR_SETTINGS,
  CONCURRENCY,
  resolveDispatcherSettings,
  resolveCoordinatorSettings,
  METRICS_ENV,
  type DispatcherSettings,
  type CoordinatorSettings,
} from './settings.js';
export type { LambdaContext, LambdaHandler } from './processing/lambda-handler.js';
/**
 * Observing a processor: {@link ProcessorObserver} is told of claims, checkpoints, parks, hand-backs, failed attempts
 * and redrives, each after the write it reports succeeded; pass it as `observer` to the handler factories.
 */
export {
  HandBackReason,
  type ProcessorObserver,
  type PartitionEvent,
  type ClaimEvent,
  type CheckpointEvent,
  type ParkEvent,
  type HandBackEvent,
  type RecordFailedEvent,
  type RedriveEvent,
} from './processing/observer.js';
export {
  createLogger,
  jsonLogger,
  silentLogger,
  withLogKeys,
  type Logger,
  type LoggerOptions,
} from './observability/logger.js';
export {
  LayoutCoordinator,
  planChange,
  planScaleStep,
  changeExecutionName,
  type ChangeState,
  type LayoutPlan,
} from './coordination/layout-change.js';
export {
  createCoordinatorHandlers,
  createCoordinator,
  type CoordinatorOptions,
} from './coordination/coordinator-handlers.js';
/**
 * One in-process call that runs a whole split, merge or scale as the state machines do (begin, drain checks, apply or
 * roll back): {@link changeLayout}. Give it the dispatchers' `layoutTtlMs` (or their settings) when it is not the
 * default.
 */
export {
  changeLayout,
  TRANSIENT_COORDINATOR_ERRORS,
  type ChangeLayoutOptions,
  type LayoutChangeRequest,
  type LayoutChangeResult,
  type LayoutChangeProgress,
  type AppliedChange,
  type CoordinatorStep,
} from './coordination/change-layout.js';
export type { ScalePlan } from './coordination/layout-change.js';
/**
 * Tidemark's CloudWatch metrics (EMF through Powertools Metrics, namespace `Tidemark`): the handler factories publish
 * them; {@link ProcessorMetrics} does the same for a dispatcher driven by hand.
 */
export {
  batchMetrics,
  partitionLags,
  embeddedMetrics,
  ProcessorMetrics,
  METRICS_NAMESPACE,
  HANDLER_DURATION,
  type BatchMetrics,
  type DeadLetterMetrics,
  type PartitionLag,
  type ProcessorMetricsOptions,
} from './observability/metrics.js';
/**
 * Operating a processor: the admin API ({@link handleAdminRequest}, served by the admin function behind an
 * IAM-authorised function URL, and by {@link startAdminServer} on loopback), the status it answers
 * ({@link ProcessorStatus}: layout, claims, positions, lag in records and seconds, stalled partitions, parked keys)
 * and the Kafka admin port it reads partitions' ends through ({@link createKafkaAdmin}).
 */
export {
  handleAdminRequest,
  type AdminBackend,
  type AdminProcessor,
  type AdminRequest,
  type AdminResponse,
  type ResetService,
  type ResetRequestBody,
} from './admin/admin-api.js';
export { AdminRequestError, type AdminErrorCode } from './admin/admin-error.js';
export { startAdminServer, type AdminServer, type AdminServerOptions } from './admin/admin-server.js';
export { readProcessorStatus, type StatusSources } from './admin/read-status.js';
export type { AdminCommand, Operation, OperationStatus } from './admin/operation-store.js';
export type {
  ProcessorStatus,
  PartitionStatus,
  SegmentStatus,
  ParkedKeyStatus,
  PendingChange,
  LagSample,
  WarningKind,
} from './admin/status-view.js';
export type { KafkaAdmin, PartitionWatermarks } from './kafka/kafka-admin.js';
export { createKafkaAdmin, type KafkaAdminOptions } from './kafka/kafkajs-admin.js';
export type { EventSourceControl, EventSourceMappingState } from './operations/event-source-control.js';
