import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { GroupNotEmptyError } from '../../shared/kafka/kafkajs-admin.js';
import type { KafkaAdmin } from '../../shared/kafka/kafka-admin.js';
import type { EventSourceControl } from '../../shared/operations/event-source-control.js';
import { ResetRequestError } from '../../shared/reset/reset-errors.js';
import { resetExecutionInput } from '../../shared/reset/reset-execution.js';
import { ResetSteps } from '../../shared/reset/reset-steps.js';
import { runReset } from '../../shared/reset/run-reset.js';
import { freshStores } from '../support/dead-letters.js';
import { localDynamoDb } from '../support/dynamodb.js';
import { dispatch, eventOf, ScriptedHandler, testDispatcher, testProcessor } from '../support/harness.js';
import { memoryKafkaAdmin } from '../support/reset.js';

/** An event source that records what it was told; its mapping is Disabled once disabled. */
function recordingSources(): EventSourceControl & { calls: boolean[] } {
  let enabled = true;
  const calls: boolean[] = [];
  return {
    calls,
    describe: async () => [
      { topic: 'orders', id: 'm-1', consumerGroupId: 'g', state: enabled ? 'Enabled' : 'Disabled', lastModified: 0 },
    ],
    setEnabled: async (value) => {
      calls.push(value);
      enabled = value;
    },
  };
}

/** The in-memory cluster, whose group calls succeed after `busy` refusals (the group's last member leaving). */
function cluster(busy: number): KafkaAdmin & { moves: unknown[] } {
  const base = memoryKafkaAdmin({ orders: [{ low: 0, high: 10 }] });
  const moves: unknown[] = [];
  let refusals = busy;
  return {
    ...base,
    moves,
    groupState: async () => ({ state: 'Empty', members: 0 }),
    setGroupOffsets: async (groupId, topic, offsets) => {
      if (refusals-- > 0) throw new GroupNotEmptyError(groupId, 1);
      moves.push({ groupId, topic, offsets });
    },
  };
}

async function setup(kafka: KafkaAdmin) {
  const { tableName, store, deadLetters } = await freshStores();
  const dispatcher = testDispatcher(testProcessor({ handler: new ScriptedHandler().for(), initialSegments: 2 }), store);
  await dispatch(
    dispatcher,
    eventOf(Array.from({ length: 10 }, (_, offset) => ({ topic: 'orders', partition: 0, offset, key: `k${offset}` }))),
  );
  const eventSources = recordingSources();
  const steps = new ResetSteps({
    table: { documents: DynamoDBDocumentClient.from(localDynamoDb()), tableName },
    layouts: store,
    deadLetters,
    kafka: () => kafka,
    eventSources,
    settings: { pollSeconds: 1 },
  });
  return { steps, eventSources, store };
}

const input = (extra: Partial<Parameters<typeof resetExecutionInput>[0]> = {}) =>
  resetExecutionInput({ processor: 'orders-view', resetId: 'run-1', to: 'offset:4', by: 'tester', ...extra });
const noWait = async () => undefined;

describe('runReset, the state machine’s steps in process', () => {
  it('runs every step in order, retrying a group that is not empty yet, and enables the sources again', async () => {
    const kafka = cluster(2);
    const { steps, eventSources, store } = await setup(kafka);
    const seen: string[] = [];

    const result = await runReset(steps, input(), { sleep: noWait, onStep: (step) => seen.push(step) });

    expect(seen).toEqual(['disable', 'check', 'plan', 'move', 'write', 'enable']);
    expect(kafka.moves).toEqual([{ groupId: 'g', topic: 'orders', offsets: [{ partition: 0, offset: 4 }] }]);
    expect(eventSources.calls).toEqual([false, true]);
    expect(result.written).toMatchObject({ written: 1 });
    expect((await store.readState('orders-view')).partitions[0]!.token.lowWatermark()).toBe(4);
  });

  it('enables the sources again and rethrows the typed error when a step fails after disabling', async () => {
    const { steps, eventSources, store } = await setup(cluster(0));

    const error = await runReset(steps, input({ segments: '5/7' }), { sleep: noWait }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ResetRequestError);
    expect(eventSources.calls).toEqual([false, true]);
    expect((await store.readState('orders-view')).partitions[0]!.token.lowWatermark()).toBe(10);
  });

  it('changes nothing for a bad request: the sources are never disabled', async () => {
    const { steps, eventSources } = await setup(cluster(0));

    const error = await runReset(steps, { ...input(), to: 'soon' }, { sleep: noWait }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ResetRequestError);
    expect(eventSources.calls).toEqual([]);
  });
});
