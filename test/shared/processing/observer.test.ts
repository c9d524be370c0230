import { describe, expect, it } from 'vitest';
import { keyDigest } from '../../../shared/dead-letters/dead-letter.js';
import { Redriver } from '../../../shared/dead-letters/redriver.js';
import { NonRetriableError } from '../../../shared/errors.js';
import type { KafkaRecord } from '../../../shared/kafka/kafka-record.js';
import { silentLogger } from '../../../shared/observability/logger.js';
import type { SegmentWorkerRequest } from '../../../shared/processing/fan-out.js';
import { createDispatchHandler, createSegmentWorkerHandler } from '../../../shared/processing/handlers.js';
import { notifyObserver, type ProcessorObserver } from '../../../shared/processing/observer.js';
import { MemoryTokenStore } from '../../../shared/tokens/memory-token-store.js';
import type { TokenStore } from '../../../shared/tokens/token-store.js';
import { freshStores } from '../../support/dead-letters.js';
import { freshDynamoStore } from '../../support/dynamodb.js';
import { dispatch, eventOf, keyedLog, testDispatcher, testProcessor } from '../../support/harness.js';
import { LocalLambda, lambdaContext } from '../../support/lambda.js';
import { failingObserver, recordingObserver, warningLogger } from '../../support/observer.js';

/**
 * Offsets 0..5 of orders-0: `k` fails for good at 1 (parked with its later record 3), `r` keeps failing at 4 (its
 * later record 5 is blocked), `a` and `b` succeed.
 */
const KEYS = ['a', 'k', 'b', 'k', 'r', 'r'];
const handler = (record: KafkaRecord) => {
  if (record.offset === 1) throw new NonRetriableError('rejected');
  if (record.offset === 4) throw new Error('not yet');
};

describe.each([
  ['MemoryTokenStore', async (): Promise<TokenStore> => new MemoryTokenStore()],
  ['DynamoDB Local', async (): Promise<TokenStore> => freshDynamoStore()],
])('the observer of a dispatch on %s', (_name, makeStore) => {
  it('sees claim, failed attempts, checkpoint, park and hand-back, in that order, with their offsets', async () => {
    const store = await makeStore();
    const recorded = recordingObserver();
    const dispatcher = testDispatcher(testProcessor({ handler, initialSegments: 1 }), store, {
      observer: recorded.observer,
    });

    const result = await dispatch(dispatcher, eventOf(keyedLog(KEYS)), 'request-1');

    expect(result.response).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: 4 } }] });
    expect(recorded.sequence()).toEqual(['onClaim', 'onCheckpoint', 'onPark', 'onHandBack']);
    // Every failed attempt is told before the checkpoint.
    const checkpointAt = recorded.events.findIndex((e) => e.type === 'onCheckpoint');
    expect(recorded.events.slice(checkpointAt).some((e) => e.type === 'onRecordFailed')).toBe(false);
    const partition = { processor: 'orders-view', topic: 'orders', partition: 0, topicPartition: 'orders-0' };
    const [claim] = recorded.of('onClaim');
    expect(claim).toMatchObject({ ...partition, requestId: 'request-1', epoch: 1, layoutVersion: 1 });
    expect(claim!.batch).toEqual({ first: 0, last: 5 });
    expect(claim!.owner.startsWith('request-1/')).toBe(true);
    expect(
      recorded.of('onRecordFailed').map((e) => [e.offset, e.attempt, e.sequencingKey, e.requestId, e.redrive]),
    ).toEqual([
      [1, 1, 'k', 'request-1', false],
      [4, 1, 'r', 'request-1', false],
      [4, 2, 'r', 'request-1', false],
    ]);
    const [checkpoint] = recorded.of('onCheckpoint');
    expect(checkpoint).toMatchObject({
      ...partition,
      requestId: 'request-1',
      epoch: 1,
      owner: claim!.owner,
      delivered: { first: 0, last: 5 },
      watermark: { before: null, after: 4 },
      lettersParked: 2,
      skips: [],
    });
    expect(checkpoint!.report).toMatchObject({ handled: 2, failed: 1, blocked: 1, parked: 2, redeliverFrom: 4 });
    expect(checkpoint!.token.covers(0, 3)).toBe(true);
    expect(checkpoint!.previousToken.lowWatermark()).toBeNull();
    const [park] = recorded.of('onPark');
    expect(park).toMatchObject({ ...partition, epoch: 1, sequencingKey: 'k', synthetic: false, offsets: [1, 3] });
    expect(park!.digest).toBe(keyDigest('k'));
    expect(park!.letters.map((l) => [l.offset, l.reason])).toEqual([
      [1, 'non-retriable'],
      [3, 'behind-parked'],
    ]);
    expect(recorded.of('onHandBack')).toEqual([
      { ...partition, requestId: 'request-1', reason: 'unfinished', redeliverFrom: 4, offsets: [4, 5], epoch: 1 },
    ]);
  });

  it('does not change the batch response when every callback throws or rejects, and logs one warning per call', async () => {
    const event = eventOf(keyedLog(KEYS));
    const plain = await dispatch(
      testDispatcher(testProcessor({ handler, initialSegments: 1 }), await makeStore()),
      event,
      'request-1',
    );
    for (const rejects of [false, true]) {
      const failing = failingObserver({ rejects });
      const { logger, warnings } = warningLogger();
      const dispatcher = testDispatcher(testProcessor({ handler, initialSegments: 1 }), await makeStore(), {
        observer: failing.observer,
        logger,
      });

      const observed = await dispatch(dispatcher, event, 'request-1');
      await new Promise((resolve) => setImmediate(resolve));

      expect(observed.response).toEqual(plain.response);
      expect(observed.partitions).toEqual(plain.partitions);
      expect(failing.calls).toEqual([
        'onClaim',
        'onRecordFailed',
        'onRecordFailed',
        'onRecordFailed',
        'onCheckpoint',
        'onPark',
        'onHandBack',
      ]);
      const observerWarnings = warnings.filter((w) => w.message.startsWith('observer callback failed'));
      expect(observerWarnings.map((w) => w.fields?.callback)).toEqual(failing.calls);
    }
  });
});

