import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedEventError, MalformedRecordError } from '../../../shared/errors.js';
import { parseKafkaEvent, parseKafkaRecord, type ParsedKafkaBatch } from '../../../shared/kafka/kafka-event.js';
import type { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { kafkaEvent, kafkaRecord } from '../../support/kafka-events.js';

function recordedEvent(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./events/${name}`, import.meta.url), 'utf8'));
}

/** A plain view of a parsed record: text for key and header values, JSON for the value. */
function view(record: KafkaRecord) {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    key: record.keyText(),
    value: record.json(),
    headers: record.headers.map((header) => [header.name, header.value.toString('utf8')]),
  };
}

function positions(batch: ParsedKafkaBatch): string[] {
  return batch.records.map((record) => `${record.topicPartition}@${record.offset}`);
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

const APPLICATION_JSON = ['content-type', 'application/json'];

describe('parseKafkaEvent on recorded events', () => {
  it('parses every field of an MSK event', () => {
    // Arrange
    const event = recordedEvent('msk-event.json');

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect({ ...batch, records: batch.records.map(view) }).toEqual({
      eventSource: 'aws:kafka',
      eventSourceArn:
        'arn:aws:kafka:eu-west-1:123456789012:cluster/tidemark-orders/7f3c2a1e-5b4d-4e8f-9a6b-0c1d2e3f4a5b-2',
      bootstrapServers: [
        'b-1.tidemarkorders.x1y2z3.c2.kafka.eu-west-1.amazonaws.com:9098',
        'b-2.tidemarkorders.x1y2z3.c2.kafka.eu-west-1.amazonaws.com:9098',
      ],
      records: [
        {
          topic: 'orders',
          partition: 0,
          offset: 41,
          timestamp: 1767225600000,
          timestampType: 'CREATE_TIME',
          key: 'o-1',
          value: { orderId: 'o-1', type: 'OrderPlaced' },
          headers: [APPLICATION_JSON, ['tenant', 'zürich']],
        },
        {
          topic: 'orders',
          partition: 0,
          offset: 42,
          timestamp: 1767225600250,
          timestampType: 'CREATE_TIME',
          key: 'o-2',
          value: { orderId: 'o-2', type: 'OrderPlaced' },
          headers: [APPLICATION_JSON],
        },
        {
          topic: 'orders',
          partition: 0,
          offset: 43,
          timestamp: 1767225601000,
          timestampType: 'CREATE_TIME',
          key: 'o-1',
          value: null,
          headers: [],
        },
        {
          topic: 'orders',
          partition: 1,
          offset: 7,
          timestamp: 1767225600100,
          timestampType: 'LOG_APPEND_TIME',
          key: undefined,
          value: { type: 'Heartbeat', source: 'checkout' },
          headers: [],
        },
        {
          topic: 'orders',
          partition: 1,
          offset: 8,
          timestamp: 1767225600400,
          timestampType: 'LOG_APPEND_TIME',
          key: 'o-4',
          value: { orderId: 'o-4', type: 'OrderShipped' },
          headers: [
            ['trace-id', 'a1'],
            ['trace-id', 'b2'],
          ],
        },
      ],
      malformed: [],
    });
  });

  it("keeps the MSK event's raw bytes: signed header bytes, the missing key and the tombstone", () => {
    // Arrange
    const event = recordedEvent('msk-event.json');

    // Act
    const [first, , tombstone, keyless] = parseKafkaEvent(event).records;

    // Assert
    expect({
      tenant: first!.header('tenant'),
      tombstone: [tombstone!.value, tombstone!.isTombstone],
      keyless: keyless!.key,
    }).toEqual({
      // "zürich": Lambda sent ü as Java's signed bytes -61, -68.
      tenant: Buffer.from([0x7a, 0xc3, 0xbc, 0x72, 0x69, 0x63, 0x68]),
      tombstone: [null, true],
      keyless: undefined,
    });
  });

  it('parses a self-managed Kafka event, which has no eventSourceArn', () => {
    // Arrange
    const event = recordedEvent('self-managed-event.json');

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect({ ...batch, records: batch.records.map(view) }).toEqual({
      eventSource: 'SelfManagedKafka',
      eventSourceArn: undefined,
      bootstrapServers: ['kafka-1.internal.example.com:9092', 'kafka-2.internal.example.com:9092'],
      records: [
        {
          topic: 'payments',
          partition: 2,
          offset: 90832516,
          timestamp: 1767225660000,
          timestampType: 'CREATE_TIME',
          key: 'p-17',
          value: { paymentId: 'p-17', orderId: 'o-1', type: 'PaymentCaptured', amount: 4250 },
          headers: [APPLICATION_JSON],
        },
        {
          topic: 'payments',
          partition: 2,
          offset: 90832517,
          timestamp: 1767225660500,
          timestampType: 'CREATE_TIME',
          key: 'p-18',
          value: { paymentId: 'p-18', orderId: 'o-2', type: 'PaymentFailed', reason: 'card declined' },
          headers: [],
        },
      ],
      malformed: [],
    });
  });
});

describe('parseKafkaEvent on the aws:SelfManagedKafka spelling', () => {
  it("parses a self-managed event spelled as in Powertools' samples, with the AWS docs' sample key", () => {
    // Arrange: the key's last character before "==" sets bits beyond the data; Java's decoder ignores them.
    const event = recordedEvent('self-managed-aws-prefixed-event.json');

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect({ ...batch, records: batch.records.map((record) => ({ ...view(record), key: record.key })) }).toEqual({
      eventSource: 'SelfManagedKafka',
      eventSourceArn: undefined,
      bootstrapServers: ['kafka-1.internal.example.com:9092', 'kafka-2.internal.example.com:9092'],
      records: [
        {
          topic: 'refunds',
          partition: 0,
          offset: 15,
          timestamp: 1767225720000,
          timestampType: 'CREATE_TIME',
          key: Buffer.from('69b70310582188928b9a7a0f411b2db95597cb3d76df', 'hex'),
          value: { refundId: 'r-3', orderId: 'o-1', type: 'RefundIssued' },
          headers: [['headerKey', 'headerValue']],
        },
      ],
      malformed: [],
    });
  });
});

describe('parseKafkaEvent on accepted variations', () => {
  it('trims broker names and drops empty entries', () => {
    // Arrange
    const event = kafkaEvent([kafkaRecord()], { bootstrapServers: ' b-1.example.com:9098 ,, b-2.example.com:9098 ,' });

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect(batch.bootstrapServers).toEqual(['b-1.example.com:9098', 'b-2.example.com:9098']);
  });

  it('reads an event without bootstrapServers or eventSourceArn as naming none', () => {
    // Arrange
    const event = { eventSource: 'SelfManagedKafka', records: {} };

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect(batch).toEqual({
      eventSource: 'SelfManagedKafka',
      eventSourceArn: undefined,
      bootstrapServers: [],
      records: [],
      malformed: [],
    });
  });

  it('accepts a null key, a missing or null headers field and an empty value', () => {
    // Arrange
    const { headers: _omitted, ...withoutHeaders } = kafkaRecord({ offset: 41 });
    const event = kafkaEvent([
      kafkaRecord({ offset: 40, key: null }),
      withoutHeaders as ReturnType<typeof kafkaRecord>,
      { ...kafkaRecord({ offset: 42 }), headers: null as unknown as [] },
      kafkaRecord({ offset: 43, value: '' }),
    ]);

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect(batch.malformed).toEqual([]);
    expect(batch.records.map((r) => [r.offset, r.key?.toString(), r.headers, r.value?.toString()])).toEqual([
      [40, undefined, [], '{"orderId":"o-1","type":"OrderPlaced"}'],
      [41, 'o-1', [], '{"orderId":"o-1","type":"OrderPlaced"}'],
      [42, 'o-1', [], '{"orderId":"o-1","type":"OrderPlaced"}'],
      [43, 'o-1', [], ''],
    ]);
    expect(batch.records[3]!.isTombstone).toBe(false);
  });

  it('accepts header bytes written unsigned (0..255) as well as signed', () => {
    // Arrange
    const raw = { ...kafkaRecord(), headers: [{ tenant: [122, 195, 188, 114, 105, 99, 104] }] };

    // Act
    const record = parseKafkaRecord(raw, 'orders-0', 0);

    // Assert
    expect(record.headerText('tenant')).toBe('zürich');
  });
});

const EVENT_SOURCES_ALLOWED =
  'eventSource must be "aws:kafka" or "SelfManagedKafka" (also spelled "aws:SelfManagedKafka")';

describe('parseKafkaEvent refuses an unusable event with a MalformedEventError', () => {
  it.each([
    ['null', null, 'a Kafka event must be an object, got null'],
    ['a string', 'aws:kafka', 'a Kafka event must be an object, got the string "aws:kafka"'],
    ['an array', [], 'a Kafka event must be an object, got an array'],
    ['an SQS event', { eventSource: 'aws:sqs', records: {} }, `${EVENT_SOURCES_ALLOWED}, got the string "aws:sqs"`],
    [
      'a lower-case self-managed spelling',
      { eventSource: 'aws:selfmanagedkafka', records: {} },
      `${EVENT_SOURCES_ALLOWED}, got the string "aws:selfmanagedkafka"`,
    ],
    ['no eventSource', { records: {} }, `${EVENT_SOURCES_ALLOWED}, got nothing`],
    ['no records', { eventSource: 'aws:kafka' }, 'records must be an object keyed "<topic>-<partition>", got nothing'],
    [
      'records as an array',
      { eventSource: 'aws:kafka', records: [kafkaRecord()] },
      'records must be an object keyed "<topic>-<partition>", got an array',
    ],
    [
      'records as null',
      { eventSource: 'SelfManagedKafka', records: null },
      'records must be an object keyed "<topic>-<partition>", got null',
    ],
    [
      'an entry that is not an array',
      { eventSource: 'aws:kafka', records: { 'orders-0': [kafkaRecord()], 'orders-1': kafkaRecord({ partition: 1 }) } },
      'records["orders-1"] must be an array of records, got an object',
    ],
  ])('throws for %s', (_case, event, message) => {
    // Act
    const error = thrownBy(() => parseKafkaEvent(event));

    // Assert
    expect(error).toBeInstanceOf(MalformedEventError);
    expect(error.message).toBe(message);
  });
});

/**
 * An event with three valid records (orders-0 at 40 and 42, orders-1 at 7) and `bad` inserted under `entryKey`:
 * second in orders-0 by default, or alone under a new entry.
 */
function eventWith(bad: unknown, entryKey = 'orders-0'): unknown {
  const event = kafkaEvent([
    kafkaRecord({ offset: 40, key: 'o-1' }),
    kafkaRecord({ offset: 42, key: 'o-2' }),
    kafkaRecord({ partition: 1, offset: 7, key: 'o-3' }),
  ]);
  const records = event.records as Record<string, unknown[]>;
  const entry = (records[entryKey] ??= []);
  entry.splice(Math.min(1, entry.length), 0, bad);
  return event;
}

const VALID_POSITIONS = ['orders-0@40', 'orders-0@42', 'orders-1@7'];

function withFields(fields: Record<string, unknown>): Record<string, unknown> {
  return { ...kafkaRecord({ offset: 41 }), ...fields };
}

function without(field: string): Record<string, unknown> {
  const record: Record<string, unknown> = { ...kafkaRecord({ offset: 41 }) };
  delete record[field];
  return record;
}

describe('parseKafkaEvent reports a malformed record and parses the rest', () => {
  it.each([
    // The record as a whole
    ['null instead of a record', null, undefined, 'a record must be an object, got null'],
    ['a string instead of a record', 'b3JkZXI=', undefined, 'a record must be an object, got the string "b3JkZXI="'],
    ['an array instead of a record', [], undefined, 'a record must be an object, got an array'],
    // offset: the error carries it only when it is itself valid
    ['a missing offset', without('offset'), undefined, 'offset must be a non-negative integer, got nothing'],
    [
      'a negative offset',
      withFields({ offset: -1 }),
      undefined,
      'offset must be a non-negative integer, got the number -1',
    ],
    [
      'a fractional offset',
      withFields({ offset: 41.5 }),
      undefined,
      'offset must be a non-negative integer, got the number 41.5',
    ],
    [
      'an offset as text',
      withFields({ offset: '41' }),
      undefined,
      'offset must be a non-negative integer, got the string "41"',
    ],
    [
      'an offset past 2^53',
      withFields({ offset: 2 ** 53 }),
      undefined,
      'offset must be a non-negative integer, got the number 9007199254740992',
    ],
    // topic
    ['a missing topic', without('topic'), 41, 'topic must be a non-empty string, got nothing'],
    ['an empty topic', withFields({ topic: '' }), 41, 'topic must be a non-empty string, got the string ""'],
    ['a numeric topic', withFields({ topic: 7 }), 41, 'topic must be a non-empty string, got the number 7'],
    // partition
    [
      'a negative partition',
      withFields({ partition: -1 }),
      41,
      'partition must be a non-negative integer, got the number -1',
    ],
    [
      'a fractional partition',
      withFields({ partition: 0.5 }),
      41,
      'partition must be a non-negative integer, got the number 0.5',
    ],
    [
      'a partition as text',
      withFields({ partition: '0' }),
      41,
      'partition must be a non-negative integer, got the string "0"',
    ],
    // timestamp and its type
    ['a missing timestamp', without('timestamp'), 41, 'timestamp must be a finite number, got nothing'],
    [
      'a timestamp as text',
      withFields({ timestamp: '2026-01-01T00:00:00Z' }),
      41,
      'timestamp must be a finite number, got the string "2026-01-01T00:00:00Z"',
    ],
    [
      'an infinite timestamp',
      withFields({ timestamp: Infinity }),
      41,
      'timestamp must be a finite number, got the number Infinity',
    ],
    [
      'NO_TIMESTAMP_TYPE',
      withFields({ timestampType: 'NO_TIMESTAMP_TYPE' }),
      41,
      'timestampType must be CREATE_TIME or LOG_APPEND_TIME, got the string "NO_TIMESTAMP_TYPE"',
    ],
    [
      'a lower-case timestampType',
      withFields({ timestampType: 'create_time' }),
      41,
      'timestampType must be CREATE_TIME or LOG_APPEND_TIME, got the string "create_time"',
    ],
    [
      'a missing timestampType',
      without('timestampType'),
      41,
      'timestampType must be CREATE_TIME or LOG_APPEND_TIME, got nothing',
    ],
    // key
    ['a numeric key', withFields({ key: 12 }), 41, 'key must be a base64 string, null or absent, got the number 12'],
    [
      'a key with a character outside base64',
      withFields({ key: 'by0x!' }),
      41,
      'key is not valid base64: it contains "!" at position 4, outside the base64 alphabet',
    ],
    [
      'a key in URL-safe base64',
      withFields({ key: 'b-_x' }),
      41,
      'key is not valid base64: it contains "-" at position 1, outside the base64 alphabet',
    ],
    [
      'a key with whitespace',
      withFields({ key: 'by0x by0y' }),
      41,
      'key is not valid base64: it contains " " at position 4, outside the base64 alphabet',
    ],
    [
      'a key with a character above U+007F whose low byte is in the alphabet',
      withFields({ key: 'by0\u0141' }),
      41,
      'key is not valid base64: it contains "\u0141" at position 3, outside the base64 alphabet',
    ],
    [
      'a key with incomplete padding',
      withFields({ key: 'cC0xNw=' }),
      41,
      'key is not valid base64: with "=" padding its length must be a multiple of 4, but it is 7',
    ],
    [
      'a key with padding after a whole group',
      withFields({ key: 'cC0x=' }),
      41,
      'key is not valid base64: with "=" padding its length must be a multiple of 4, but it is 5',
    ],
    [
      'a key with one character in its last group',
      withFields({ key: 'cC0xN' }),
      41,
      'key is not valid base64: its length 5 leaves one character in the last group of four, which holds no byte',
    ],
    [
      'a key with padding in the middle',
      withFields({ key: 'by==by0x' }),
      41,
      'key is not valid base64: "=" appears at position 2, before the end',
    ],
    [
      'a key with three padding characters',
      withFields({ key: 'b===' }),
      41,
      'key is not valid base64: it ends with 3 "=" but at most 2 are allowed',
    ],
    // value
    ['a missing value', without('value'), 41, 'value must be a base64 string or null, got nothing'],
    [
      'a value as an object',
      withFields({ value: { orderId: 'o-1' } }),
      41,
      'value must be a base64 string or null, got an object',
    ],
    [
      'a value that is plain JSON text',
      withFields({ value: '{"orderId":"o-1"}' }),
      41,
      'value is not valid base64: it contains "{" at position 0, outside the base64 alphabet',
    ],
    // headers
    ['headers as an object', withFields({ headers: { tenant: [122] } }), 41, 'headers must be an array, got an object'],
    [
      'a header that is not an object',
      withFields({ headers: ['tenant'] }),
      41,
      'headers[0] must be an object, got the string "tenant"',
    ],
    [
      'a header with two names',
      withFields({ headers: [{ a: [97] }, { tenant: [122], region: [101] }] }),
      41,
      'headers[1] must have exactly one header name, got 2 ("tenant", "region")',
    ],
    [
      'a header with no name',
      withFields({ headers: [{}] }),
      41,
      'headers[0] must have exactly one header name, got none',
    ],
    [
      'a header value in base64',
      withFields({ headers: [{ tenant: 'emFyaWNo' }] }),
      41,
      'headers[0] "tenant" must be an array of bytes, got the string "emFyaWNo"',
    ],
    [
      'a header byte above 255',
      withFields({ headers: [{ tenant: [122, 256] }] }),
      41,
      'headers[0] "tenant" byte 1 must be an integer from -128 to 255, got the number 256',
    ],
    [
      'a header byte below -128',
      withFields({ headers: [{ tenant: [-129] }] }),
      41,
      'headers[0] "tenant" byte 0 must be an integer from -128 to 255, got the number -129',
    ],
    [
      'a fractional header byte',
      withFields({ headers: [{ tenant: [122, 1.5] }] }),
      41,
      'headers[0] "tenant" byte 1 must be an integer from -128 to 255, got the number 1.5',
    ],
    [
      'a header byte as text',
      withFields({ headers: [{ tenant: ['z'] }] }),
      41,
      'headers[0] "tenant" byte 0 must be an integer from -128 to 255, got the string "z"',
    ],
    // entry key
    [
      'a record listed under another partition',
      withFields({ partition: 1 }),
      41,
      'the record is for "orders-1" (topic "orders", partition 1) but is listed under "orders-0"',
    ],
    [
      'a record listed under another topic',
      withFields({ topic: 'payments' }),
      41,
      'the record is for "payments-0" (topic "payments", partition 0) but is listed under "orders-0"',
    ],
  ])('reports %s', (_case, bad, offset, message) => {
    // Arrange
    const event = eventWith(bad);

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect(positions(batch)).toEqual(VALID_POSITIONS);
    expect(batch.malformed).toHaveLength(1);
    const error = batch.malformed[0]!;
    expect(error).toBeInstanceOf(MalformedRecordError);
    expect({ location: error.location, topicPartition: error.topicPartition, offset: error.offset }).toEqual({
      location: 'records["orders-0"][1]',
      topicPartition: 'orders-0',
      offset,
    });
    expect(error.message).toBe(`records["orders-0"][1]: ${message}`);
    expect(error.retriable).toBe(false);
  });

  it.each([
    ['no partition number', 'orders'],
    ['a non-numeric partition', 'orders-x'],
    ['a negative partition', 'orders--1'],
  ])('reports a record under an entry key with %s', (_case, entryKey) => {
    // Arrange
    const event = eventWith(kafkaRecord({ offset: 5 }), entryKey);

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect(positions(batch)).toEqual(VALID_POSITIONS);
    expect(batch.malformed.map((e) => [e.constructor, e.location, e.topicPartition, e.offset, e.message])).toEqual([
      [
        MalformedRecordError,
        `records["${entryKey}"][0]`,
        entryKey,
        5,
        `records["${entryKey}"][0]: the record is for "orders-0" (topic "orders", partition 0) but is listed under "${entryKey}"`,
      ],
    ]);
  });

  it('reports every malformed record of a batch, each at its own location', () => {
    // Arrange
    const event = kafkaEvent([
      kafkaRecord({ offset: 40 }),
      { ...kafkaRecord({ offset: 41 }), value: 'eA=' },
      kafkaRecord({ partition: 1, offset: 7 }),
      kafkaRecord({ partition: 1, offset: 8, timestampType: 'NO_TIMESTAMP_TYPE' }),
      kafkaRecord({ partition: 1, offset: 9 }),
    ]);

    // Act
    const batch = parseKafkaEvent(event);

    // Assert
    expect(positions(batch)).toEqual(['orders-0@40', 'orders-1@7', 'orders-1@9']);
    expect(batch.malformed.map((e) => [e.location, e.offset])).toEqual([
      ['records["orders-0"][1]', 41],
      ['records["orders-1"][1]', 8],
    ]);
  });
});

describe('parseKafkaRecord', () => {
  it('parses one raw record found at a given place', () => {
    // Arrange
    const raw = kafkaRecord({ topic: 'payments', partition: 2, offset: 9, key: 'p-1', headers: { tenant: 'zürich' } });

    // Act
    const record = parseKafkaRecord(raw, 'payments-2', 4);

    // Assert
    expect(view(record)).toEqual({
      topic: 'payments',
      partition: 2,
      offset: 9,
      timestamp: 1767225600009,
      timestampType: 'CREATE_TIME',
      key: 'p-1',
      value: { orderId: 'o-1', type: 'OrderPlaced' },
      headers: [['tenant', 'zürich']],
    });
  });

  it('names the place it was given when the record is malformed', () => {
    // Arrange
    const raw = { ...kafkaRecord({ topic: 'payments', partition: 2, offset: 9 }), timestamp: null };

    // Act
    const error = thrownBy(() => parseKafkaRecord(raw, 'payments-2', 4));

    // Assert
    expect(error).toBeInstanceOf(MalformedRecordError);
    expect(error.message).toBe('records["payments-2"][4]: timestamp must be a finite number, got null');
    expect((error as MalformedRecordError).context).toEqual({
      location: 'records["payments-2"][4]',
      topicPartition: 'payments-2',
      offset: 9,
    });
  });
});

describe('base64 acceptance', () => {
  // What java.util.Base64.getDecoder().decode(text) returns on JDK 17 (hex), or null where it throws.
  it.each([
    ['', ''],
    ['QQ', '41'],
    ['QQ==', '41'],
    ['QR==', '41'],
    ['QUE', '4141'],
    ['QUE=', '4141'],
    ['QUF=', '4141'],
    ['QUFB', '414141'],
    ['QUFBQU', '41414141'],
    ['cC0xNw', '702d3137'],
    ['by1=', '6f2d'],
    ['abcDEFghiJKLmnoPQRstuVWXyz1234==', '69b70310582188928b9a7a0f411b2db95597cb3d76df'],
    ['=', null],
    ['==', null],
    ['Q', null],
    ['QQ=', null],
    ['QQ=A', null],
    ['QUE==', null],
    ['QUFB=', null],
    ['QUFBQ', null],
    ['QQ==QUFB', null],
    ['Q===', null],
    ['====', null],
    ['A=', null],
    ['AB==C', null],
    ['b-_x', null],
    ['QU FB', null],
    ['QUFB\n', null],
    ['QUFB\u00e9', null],
    ['QUE=\u0000', null],
  ])('decodes %j as Java does (%s)', (text, expected) => {
    // Arrange
    const raw = { ...kafkaRecord({ offset: 1 }), key: text };

    // Act
    const outcome = (() => {
      try {
        return parseKafkaRecord(raw, 'orders-0', 0).key!.toString('hex');
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        return null;
      }
    })();

    // Assert
    expect(outcome).toBe(expected);
  });

  /**
   * The grammar java.util.Base64.getDecoder() accepts, as a regular expression: the reference the parser must agree
   * with (checked against JDK 17 on 40,000 strings from the generator below). Padding is optional but complete when
   * present; the unused low bits of the last character are ignored.
   */
  const JAVA_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  /** Decodes text JAVA_BASE64 accepts, six bits a character, dropping the bits left over as Java does. */
  function referenceDecode(text: string): Buffer {
    const bytes: number[] = [];
    let bits = 0;
    let count = 0;
    for (const char of text.replace(/=+$/, '')) {
      bits = (bits << 6) | ALPHABET.indexOf(char);
      count += 6;
      if (count >= 8) {
        count -= 8;
        bytes.push((bits >> count) & 0xff);
        bits &= (1 << count) - 1;
      }
    }
    return Buffer.from(bytes);
  }
  const noise = fc.constantFrom(
    ...['=', '==', '-', '_', ' ', '\n', '!', '.', '\u00e9', '\u0000', '\u0141', 'A', 'Q', 'g', '/', '+', 'z'],
  );
  // Encodings of random bytes, some with characters inserted, replaced or removed.
  const candidate = fc
    .tuple(
      fc.uint8Array({ maxLength: 12 }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'replace', 'remove'), noise), { maxLength: 3 }),
    )
    .map(([bytes, edits]) => {
      let text = Buffer.from(bytes).toString('base64');
      for (const [at, kind, char] of edits) {
        const i = at % (text.length + 1);
        text = text.slice(0, i) + (kind === 'remove' ? '' : char) + text.slice(kind === 'insert' ? i : i + 1);
      }
      return text;
    });

  it("accepts exactly what Java's basic decoder accepts, and decodes it to the same bytes", () => {
    fc.assert(
      fc.property(candidate, (text) => {
        const raw = { ...kafkaRecord({ offset: 1 }), key: text };
        let key: Buffer | undefined;
        let error: unknown;
        try {
          key = parseKafkaRecord(raw, 'orders-0', 0).key;
        } catch (caught) {
          error = caught;
        }
        if (JAVA_BASE64.test(text)) expect(key?.toString('hex')).toBe(referenceDecode(text).toString('hex'));
        else expect(error).toBeInstanceOf(MalformedRecordError);
      }),
      { numRuns: 20_000, seed: 20261122 },
    );
  });
});
