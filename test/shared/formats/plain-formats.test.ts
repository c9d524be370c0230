import { describe, expect, it } from 'vitest';
import { bytes, json, string } from '../../../shared/formats/plain-formats.js';
import { DecodeFailure } from '../../../shared/formats/record-decode-error.js';
import { decodeError } from '../../support/schema-registry.js';

/** A Standard Schema the way Zod or Valibot present one: `~standard.validate` returns the value or its issues. */
const orderSchema = {
  '~standard': {
    version: 1 as const,
    validate: (value: unknown) =>
      typeof (value as { id?: unknown }).id === 'string'
        ? { value: value as { id: string } }
        : { issues: [{ message: 'Expected string', path: [{ key: 'id' }] }] },
  },
};

describe('plain formats', () => {
  it('string() decodes UTF-8 and refuses bytes that are not UTF-8', async () => {
    expect(await string().decode(Buffer.from('überall'))).toEqual({ value: 'überall' });
    const error = await decodeError(() => string().decode(Buffer.from([0xc3, 0x28])));
    expect(error).toMatchObject({ code: DecodeFailure.Deserialization, format: 'string', retriable: false });
  });

  it('bytes() hands the bytes over as they are', async () => {
    const raw = Buffer.from([0, 1, 2]);
    expect((await bytes().decode(raw)).value).toBe(raw);
  });

  it('json() parses JSON text and refuses what is not JSON', async () => {
    expect(await json().decode(Buffer.from('{"id":"o-1"}'))).toEqual({ value: { id: 'o-1' } });
    const error = await decodeError(() => json().decode(Buffer.from('{"id":')));
    expect(error).toMatchObject({ code: DecodeFailure.Deserialization, format: 'json' });
    expect(error.message).toContain('the bytes are not JSON text');
  });

  it('json({ schema }) checks the value with a Standard Schema or a function, naming the issue', async () => {
    const checked = json({ schema: orderSchema });
    const byFunction = json({
      schema: (value) => {
        if (typeof value !== 'object' || value === null || !('id' in value)) throw new Error('no id');
        return value as { id: string };
      },
    });

    expect((await checked.decode(Buffer.from('{"id":"o-1"}'))).value).toEqual({ id: 'o-1' });
    expect((await decodeError(() => checked.decode(Buffer.from('{"id":1}')))).message).toContain(
      'the JSON value does not pass its schema: id: Expected string',
    );
    expect((await decodeError(() => byFunction.decode(Buffer.from('[]')))).message).toContain('no id');
    expect(() => json({ schema: {} as never })).toThrow('json(): schema must be a Standard Schema');
  });
});