describe('the observer on whole hand-backs', () => {
  it('is told a partition another live invocation holds is handed back, with every delivered offset', async () => {
    const store = new MemoryTokenStore();
    await store.initialise('orders-view', 1);
    await store.claim({
      processor: 'orders-view',
      topic: 'orders',
      partition: 0,
      owner: 'someone-else',
      layoutVersion: 1,
      leaseMs: 60_000,
    });
    const recorded = recordingObserver();
    const dispatcher = testDispatcher(testProcessor({ handler: () => {}, initialSegments: 1 }), store, {
      observer: recorded.observer,
      settings: { claimWaitMs: 0 },
    });

    const result = await dispatch(dispatcher, eventOf(keyedLog(['a', 'b', 'c'])), 'request-2');

    expect(result.response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 0 } }]);
    expect(recorded.sequence()).toEqual(['onHandBack']);
    expect(recorded.of('onHandBack')[0]).toMatchObject({
      topicPartition: 'orders-0',
      requestId: 'request-2',
      reason: 'claim-held',
      redeliverFrom: 0,
      offsets: [0, 1, 2],
      detail: expect.stringMatching(/claimed by someone-else/),
    });
  });

  it('is told every partition of a refused event is handed back, after the claims it saw granted', async () => {
    const store = new MemoryTokenStore();
    const recorded = recordingObserver();
    // A fault that is not the event's (here the logger) while the batch is parsed: the event is refused.
    const logger = {
      ...silentLogger,
      error: (message: string) => {
        if (message.startsWith('malformed record')) throw new Error('log sink down');
      },
    };
    const dispatcher = testDispatcher(testProcessor({ handler: () => {}, initialSegments: 1 }), store, {
      observer: recorded.observer,
      logger,
    });
    const event = eventOf([...keyedLog(['a', 'b', 'c']), { topic: 'orders', partition: 1, offset: 7, key: 'd' }]);
    (event.records['orders-0']![1] as unknown as Record<string, unknown>).value = 42;

    await expect(dispatch(dispatcher, event, 'request-3')).rejects.toThrow('log sink down');

    expect(recorded.sequence()).toEqual(['onClaim', 'onClaim', 'onHandBack', 'onHandBack']);
    expect(recorded.of('onHandBack')).toEqual([
      expect.objectContaining({
        topicPartition: 'orders-0',
        reason: 'event-refused',
        redeliverFrom: 0,
        offsets: [0, 1, 2],
      }),
      expect.objectContaining({ topicPartition: 'orders-1', reason: 'event-refused', redeliverFrom: 7, offsets: [7] }),
    ]);
    expect(recorded.of('onHandBack')[0]!.detail).toBe('log sink down');
  });
});

