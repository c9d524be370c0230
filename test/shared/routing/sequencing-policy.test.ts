import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, SequencingKeyError } from '../../../shared/errors.js';
import { KafkaRecord, type KafkaRecordFields } from '../../../shared/kafka/kafka-record.js';
import {
  BINARY_KEY_PREFIX,
  MAX_JSON_KEY_DEPTH,
  MAX_JSON_KEY_VALUE_BYTES,
  Sequencing,
  sequencingKeyOf,
  sequencingText,
  validateSequencingPolicy,
} from '../../../shared/routing/sequencing-policy.js';

const ALLOWED = 'allowed kinds: key, header, jsonField, partition, none';

/** A record of `orders-3` at offset 17, built directly so these tests do not depend on event parsing. */
function record(fields: Partial<KafkaRecordFields> = {}): KafkaRecord {
  return new KafkaRecord({
    topic: 'orders',
    partition: 3,
    offset: 17,
    timestamp: 1_767_225_600_000,
    timestampType: 'CREATE_TIME',
    key: Buffer.from('o-1'),
    value: Buffer.from(JSON.stringify({ orderId: 'o-1', type: 'OrderPlaced' })),
    headers: [],
    ...fields,
  });
}

function jsonRecord(value: unknown): KafkaRecord {
  return record({ value: Buffer.from(JSON.stringify(value)) });
}

/** Runs `act` and returns what it threw, failing the test if it did not throw. */
function thrownBy(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, but none was thrown');
}

describe('Sequencing factories', () => {
  it('build one frozen policy of each kind', () => {
    // Act
    const policies = [
      Sequencing.key(),
      Sequencing.header('tenant'),
      Sequencing.jsonField('order.id'),
      Sequencing.partition(),
      Sequencing.none(),
    ];

    // Assert
    expect(policies).toEqual([
      { kind: 'key' },
      { kind: 'header', name: 'tenant' },
      { kind: 'jsonField', path: 'order.id' },
      { kind: 'partition' },
      { kind: 'none' },
    ]);
    expect(policies.every((policy) => Object.isFrozen(policy))).toBe(true);
  });

  it('refuses an empty header name, saying what was given', () => {
    // Act
    const error = thrownBy(() => Sequencing.header(''));

    // Assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe('sequencing by header needs a non-empty header name, got ""');
  });

  it.each(['', 'order.', '.id', 'order..id'])('refuses the JSON path %j with an empty segment', (path) => {
    // Act
    const error = thrownBy(() => Sequencing.jsonField(path));

    // Assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe(
      `sequencing by JSON field needs a dot path of non-empty field names such as "order.id", got ${JSON.stringify(path)}`,
    );
  });
});

describe('validateSequencingPolicy', () => {
  it('returns a frozen copy of a valid policy given as data', () => {
    // Arrange
    const given = { kind: 'jsonField', path: 'customer.id' };

    // Act
    const policy = validateSequencingPolicy(given);

    // Assert
    expect(policy).toEqual({ kind: 'jsonField', path: 'customer.id' });
    expect(policy).not.toBe(given);
    expect(Object.isFrozen(policy)).toBe(true);
  });

  it.each([
    [{ kind: 'hash' }, `unknown sequencing policy kind "hash"; ${ALLOWED}`],
    [{ kind: 'Key' }, `unknown sequencing policy kind "Key"; ${ALLOWED}`],
    [{}, `unknown sequencing policy kind nothing; ${ALLOWED}`],
    [{ kind: 7 }, `unknown sequencing policy kind number 7; ${ALLOWED}`],
    ['key', `a sequencing policy must be an object such as { kind: 'key' }, got "key"; ${ALLOWED}`],
    [null, `a sequencing policy must be an object such as { kind: 'key' }, got null; ${ALLOWED}`],
    [[{ kind: 'key' }], `a sequencing policy must be an object such as { kind: 'key' }, got an array; ${ALLOWED}`],
    [{ kind: 'header' }, 'sequencing by header needs a non-empty header name, got nothing'],
    [{ kind: 'header', name: 42 }, 'sequencing by header needs a non-empty header name, got number 42'],
    [
      { kind: 'jsonField', path: ['order', 'id'] },
      'sequencing by JSON field needs a dot path of non-empty field names such as "order.id", got an array',
    ],
    [{ kind: 'key', name: 'tenant' }, 'sequencing policy kind "key" takes no other fields, got also name'],
    [{ kind: 'header', name: 'tenant', path: 'a' }, 'sequencing policy kind "header" takes only name, got also path'],
  ])('refuses %j with a ConfigurationError', (given, message) => {
    // Act
    const error = thrownBy(() => validateSequencingPolicy(given));

    // Assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe(message);
  });
});

