import type { Type as AvroType } from 'avsc';
import type { Type as ProtobufType } from 'protobufjs';
import { ConfigurationError } from '../errors.js';
import { DecodeFailure, RecordDecodeError } from './record-decode-error.js';
import type { SchemaFormat } from './record-format.js';

/** A writer schema, parsed once for its format and kept for every record that names it. */
export type WriterSchema =
  | { readonly format: 'avro'; readonly type: AvroType }
  | {
      readonly format: 'protobuf';
      /** The message type the framing's indexes point at, or undefined when they point at nothing. */
      messageAt(indexes: readonly number[]): ProtobufType | undefined;
    }
  | {
      readonly format: 'json-schema';
      /** Parses the payload as JSON and validates it; throws when it is not valid. */
      parse(payload: Buffer): unknown;
    };

/** A framed record's parts: which schema wrote it, and its payload without the framing. */
export interface Frame {
  readonly id: number | string;
  readonly payload: Buffer;
  /** Protobuf only: where the record's message type sits in the writer schema, as this registry numbers them. */
  readonly messageIndexes?: readonly number[];
}

/**
 * A schema registry as decoders use it: it reads its own framing and serves writer schemas by id, each fetched and
 * parsed once per container. {@link confluentRegistry} and {@link glueRegistry} make one; any object with these
 * two methods is one too.
 */
export interface SchemaRegistry {
  /** Names the framing in `context.schema.registry`: `confluent`, `glue`. */
  readonly kind: string;
  /** Splits the framing off; throws `RecordDecodeError` (`DESERIALIZATION_ERROR`) for bytes that are not framed so. */
  unframe(bytes: Buffer, format: SchemaFormat): Frame;
  /**
   * The writer schema with this id, parsed; fetched at most once per id while it is cached. Throws
   * `RecordDecodeError`: `SCHEMA_NOT_FOUND`, `SCHEMA_MISMATCH` (the id holds another format), or the retriable
   * `REGISTRY_UNAVAILABLE`.
   */
  writerSchema(id: number | string, format: SchemaFormat): Promise<WriterSchema>;
}

/** How a registry keeps what it fetched. */
export interface SchemaCacheOptions {
  /** How long an id the registry said it does not know is answered from memory as unknown. @default 30000 */
  readonly notFoundTtlMs?: number;
  /** Unknown ids remembered at most (corrupt bytes can name any id); the oldest is forgotten first. @default 1000 */
  readonly maxNotFound?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

interface CacheEntry {
  readonly promise: Promise<WriterSchema>;
  /** Set when the id proved unknown: the entry answers until then. */
  expiresAt?: number;
}

/**
 * Writer schemas by id, per container. A schema is fetched and parsed once (concurrent records of a new id share
 * one request) and kept for the container's life: a registry id never changes what it names. An id the registry
 * does not know is remembered for a while, so a batch of records naming it costs one request; any other failure
 * (the registry is down) is forgotten at once, so the next attempt asks again.
 */
export class SchemaCache {
  private readonly entries = new Map<number | string, CacheEntry>();
  private readonly notFound: (number | string)[] = [];
  private readonly notFoundTtlMs: number;
  private readonly maxNotFound: number;
  private readonly clock: () => number;

  constructor(options: SchemaCacheOptions = {}) {
    this.notFoundTtlMs = wholeNumber('notFoundTtlMs', options.notFoundTtlMs ?? 30_000);
    this.maxNotFound = wholeNumber('maxNotFound', options.maxNotFound ?? 1_000);
    this.clock = options.clock ?? Date.now;
  }

  /** The schema of `id`, from memory or from `load` (called once for concurrent askers). */
  get(id: number | string, load: () => Promise<WriterSchema>): Promise<WriterSchema> {
    const cached = this.entries.get(id);
    if (cached && (cached.expiresAt === undefined || cached.expiresAt > this.clock())) return cached.promise;
    const entry: CacheEntry = { promise: load() };
    this.entries.set(id, entry);
    entry.promise.catch((error: unknown) => {
      if (this.entries.get(id) !== entry) return;
      if (error instanceof RecordDecodeError && error.code === DecodeFailure.SchemaNotFound) {
        entry.expiresAt = this.clock() + this.notFoundTtlMs;
        this.notFound.push(id);
        if (this.notFound.length > this.maxNotFound) this.forget(this.notFound.shift()!);
      } else {
        this.entries.delete(id);
      }
    });
    return entry.promise;
  }

  /** How many ids are held, known or unknown. */
  get size(): number {
    return this.entries.size;
  }

  private forget(id: number | string): void {
    if (this.entries.get(id)?.expiresAt !== undefined) this.entries.delete(id);
  }
}

function wholeNumber(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError(`schema registry: ${name} must be a whole number from 0, got ${String(value)}`);
  }
  return value;
}

/** Checks that the schema an id names is of the format the decoder reads. */
export function expectFormat(
  schema: WriterSchema,
  format: SchemaFormat,
  id: number | string,
  registry: string,
): WriterSchema {
  if (schema.format === format) return schema;
  throw new RecordDecodeError(
    DecodeFailure.SchemaMismatch,
    `schema ${String(id)} in the ${registry} registry is ${schema.format}, but the decoder reads ${format}`,
    { format, schemaId: id },
  );
}
