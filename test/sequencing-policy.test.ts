import { describe, expect, it } from 'vitest';
import { ConfigurationError, SequencingKeyError } from '../shared/errors.js';
import { KafkaRecord, type KafkaRecordFields } from '../shared/kafka-record.js';
import { Sequencing, sequencingKeyOf, validateSequencingPolicy } from '../shared/sequencing-policy.js';

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