describe('sequencingKeyOf by key', () => {
  it('uses the record key decoded as UTF-8', () => {
    // Arrange
    const records = [record({ key: Buffer.from('o-1') }), record({ key: Buffer.from('żółw-7') })];

    // Act
    const keys = records.map((r) => sequencingKeyOf(Sequencing.key(), r));

    // Assert
    expect(keys).toEqual(['o-1', 'żółw-7']);
  });

  it('gives a record without a key its own position, so it is ordered with no other record', () => {
    // Arrange
    const records = [record({ key: undefined, offset: 17 }), record({ key: undefined, offset: 18 })];

    // Act
    const keys = records.map((r) => sequencingKeyOf(Sequencing.key(), r));

    // Assert
    expect(keys).toEqual(['orders-3@17', 'orders-3@18']);
  });

  it('treats an empty key as a key, not as a missing one', () => {
    // Act
    const key = sequencingKeyOf(Sequencing.key(), record({ key: Buffer.alloc(0) }));

    // Assert
    expect(key).toBe('');
  });
});

/** A small seeded generator (mulberry32) of bytes, so the random keys are the same on every run. */
function seededBytes(seed: number): (length: number) => Buffer {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % 256;
  };
  return (length) => Buffer.from(Array.from({ length }, next));
}

describe('sequencingKeyOf by binary key', () => {
  it('gives the 10,000 keys 0..9999 written as 8-byte longs (LongSerializer) 10,000 sequencing keys', () => {
    // Arrange: as UTF-8 text they collapsed to 5,047 strings: every byte from 0x80 up became U+FFFD.
    const keys = Array.from({ length: 10_000 }, (_, i) => {
      const key = Buffer.alloc(8);
      key.writeBigInt64BE(BigInt(i));
      return key;
    });

    // Act
    const sequencingKeys = new Set(keys.map((key) => sequencingKeyOf(Sequencing.key(), record({ key }))));

    // Assert
    expect(new Set(keys.map((key) => key.toString('utf8'))).size).toBe(5_047);
    expect(sequencingKeys.size).toBe(10_000);
  });

  it('gives 10,000 distinct random 8-byte keys 10,000 distinct sequencing keys', () => {
    // Arrange
    const random = seededBytes(20261201);
    const distinct = new Map<string, Buffer>();
    while (distinct.size < 10_000) {
      const bytes = random(8);
      distinct.set(bytes.toString('hex'), bytes);
    }

    // Act
    const keys = new Set([...distinct.values()].map((key) => sequencingKeyOf(Sequencing.key(), record({ key }))));

    // Assert: as UTF-8 text a few of these collided.
    expect(new Set([...distinct.values()].map((key) => key.toString('utf8'))).size).toBeLessThan(10_000);
    expect(keys.size).toBe(10_000);
  });

  it.each([
    ['ASCII', 'order-1'],
    ['accented', 'żółw-7 café'],
    ['CJK', '日本語'],
    ['emoji', 'tide 🌊🌙'],
    ['a byte-order mark', '\uFEFFo-1'],
    ['U+FFFD itself', '\uFFFD/w=='],
    ['control characters', '\u0000\u0001\u007f'],
  ])('keeps a %s UTF-8 key exactly as its text, so routing stays as before', (_case, text) => {
    // Arrange
    const key = Buffer.from(text, 'utf8');

    // Act
    const sequencingKey = sequencingKeyOf(Sequencing.key(), record({ key }));

    // Assert
    expect(sequencingKey).toBe(text);
    expect(sequencingKey).toBe(key.toString('utf8'));
  });

  it.each([
    ['a byte that never starts UTF-8', [0xff], '/w=='],
    ['a truncated two-byte character', [0x6f, 0xc3], 'b8M='],
    ['an encoded surrogate', [0xed, 0xa0, 0x80], '7aCA'],
    ['an overlong NUL', [0xc0, 0x80], 'wIA='],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], '9JCAgA=='],
  ])('writes a key with %s as U+D800 and its base64', (_case, bytes, base64) => {
    // Act
    const sequencingKey = sequencingKeyOf(Sequencing.key(), record({ key: Buffer.from(bytes) }));

    // Assert
    expect(sequencingKey).toBe(`\uD800${base64}`);
    expect(sequencingKey.startsWith(BINARY_KEY_PREFIX)).toBe(true);
    // Not well-formed UTF-16: the prefix is a high surrogate with no low surrogate after it.
    expect(sequencingKey.charCodeAt(1)).toBeLessThan(0x80);
  });

  it('never gives a binary key the text of a UTF-8 key, even one spelling its binary form with U+FFFD', () => {
    // Arrange: the UTF-8 key "\uFFFD/w==" is what [0xff] would be with the replacement character as prefix.
    const binary = record({ key: Buffer.from([0xff]) });
    const lookalike = record({ key: Buffer.from('\uFFFD/w==', 'utf8') });

    // Act
    const keys = [binary, lookalike].map((r) => sequencingKeyOf(Sequencing.key(), r));

    // Assert
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('maps distinct key bytes to distinct sequencing keys, and UTF-8 keys to their text (property)', () => {
    // Arbitrary bytes, UTF-8 text (also starting with U+FFFD or U+D800's neighbours) and binary forms spelled out.
    const keyBytes = fc.oneof(
      fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes)),
      fc.string({ unit: 'binary', maxLength: 8 }).map((text) => Buffer.from(text, 'utf8')),
      fc
        .tuple(fc.constantFrom('\uFFFD', '\uD7FF', '\uE000', '\u{10000}'), fc.uint8Array({ maxLength: 6 }))
        .map(([prefix, bytes]) => Buffer.from(prefix + Buffer.from(bytes).toString('base64'), 'utf8')),
      fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.concat([Buffer.from([0xed, 0xa0, 0x80]), bytes])),
    );
    fc.assert(
      fc.property(fc.uniqueArray(keyBytes, { selector: (bytes) => bytes.toString('hex'), maxLength: 30 }), (keys) => {
        const sequencingKeys = keys.map((key) => sequencingKeyOf(Sequencing.key(), record({ key })));
        expect(new Set(sequencingKeys).size).toBe(keys.length);
        keys.forEach((key, i) => {
          const text = key.toString('utf8');
          if (Buffer.from(text, 'utf8').equals(key)) expect(sequencingKeys[i]).toBe(text);
        });
      }),
      { numRuns: 2_000, seed: 20261201 },
    );
  });

  it('sequences a header value the same way: UTF-8 as text, other bytes apart', () => {
    // Arrange
    const withTenant = (value: Buffer) => record({ headers: [{ name: 'tenant', value }] });
    const values = [Buffer.from('zürich'), Buffer.from([0xff, 0x01]), Buffer.from([0xfe, 0x01])];

    // Act
    const keys = values.map((value) => sequencingKeyOf(Sequencing.header('tenant'), withTenant(value)));

    // Assert: as UTF-8 the two binary values were both "\uFFFD\u0001".
    expect(keys).toEqual(['zürich', '\uD800/wE=', '\uD800/gE=']);
  });

  it('is what sequencingText gives for the bytes', () => {
    // Act
    const texts = [Buffer.alloc(0), Buffer.from('o-1'), Buffer.from([0x80])].map(sequencingText);

    // Assert
    expect(texts).toEqual(['', 'o-1', '\uD800gA==']);
  });
});