describe('the observer in fan-out mode', () => {
  it('is told of failed attempts by the worker that ran them, and of claims and checkpoints by the dispatcher', async () => {
    const store = await freshDynamoStore();
    const processor = testProcessor({ handler, initialSegments: 1 });
    const dispatcherSide = recordingObserver();
    const workerSide = recordingObserver();
    const worker = createSegmentWorkerHandler(processor, {
      store,
      logger: silentLogger,
      observer: workerSide.observer,
    });
    const lambda = new LocalLambda({ worker: (event, context) => worker(event as SegmentWorkerRequest, context) });
    const dispatchHandler = createDispatchHandler(processor, {
      store,
      mode: 'fan-out',
      workerFunctionName: 'worker',
      lambdaClient: lambda.asClient(),
      logger: silentLogger,
      metrics: false,
      observer: dispatcherSide.observer,
    });

    const response = await dispatchHandler(eventOf(keyedLog(KEYS)), lambdaContext(60_000, 'dispatch-1'));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: 4 } }] });
    expect(dispatcherSide.sequence({ failures: true })).toEqual(['onClaim', 'onCheckpoint', 'onPark', 'onHandBack']);
    expect(dispatcherSide.events.every((e) => e.event.requestId === 'dispatch-1')).toBe(true);
    expect(workerSide.sequence({ failures: true })).toEqual(['onRecordFailed', 'onRecordFailed', 'onRecordFailed']);
    expect(workerSide.of('onRecordFailed').map((e) => [e.offset, e.attempt, e.requestId])).toEqual([
      [1, 1, 'worker-1'],
      [4, 1, 'worker-1'],
      [4, 2, 'worker-1'],
    ]);
    expect(dispatcherSide.of('onPark')[0]!.offsets).toEqual([1, 3]);
  });
});

describe('the observer of a redrive', () => {
  it('is told of each letter resolved or failed, after the write, with the redrive request id', async () => {
    const { store, deadLetters } = await freshStores();
    let healed = false;
    const processor = testProcessor({
      handler: (record) => {
        if (record.offset === 1 && !healed) throw new NonRetriableError('rejected');
      },
      initialSegments: 1,
      deadLetter: { redriveBaseDelayMs: 0, redriveMaxDelayMs: 0 },
    });
    await dispatch(testDispatcher(processor, store), eventOf(keyedLog(['a', 'k', 'k'])));
    const recorded = recordingObserver();
    const redriver = new Redriver({ processor, store, deadLetters, logger: silentLogger, observer: recorded.observer });
    const ref = { processor: 'orders-view', topic: 'orders', partition: 0, digest: keyDigest('k') };

    const failed = await redriver.redriveKey(ref, { deadline: Date.now() + 60_000, requestId: 'redrive-1' });
    healed = true;
    const drained = await redriver.redriveKey(ref, { deadline: Date.now() + 60_000, requestId: 'redrive-2' });

    expect(failed.outcome).toBe('failed');
    expect(drained).toMatchObject({ outcome: 'drained', redriven: 2 });
    expect(recorded.sequence({ failures: true })).toEqual(['onRecordFailed', 'onRedrive', 'onRedrive', 'onRedrive']);
    expect(recorded.of('onRecordFailed')[0]).toMatchObject({
      offset: 1,
      attempt: 1,
      redrive: true,
      requestId: 'redrive-1',
    });
    expect(recorded.of('onRedrive').map((e) => [e.offset, e.outcome, e.requestId, e.reason])).toEqual([
      [1, 'failed', 'redrive-1', 'non-retriable'],
      [1, 'resolved', 'redrive-2', 'non-retriable'],
      [2, 'resolved', 'redrive-2', 'behind-parked'],
    ]);
    expect(recorded.of('onRedrive')[0]!.error).toMatchObject({ name: 'NonRetriableError', message: 'rejected' });
    expect(recorded.of('onRedrive').every((e) => e.digest === keyDigest('k') && e.sequencingKey === 'k')).toBe(true);
  });
});

describe('notifyObserver', () => {
  it('builds no event for a callback the observer lacks, and survives a logger that throws', () => {
    let built = 0;
    const observer: ProcessorObserver = {
      onClaim: () => {
        throw new Error('observer');
      },
    };
    const throwingLogger = {
      ...silentLogger,
      warn: () => {
        throw new Error('logger');
      },
    };

    notifyObserver(observer, throwingLogger, 'onCheckpoint', () => {
      built++;
      return {} as never;
    });
    expect(built).toBe(0);
    expect(() =>
      notifyObserver(observer, throwingLogger, 'onClaim', () => {
        built++;
        return {} as never;
      }),
    ).not.toThrow();
    expect(built).toBe(1);
  });
});
