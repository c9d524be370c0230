/**
 * Every error Tidemark raises is a {@link TidemarkError}. `retriable` tells the engine whether trying again can
 * help (a throttled write) or not (a malformed record); it drives retry versus blocking/parking.
 */
export class TidemarkError extends Error {
  /** Whether the same operation may succeed if tried again. */
  readonly retriable: boolean;
  /** Facts about what failed (processor, partition, offset, ...), for logs and status. */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    message: string,
    options: { retriable?: boolean; cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}

/** The invocation event as a whole is not a Kafka event source event. */
export class MalformedEventError extends TidemarkError {}

/** One record of a batch could not be read; the rest of the batch goes on and this record is reported failed. */
export class MalformedRecordError extends TidemarkError {
  /** Where the record sits in the event, e.g. `records["orders-3"][5]`. */
  readonly location: string;
  /** The `"<topic>-<partition>"` entry the record came under. */
  readonly topicPartition: string;
  /** The record's offset when it could be read. */
  readonly offset: number | undefined;

  constructor(message: string, details: { location: string; topicPartition: string; offset?: number }) {
    super(`${details.location}: ${message}`, { context: { ...details } });
    this.location = details.location;
    this.topicPartition = details.topicPartition;
    this.offset = details.offset;
  }
}

/** The sequencing key could not be derived from a record (missing header or JSON field). */
export class SequencingKeyError extends TidemarkError {}

/** The configuration of a processor, store or handler is invalid; names what was given and what is allowed. */
export class ConfigurationError extends TidemarkError {}

/** The segment layout is invalid (gaps, overlaps, bad masks) or an operation on it is not allowed. */
export class LayoutError extends TidemarkError {}

/** The processor has no layout in the token store: it was never initialised. */
export class UnknownProcessorError extends TidemarkError {}

/** Another live holder has the claim; it may be tried again once that lease ends. */
export class ClaimHeldError extends TidemarkError {
  constructor(
    message: string,
    readonly holder: { owner: string; leaseUntil: number; epoch: number },
    context: Record<string, unknown> = {},
  ) {
    super(message, { retriable: true, context: { ...context, holder } });
  }
}

/** The caller routed with a layout older than one already used for this work; refresh it and route again. */
export class StaleLayoutError extends TidemarkError {
  constructor(
    message: string,
    readonly usedVersion: number,
    readonly knownVersion: number,
    context: Record<string, unknown> = {},
  ) {
    super(message, { retriable: true, context: { ...context, usedVersion, knownVersion } });
  }
}

/** Our claim expired or was taken over (a newer epoch): nothing more may be written under it. */
export class FencedError extends TidemarkError {}

/** A conditional layout change lost a race: the layout version moved on. */
export class LayoutConflictError extends TidemarkError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { retriable: true, context });
  }
}

/**
 * Throw from a handler to say a record can never succeed: it is not retried, its key is blocked at once and the
 * record is reported failed.
 */
export class NonRetriableError extends TidemarkError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, { ...options, retriable: false });
  }
}

/** Whether an error thrown by a handler or a dependency is worth retrying. Unknown errors are retried. */
export function isRetriable(error: unknown): boolean {
  return error instanceof TidemarkError ? error.retriable : true;
}
