import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import validateAsl from 'asl-validator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KafkaPoller } from '../../local/kafka-poller.js';
import { runResetLocally, synthesizeResetDefinition } from '../../local/local-reset.js';
import { PollerEventSourceControl } from '../../local/poller-control.js';
import { UnknownProcessorError } from '../../shared/errors.js';
import { ResetRequestError } from '../../shared/reset/reset-errors.js';
import { resetExecutionInput, type ResetExecutionInput } from '../../shared/reset/reset-execution.js';
import type { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { freshDynamoStore, localDynamoDb } from '../support/dynamodb.js';
import { dispatch, ScriptedHandler, testDispatcher, testProcessor, type HandlerCall } from '../support/harness.js';
import { startKafkaMock, type KafkaMock } from '../support/kafka-mock.js';

// The whole reset, as the state machine synthesized from the construct runs it (aws-local-stepfunctions), against
// librdkafka's mock cluster and DynamoDB Local, with the real dispatcher behind a Lambda-like poller that the reset
// stops and starts. The mock has no DescribeGroups: the check step counts a group empty once its poller has stopped,
// and moving the offsets joins the group as its only member (which it would refuse otherwise).

const TOPIC = 'reset-orders';
const PARTITIONS = 2;
const GROUP = 'reset-orders-view';
const PROCESSOR = 'orders-view';

let mock: KafkaMock;
let kafka: Kafka;
let producer: Producer;
let admin: Admin;
let startFailure: unknown;
let store: DynamoDbTokenStore;
let handler: ScriptedHandler;
let control: PollerEventSourceControl;

beforeAll(async () => {
  try {
    mock = await startKafkaMock({ topics: [{ topic: TOPIC, partitions: PARTITIONS }] });
    kafka = new Kafka({ clientId: 'reset-test', brokers: mock.brokers, logLevel: logLevel.NOTHING });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
    store = await freshDynamoStore();
    handler = new ScriptedHandler();
    const dispatcher = testDispatcher(
      testProcessor({ topics: [TOPIC], handler: handler.for(), initialSegments: 2 }),
      store,
    );
    const createPoller = () =>
      new KafkaPoller({
        brokers: mock.brokers,
        topics: [TOPIC],
        groupId: GROUP,
        deliver: async (event) => (await dispatch(dispatcher, event)).response,
        batchSize: 10,
        batchingWindowMs: 50,
        retryDelayMs: 20,
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 1_000,
      });
    const poller = createPoller();
    await poller.start();
    control = new PollerEventSourceControl({ topics: [TOPIC], groupId: GROUP, createPoller, running: poller });
  } catch (error) {
    startFailure = error;
  }
});

beforeEach(() => {
  if (startFailure !== undefined) throw startFailure;
});

afterAll(async () => {
  await control?.close().catch(() => undefined);
  await Promise.allSettled([producer?.disconnect(), admin?.disconnect()]);
  await mock?.stop();
});

/** Produces `count` records to each partition; returns the partitions' new ends. */
async function produce(count: number, tag: string): Promise<number[]> {
  const ends: number[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const [meta] = await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: count }, (_, i) => ({ partition, key: `key-${i % 5}`, value: `${tag}-${i}` })),
    });
    ends.push(Number(meta!.baseOffset) + count);
  }
  return ends;
}