describe('sequencingKeyOf by header', () => {
  it("uses the header's last value as UTF-8", () => {
    // Arrange
    const withHeaders = record({
      headers: [
        { name: 'tenant', value: Buffer.from('basel') },
        { name: 'trace-id', value: Buffer.from('t-1') },
        { name: 'tenant', value: Buffer.from('zürich') },
      ],
    });

    // Act
    const key = sequencingKeyOf(Sequencing.header('tenant'), withHeaders);

    // Assert
    expect(key).toBe('zürich');
  });

  it('throws a SequencingKeyError naming the header, the partition and the offset when the header is missing', () => {
    // Arrange
    const without = record({ headers: [{ name: 'trace-id', value: Buffer.from('t-1') }] });

    // Act
    const error = thrownBy(() => sequencingKeyOf(Sequencing.header('tenant'), without));

    // Assert
    expect(error).toBeInstanceOf(SequencingKeyError);
    expect(error.message).toBe(
      'cannot sequence record orders-3 offset 17 by header "tenant": the record has no such header',
    );
    expect((error as SequencingKeyError).context).toEqual({ topicPartition: 'orders-3', offset: 17, header: 'tenant' });
    expect((error as SequencingKeyError).retriable).toBe(false);
  });
});

describe('sequencingKeyOf by JSON field', () => {
  it.each([
    ['orderId', { orderId: 'o-1' }, 'o-1'],
    ['order.id', { order: { id: 'o-9' } }, 'o-9'],
    ['order.id', { order: { id: 42 } }, '42'],
    ['order.id', { order: { id: 4.5 } }, '4.5'],
    ['flag', { flag: false }, 'false'],
    ['order.id', { order: { id: { region: 'eu', n: 1 } } }, '{"region":"eu","n":1}'],
    ['lines', { lines: ['a', 'b'] }, '["a","b"]'],
    ['order.id', { order: { id: null } }, 'null'],
    ['lines.1.sku', { lines: [{ sku: 'a' }, { sku: 'b' }] }, 'b'],
  ])('reads %j from %j as %j', (path, value, expected) => {
    // Act
    const key = sequencingKeyOf(Sequencing.jsonField(path), jsonRecord(value));

    // Assert
    expect(key).toBe(expected);
  });

  it.each([
    ['a tombstone', 'order.id', record({ value: null }), 'the record is a tombstone (its value is null)'],
    ['a missing field', 'order.id', jsonRecord({ order: { number: 1 } }), '"order" has no field "id"'],
    ['a missing top-level field', 'order.id', jsonRecord({ orderId: 'o-1' }), 'the value has no field "order"'],
    ['a path through text', 'order.id', jsonRecord({ order: 'o-1' }), '"order" is a string, not an object'],
    ['a path through null', 'order.id', jsonRecord({ order: null }), '"order" is null, not an object'],
    ['a JSON value that is not an object', 'order.id', jsonRecord(12), 'the value is a number, not an object'],
    ['an index past the array', 'lines.2', jsonRecord({ lines: ['a'] }), '"lines" is an array with no element "2"'],
    ['an array property', 'lines.length', jsonRecord({ lines: ['a'] }), '"lines" is an array with no element "length"'],
    ['an inherited property', 'constructor', jsonRecord({ orderId: 'o-1' }), 'the value has no field "constructor"'],
  ])('throws a SequencingKeyError for %s', (_case, path, input, why) => {
    // Act
    const error = thrownBy(() => sequencingKeyOf(Sequencing.jsonField(path), input));

    // Assert
    expect(error).toBeInstanceOf(SequencingKeyError);
    expect(error.message).toBe(`cannot sequence record orders-3 offset 17 by JSON field "${path}": ${why}`);
    expect((error as SequencingKeyError).context).toEqual({ topicPartition: 'orders-3', offset: 17, path });
  });

  it(`reads a value of exactly ${MAX_JSON_KEY_VALUE_BYTES} bytes`, () => {
    // Arrange
    const head = '{"orderId":"o-1","pad":"';
    const value = Buffer.from(`${head}${'x'.repeat(MAX_JSON_KEY_VALUE_BYTES - head.length - 2)}"}`);

    // Act
    const key = sequencingKeyOf(Sequencing.jsonField('orderId'), record({ value }));

    // Assert
    expect(value.length).toBe(MAX_JSON_KEY_VALUE_BYTES);
    expect(key).toBe('o-1');
  });

  it('throws a SequencingKeyError for a value over the size bound, saying its size', () => {
    // Arrange
    const head = '{"orderId":"o-1","pad":"';
    const value = Buffer.from(`${head}${'x'.repeat(MAX_JSON_KEY_VALUE_BYTES - head.length - 1)}"}`);

    // Act
    const error = thrownBy(() => sequencingKeyOf(Sequencing.jsonField('orderId'), record({ value })));

    // Assert
    expect(error).toBeInstanceOf(SequencingKeyError);
    expect(error.message).toBe(
      'cannot sequence record orders-3 offset 17 by JSON field "orderId": its value is 1048577 bytes, ' +
        'more than the 1048576 bytes read for a sequencing key',
    );
    expect((error as SequencingKeyError).context).toEqual({
      topicPartition: 'orders-3',
      offset: 17,
      path: 'orderId',
      bytes: 1_048_577,
      maxBytes: 1_048_576,
    });
  });

  it('throws a SequencingKeyError, not a RangeError, for a 20 KB value nested 10,000 deep', () => {
    // Arrange
    const value = Buffer.from(`{"orderId":"o-1","deep":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);

    // Act
    const errors = ['orderId', 'deep'].map((path) =>
      thrownBy(() => sequencingKeyOf(Sequencing.jsonField(path), record({ value }))),
    );

    // Assert
    expect(errors.map((error) => [error.constructor, error.message])).toEqual(
      ['orderId', 'deep'].map((path) => [
        SequencingKeyError,
        `cannot sequence record orders-3 offset 17 by JSON field "${path}": its value nests 10001 levels deep, ` +
          'more than the 64 levels read for a sequencing key',
      ]),
    );
    expect((errors[0] as SequencingKeyError).context).toMatchObject({ depth: 10_001, maxDepth: 64 });
  });

  it(`reads a value nested exactly ${MAX_JSON_KEY_DEPTH} deep and refuses one level more`, () => {
    // Arrange: the field sits at depth 64 (objects) or 65 (inside one more array).
    const nested = (levels: number) => '{"a":'.repeat(levels - 1) + '{"id":"k-1"}' + '}'.repeat(levels - 1);
    const path = ['a', ...Array<string>(MAX_JSON_KEY_DEPTH - 2).fill('a'), 'id'].join('.');
    const deepest = record({ value: Buffer.from(nested(MAX_JSON_KEY_DEPTH)) });
    const tooDeep = record({ value: Buffer.from(`[${nested(MAX_JSON_KEY_DEPTH)}]`) });

    // Act
    const key = sequencingKeyOf(Sequencing.jsonField(path), deepest);
    const error = thrownBy(() => sequencingKeyOf(Sequencing.jsonField(`0.${path}`), tooDeep));

    // Assert
    expect(key).toBe('k-1');
    expect(error).toBeInstanceOf(SequencingKeyError);
    expect(error.message).toMatch(/its value nests 65 levels deep, more than the 64 levels/);
  });

  it('does not count brackets inside strings, escaped quotes included, towards the depth', () => {
    // Arrange
    const text = `{"orderId":"o-1","note":"\\"${'['.repeat(100)}","more":"${'{'.repeat(100)}\\\\"}`;
    const value = Buffer.from(text);

    // Act
    const key = sequencingKeyOf(Sequencing.jsonField('orderId'), record({ value }));

    // Assert
    expect(JSON.parse(text)).toMatchObject({ orderId: 'o-1' });
    expect(key).toBe('o-1');
  });

  it('still reads a normally nested value', () => {
    // Arrange
    const value = { order: { customer: { address: { city: { id: 'c-9' } } } }, lines: [[{ sku: [1, [2]] }]] };

    // Act
    const keys = ['order.customer.address.city.id', 'lines.0.0.sku'].map((path) =>
      sequencingKeyOf(Sequencing.jsonField(path), jsonRecord(value)),
    );

    // Assert
    expect(keys).toEqual(['c-9', '[1,[2]]']);
  });

  it('throws a SequencingKeyError saying the value is not JSON', () => {
    // Arrange
    const notJson = record({ value: Buffer.from('order o-1 placed') });

    // Act
    const error = thrownBy(() => sequencingKeyOf(Sequencing.jsonField('order.id'), notJson));

    // Assert
    expect(error).toBeInstanceOf(SequencingKeyError);
    expect(error.message).toMatch(
      /^cannot sequence record orders-3 offset 17 by JSON field "order\.id": its value is not valid JSON \(.+\)$/,
    );
  });
});

describe('sequencingKeyOf by partition and none', () => {
  it('gives every record of a partition the same key under partition order', () => {
    // Arrange
    const records = [record({ offset: 17, key: Buffer.from('o-1') }), record({ offset: 18, key: Buffer.from('o-2') })];

    // Act
    const keys = records.map((r) => sequencingKeyOf(Sequencing.partition(), r));

    // Assert
    expect(keys).toEqual(['orders-3', 'orders-3']);
  });

  it('gives every record its own key under none, even records with the same Kafka key', () => {
    // Arrange
    const records = [record({ offset: 17 }), record({ offset: 18 }), record({ partition: 4, offset: 17 })];

    // Act
    const keys = records.map((r) => sequencingKeyOf(Sequencing.none(), r));

    // Assert
    expect(keys).toEqual(['orders-3@17', 'orders-3@18', 'orders-4@17']);
  });
});
