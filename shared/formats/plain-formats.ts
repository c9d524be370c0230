import { ConfigurationError } from '../errors.js';
import { DecodeFailure, messageOf, RecordDecodeError } from './record-decode-error.js';
import type { Decoded, RecordFormat } from './record-format.js';

/**
 * A Standard Schema (Zod 3.24+, Valibot 1, ArkType 2 all are one): `~standard.validate` returns the value or its
 * issues. Declared here so Tidemark depends on none of them.
 */
export interface StandardSchema<T> {
  readonly '~standard': {
    readonly version: 1;
    validate(
      value: unknown,
    ):
      | { readonly value: T; readonly issues?: undefined }
      | { readonly issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[] }
      | Promise<
          | { readonly value: T; readonly issues?: undefined }
          | { readonly issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[] }
        >;
  };
}

/** Options of {@link json}. */
export interface JsonOptions<T> {
  /**
   * Checks the parsed value: a Standard Schema (`z.object(...)`), or a function that returns the typed value and
   * throws when it is not one. What fails it is a `DESERIALIZATION_ERROR`.
   */
  readonly schema?: StandardSchema<T> | ((value: unknown) => T);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as they are (a `Buffer`): what `record.value` already is, for a processor that decodes only its key. */
export function bytes(): RecordFormat<Buffer> {
  return { format: 'bytes', decode: (value) => ({ value }) };
}

/** UTF-8 text; bytes that are not UTF-8 are a `DESERIALIZATION_ERROR`. */
export function string(): RecordFormat<string> {
  return {
    format: 'string',
    decode: (value) => {
      try {
        return { value: utf8.decode(value) };
      } catch (error) {
        throw new RecordDecodeError(DecodeFailure.Deserialization, 'the bytes are not UTF-8 text', {
          format: 'string',
          cause: error,
        });
      }
    },
  };
}

/** JSON text (UTF-8), optionally checked by a schema; unparseable or invalid values are a `DESERIALIZATION_ERROR`. */
export function json<T = unknown>(options: JsonOptions<T> = {}): RecordFormat<T> {
  const check = options?.schema;
  const standard = typeof check === 'object' && check !== null ? check['~standard'] : undefined;
  if (check !== undefined && typeof check !== 'function' && typeof standard?.validate !== 'function') {
    throw new ConfigurationError('json(): schema must be a Standard Schema (with ~standard.validate) or a function');
  }
  const fail = (message: string, cause?: unknown) =>
    new RecordDecodeError(DecodeFailure.Deserialization, message, { format: 'json', cause });
  const parse = (value: Buffer): unknown => {
    try {
      return JSON.parse(utf8.decode(value));
    } catch (error) {
      throw fail(`the bytes are not JSON text: ${messageOf(error)}`, error);
    }
  };
  if (check === undefined) return { format: 'json', decode: (value) => ({ value: parse(value) as T }) };
  if (typeof check === 'function') {
    return {
      format: 'json',
      decode: (value) => {
        const parsed = parse(value);
        try {
          return { value: check(parsed) };
        } catch (error) {
          throw fail(`the JSON value does not pass its schema: ${messageOf(error)}`, error);
        }
      },
    };
  }
  return {
    format: 'json',
    async decode(value: Buffer): Promise<Decoded<T>> {
      const result = await standard!.validate(parse(value));
      if (result.issues) {
        const issues = result.issues.map(
          (i) => (i.path?.length ? `${i.path.map(pathKey).join('.')}: ` : '') + i.message,
        );
        throw fail(`the JSON value does not pass its schema: ${issues.join('; ')}`);
      }
      return { value: result.value };
    },
  };
}

/** A Standard Schema path item: a key, or `{ key }`. */
function pathKey(item: unknown): string {
  return typeof item === 'object' && item !== null && 'key' in item ? String(item.key) : String(item);
}