async function committed(): Promise<number[]> {
  const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  return offsets!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function run(input: ResetExecutionInput) {
  const steps: string[] = [];
  const result = runResetLocally(input, {
    dynamoDb: localDynamoDb(),
    tableName: store.tableName,
    brokers: mock.brokers,
    kafkaOptions: { sessionTimeoutMs: 6_000, joinTimeoutMs: 20_000 },
    eventSources: control,
    settings: { pollSeconds: 1, emptyGroupTimeoutMs: 30_000 },
    waitMs: 100,
    onStep: (state) => {
      steps.push(state);
    },
  });
  return { result, steps };
}

const successes = () => handler.calls.filter((c) => c.succeeded);
const idOf = (c: HandlerCall) => `${c.topicPartition}@${c.offset}`;
const ids = (from: number, to: number) =>
  Array.from({ length: PARTITIONS }, (_, p) =>
    Array.from({ length: to - from }, (_, i) => `${TOPIC}-${p}@${from + i}`),
  ).flat();
const count = (list: readonly string[]) => {
  const out = new Map<string, number>();
  for (const id of list) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
};

describe('the reset state machine, run locally against the mock cluster and DynamoDB Local', () => {
  it('validates with asl-validator and stays on JSONPath', () => {
    const definition = synthesizeResetDefinition();
    const { isValid, errors } = validateAsl(structuredClone(definition));
    expect({ isValid, errors }).toEqual({ isValid: true, errors: [] });
    expect(JSON.stringify(definition)).not.toContain('JSONata');
  });

  it('rewinds without stopping the fleet for good: replayed records carry context.replay, nothing after the reset is lost', async () => {
    const ends = await produce(30, 'first');
    await waitFor('every record is committed', async () => (await committed()).every((c, p) => c === ends[p]));
    const before = successes().length;

    const { result, steps } = run(
      resetExecutionInput({ processor: PROCESSOR, resetId: 'reset-e2e', to: 'offset:10', by: 'tester', reason: 'e2e' }),
    );
    const final = await result;

    expect(steps).toEqual([
      'Disable event sources',
      ...steps.filter((s) => s === 'Check groups'),
      'Plan reset',
      'Move group offsets',
      'Write reset tokens',
      'Enable event sources',
    ]);
    expect(final.plan.partitions.map((p) => [p.id, p.from, p.to, p.replay, p.groupOffset])).toEqual([
      [`${TOPIC}-0`, 30, 10, 20, 10],
      [`${TOPIC}-1`, 30, 10, 20, 10],
    ]);
    expect(final.written).toMatchObject({ written: 2, already: 0 });
    expect(final.moved.groups).toEqual([{ groupId: GROUP, topic: TOPIC, partitions: 2 }]);

    // Records produced after the reset come after the replayed ones.
    const more = await produce(5, 'after');
    await waitFor('the replay and the new records are committed', async () =>
      (await committed()).every((c, p) => c === more[p]),
    );
    const after = successes().slice(before).map(idOf);
    const replayed = successes()
      .slice(before)
      .filter((c) => c.context.replay)
      .map(idOf);
    expect([...count(after)].sort()).toEqual(
      ids(10, 35)
        .map((id) => [id, 1])
        .sort(),
    );
    expect(replayed.sort()).toEqual(ids(10, 30).sort());
    const all = count(successes().map(idOf));
    for (const id of ids(0, 35)) expect(all.get(id), id).toBeGreaterThanOrEqual(1);
    const state = await store.readState(PROCESSOR);
    expect(state.partitions.map((p) => [p.partition, p.token.lowWatermark(), p.replay])).toEqual([
      [0, 35, null],
      [1, 35, null],
    ]);
  });

  it('does the work once when the same reset runs again', async () => {
    const before = successes().length;
    const epochs = (await store.readState(PROCESSOR)).partitions.map((p) => p.epoch);

    const final = await run(
      resetExecutionInput({ processor: PROCESSOR, resetId: 'reset-e2e', to: 'offset:10', by: 'tester', reason: 'e2e' }),
    ).result;
    const more = await produce(1, 'again');
    await waitFor('the new record is committed', async () => (await committed()).every((c, p) => c === more[p]));

    expect(final.plan.totals).toMatchObject({ pending: 0, done: 2 });
    expect(final.written).toMatchObject({ written: 0, already: 2 });
    expect(final.moved.groups).toEqual([{ groupId: GROUP, topic: TOPIC, partitions: 0 }]);
    expect(successes().slice(before).map(idOf).sort()).toEqual(ids(35, 36).sort());
    // Only the claims of the new records' batches moved the epochs: the reset wrote nothing.
    const now = (await store.readState(PROCESSOR)).partitions.map((p) => p.epoch);
    expect(now.map((e, i) => e - epochs[i]!)).toEqual([1, 1]);
  });

  it('enables the event sources again and fails with the typed error when a step fails after disabling', async () => {
    const before = (await store.readState(PROCESSOR)).partitions.map((p) => p.token.serialize());

    const error = await run(
      resetExecutionInput({
        processor: PROCESSOR,
        resetId: 'reset-bad-segment',
        to: 'earliest',
        segments: '9/15',
        by: 'tester',
      }),
    ).result.catch((e: unknown) => e);
    await control.settled();

    expect(error).toBeInstanceOf(ResetRequestError);
    expect((error as Error).message).toMatch(/^segment 9\/15 is not a live segment of "orders-view".*0\/1, 1\/1$/);
    expect((await control.describe()).map((m) => m.state)).toEqual(['Enabled']);
    expect((await store.readState(PROCESSOR)).partitions.map((p) => p.token.serialize())).toEqual(before);
  });

  it('refuses a bad spec or an unknown processor before disabling anything', async () => {
    const disabledAt = (await control.describe())[0]!.lastModified;
    const input = resetExecutionInput({ processor: PROCESSOR, resetId: 'reset-refused', to: 'earliest', by: 'tester' });

    const [badSpec, unknown] = await Promise.all([
      run({ ...input, to: 'yesterday' }).result.catch((e: unknown) => e),
      run({ ...input, processor: 'no-such-processor' }).result.catch((e: unknown) => e),
    ]);

    expect(badSpec).toBeInstanceOf(ResetRequestError);
    expect(unknown).toBeInstanceOf(UnknownProcessorError);
    expect(await control.describe()).toMatchObject([{ state: 'Enabled', lastModified: disabledAt }]);
  });
});
