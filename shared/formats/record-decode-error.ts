import { TidemarkError } from '../errors.js';

/**
 * Why a record could not be decoded. The first two are the codes Lambda's own schema-registry integration sends to
 * its dead-letter destination; Tidemark parks the record instead, with its raw bytes.
 */
export const DecodeFailure = {
  /** The schema id the record names is not in the registry (Confluent 404, Glue `EntityNotFoundException`). */
  SchemaNotFound: 'SCHEMA_NOT_FOUND',
  /** The bytes do not parse: wrong magic byte or header version, truncated framing, a payload its schema cannot read. */
  Deserialization: 'DESERIALIZATION_ERROR',
  /**
   * The writer schema cannot be read as declared: another format than the decoder's (an Avro decoder given a Protobuf
   * id), a reader schema the writer's cannot be resolved to, a Protobuf message other than the reader type.
   */
  SchemaMismatch: 'SCHEMA_MISMATCH',
  /** The registry did not answer (down, throttled, refused our credentials): the only retriable failure. */
  RegistryUnavailable: 'REGISTRY_UNAVAILABLE',
} as const;
export type DecodeFailure = (typeof DecodeFailure)[keyof typeof DecodeFailure];

/** The part of a record a decoder reads. */
export type RecordPart = 'key' | 'value';

/**
 * A record's key or value could not be decoded. Thrown inside the handler's attempt, so it takes the handler's
 * failure path: a retriable one (registry unavailable) is retried and parked after `deadLetter.afterAttempts`; any
 * other is parked at once, with the record's raw bytes, and its key's later records park behind it.
 */
export class RecordDecodeError extends TidemarkError {
  readonly code: DecodeFailure;
  /** The part that failed, once known (a format's own error has none until the processor adds it). */
  readonly part: RecordPart | undefined;
  /** The decoder's format (`avro`, `protobuf`, ...). */
  readonly format: string;
  /** The schema id the record named, when its framing could be read. */
  readonly schemaId: number | string | undefined;
  /** The message without its code, to wrap it with where it happened. */
  readonly detail: string;

  constructor(
    code: DecodeFailure,
    message: string,
    details: {
      format: string;
      schemaId?: number | string;
      part?: RecordPart;
      cause?: unknown;
      context?: Record<string, unknown>;
    },
  ) {
    super(`${code}: ${message}`, {
      retriable: code === DecodeFailure.RegistryUnavailable,
      cause: details.cause,
      context: {
        ...details.context,
        code,
        format: details.format,
        ...(details.schemaId === undefined ? {} : { schemaId: details.schemaId }),
        ...(details.part === undefined ? {} : { part: details.part }),
      },
    });
    this.code = code;
    this.part = details.part;
    this.format = details.format;
    this.schemaId = details.schemaId;
    this.detail = message;
  }
}

/** The message of anything thrown, for an error that wraps it. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
