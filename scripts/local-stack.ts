/**
 * `npm start`: the whole system on this machine. DynamoDB Local holds the tokens; a producer writes keyed order
 * events to an in-memory topic; an event source simulator delivers them to the real dispatch handler the way
 * Lambda's Kafka event source does (two "containers", rebalances, retries, an on-failure destination); the
 * split and merge state machines, synthesized from the CDK app, run mid-stream with aws-local-stepfunctions.
 * It prints live progress and ends with a verification summary; the exit code is 0 only if nothing was lost,
 * nothing checkpointed was handled again, no key ran out of order and the layout stayed whole.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDbDeadLetterStore,
  isParked,
  Redriver,
  createDispatcher,
  createTokenTable,
  defineProcessor,
  DynamoDbTokenStore,
  javaStringHashCode,
  KafkaRecord,
  segmentName,
  silentLogger,
  type Dispatcher,
  type TokenStore,
} from '../shared/index.js';
import { toRawRecord } from '../shared/processing/fan-out.js';
import { localClientConfig, startDynamoDbLocal } from '../local/dynamodb-local.js';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import type { KafkaBatchResponse } from '../shared/processing/dispatcher.js';
import type { RawKafkaEvent } from '../shared/kafka/kafka-event.js';
import { EventSourceSimulator, TopicLog, type ParkedBatch } from '../local/event-source-simulator.js';
import { KafkaPoller } from '../local/kafka-poller.js';
import { runLocally, synthesizeLayoutDefinitions } from '../local/local-state-machines.js';
import { LOCAL_STACK_HELP, parseLocalStackFlags, POISON_FAILURES } from '../local/local-stack-flags.js';
import { stillParkedIds, Verifier } from '../local/verification.js';

const parsed = parseLocalStackFlags(process.argv.slice(2));
if ('help' in parsed) {
  console.log(LOCAL_STACK_HELP);
  process.exit(0);
}
if ('error' in parsed) {
  console.error(`npm start: ${parsed.error}`);
  process.exit(2);
}
const settings = parsed.settings;
const flags = { topic: settings.topic, group: settings.group, produce: settings.produce };
const lambdaRetries = settings.lambdaRetries;

const LAYOUT_TTL_MS = 1_000;
const processorName = 'order-projection';
const verifier = new Verifier(javaStringHashCode);
let attempts = 0;

const ddb = await startDynamoDbLocal();
const stopDynamoDb = () => void ddb.stop();
process.once('SIGINT', () => {
  stopDynamoDb();
  process.exit(130);
});
try {
  const client = new DynamoDBClient(localClientConfig(ddb.endpoint));
  await createTokenTable(client, 'tidemark-local');
  const store: TokenStore = verifier.watch(new DynamoDbTokenStore({ tableName: 'tidemark-local', client }));
  const deadLetters = verifier.watchDeadLetters(new DynamoDbDeadLetterStore({ tableName: 'tidemark-local', client }));
  const poisonFailures = new Map<number, number>();
  const processor = defineProcessor({
    name: processorName,
    topics: [flags.topic!],
    concurrency: settings.concurrency,
    initialSegments: settings.segments,
    retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    // Quick redrives so a short run shows them; deployments keep the defaults (a minute, doubling to an hour).
    deadLetter: { redriveBaseDelayMs: 2_000, redriveMaxDelayMs: 8_000 },
    handler: async (record, context) => {
      attempts++;
      verifier.started(record, context);
      await new Promise((resolve) => setTimeout(resolve, 2)); // the projection's write
      const event = record.json<{ seq: number; poison?: boolean }>();
      if (event?.poison) {
        const failed = poisonFailures.get(event.seq) ?? 0;
        if (failed < POISON_FAILURES) {
          poisonFailures.set(event.seq, failed + 1);
          throw new Error(`poison record ${event.seq} (failure ${failed + 1} of ${POISON_FAILURES})`);
        }
      } else if (Math.random() < settings.failureRate) throw new Error('simulated downstream failure');
      verifier.finished(record, context);
    },
  });
  // The scheduled redrive, run every second here (every minute in a deployment).
  const redriver = new Redriver({ processor, store, deadLetters, logger: silentLogger });
  let redriven = 0;
  const redriveOnce = async () => {
    const report = await redriver.redriveDue({ remainingMs: () => 30_000 }).catch((error: unknown) => {
      console.log(`   redrive failed: ${String(error)}`);
      return undefined;
    });
    for (const key of report?.keys ?? []) {
      if (key.redriven > 0 || key.outcome === 'failed') {
        console.log(`   redrive ${key.topicPartition} ${key.key}: ${key.outcome}, ${key.redriven} letter(s) handled`);
      }
    }
    redriven += report?.redriven ?? 0;
    return report;
  };
  let redriving = true;
  const redriveLoop = (async () => {
    while (redriving) {
      await redriveOnce();
      await sleep(1_000);
    }
  })();
  const containers: Dispatcher[] = [0, 1].map(() =>
    createDispatcher(processor, {
      store,
      logger: silentLogger,
      layoutTtlMs: LAYOUT_TTL_MS,
      leaseMs: 10_000,
      claimWaitMs: 5_000,
    }),
  );
  const invoke = (event: RawKafkaEvent, container: number, remainingMs: () => number, requestId?: string) =>
    containers[container]!.dispatch(event, { remainingMs, invocationId: requestId }).then((r) => r.response);
  const brokers = process.env.KAFKA_BROKERS?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const source = brokers?.length ? await kafkaSource(brokers, invoke) : simulatedSource(invoke);
  console.log(`Source: ${source.description}`);

  // The producer: keyed order events, each key on one partition as Kafka's partitioner would do.
  const started = Date.now();
  let produced = 0;
  // Poison records spread over the first two thirds of the run, so there is time to park and redrive them.
  const expected = Math.floor((settings.durationMs / 1000) * settings.rate);
  const poisonAt = new Set(
    Array.from({ length: settings.poison }, (_, i) => Math.floor(((i + 1) * expected * 2) / 3 / (settings.poison + 1))),
  );
  const producer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * settings.rate) - produced;
    for (let i = 0; i < due; i++, produced++) {
      const key = `order-${Math.floor(Math.random() * settings.keys)}`;
      source.produce(Math.abs(javaStringHashCode(key)) % settings.partitions, key, {
        type: 'OrderUpdated',
        order: key,
        seq: produced,
        ...(poisonAt.has(produced) ? { poison: true } : {}),
      });
    }
  }, 20);

  // Split then merge mid-stream, through the same state machines a deployment runs.
  const definitions = synthesizeLayoutDefinitions();
  const coordinator = { store, layoutTtlMs: LAYOUT_TTL_MS, clockSkewMs: 100, pollSeconds: 1 };
  const changes = (async () => {
    await sleep(settings.durationMs / 3);
    const before = await store.readLayout(processorName);
    const target = before.segments[0]!;
    await change('split', segmentName(target), before.version);
    await sleep(settings.durationMs / 3);
    const after = await store.readLayout(processorName);
    const half = after.segments.find((s) => s.id === target.id && s.mask === ((target.mask << 1) | 1))!;
    await change('merge', segmentName(half), after.version);
  })();
  async function change(operation: 'split' | 'merge', segment: string, version: number) {
    const name = `${processorName}-${operation}-${segment.replace('/', '-')}-v${version}`;
    console.log(`>> ${operation} ${segment} (execution ${name})`);
    const run = runLocally(
      definitions[operation],
      { processor: processorName, segment },
      { coordinator, executionName: name, waitMs: 250 },
    );
    const result = (await run.result) as { outcome: string; layoutVersion: number };
    console.log(`>> ${operation} ${segment}: ${result.outcome}, layout v${result.layoutVersion}`);
  }

  let lastHandled = 0;
  let tick = 0;
  const progress = setInterval(() => {
    void (async () => {
      tick++;
      const state = await store.readState(processorName).catch(() => undefined);
      const handled = verifier.summary([], []).handled;
      const lag = source.lag();
      const parkedKeys = state?.partitions.flatMap((p) => p.parked.filter(isParked)) ?? [];
      const parkedLetters = parkedKeys.reduce((n, k) => n + k.parked - k.resolved, 0);
      console.log(
        `[${String(Math.round((Date.now() - started) / 1000)).padStart(3)}s] produced ${produced}  handled ${handled}  ${handled - lastHandled} records/s  lag ${lag}  parked ${parkedLetters} in ${parkedKeys.length} key(s)  redriven ${redriven}`,
      );
      lastHandled = handled;
      if (state && tick % 5 === 0) {
        const segments = state.layout.segments.map((s) => {
          const next = state.partitions.map((p) => p.token.lowWatermark(s) ?? '-');
          return `${segmentName(s)}${s.state === 'draining' ? '(draining)' : ''}[${next.join(',')}]`;
        });
        const owners = state.partitions
          .filter((p) => p.leaseUntil > Date.now())
          .map((p) => `${p.topic}-${p.partition}:e${p.epoch}`);
        console.log(
          `       layout v${state.layout.version}: ${segments.join(' ')}  live claims: ${owners.join(' ') || 'none'}`,
        );
      }
    })();
  }, 1000);

  await sleep(settings.durationMs);
  clearInterval(producer);
  await changes;
  await source.finish();
  // Redrive what is still parked and could succeed (poison heals after its first redrive), within a bound.
  const drainUntil = Date.now() + 30_000;
  while (Date.now() < drainUntil) {
    const parked = (await deadLetters.listParkedKeys(processorName)).filter(isParked);
    if (parked.length === 0) break;
    await sleep(500);
  }
  redriving = false;
  await redriveLoop;
  clearInterval(progress);

  const finalState = await store.readState(processorName);
  const stillParked = await stillParkedIds(deadLetters, processorName);
  const summary = verifier.summary(source.produced(), source.parked(), stillParked);
  console.log(`\nLayout v${finalState.layout.version}: ${finalState.layout.segments.map(segmentName).join(' ')}`);
  console.log(`Event source: ${JSON.stringify(source.stats())}; handler attempts ${attempts}`);
  if (!source.knowsProduced) console.log('(consuming a topic it did not write: "lost" is not checked; use --produce)');
  for (const problem of verifier.problems.slice(0, 10)) console.log(`  ! ${problem}`);
  console.log(`Verification: ${JSON.stringify(summary)}`);
  const ok =
    summary.lost === 0 &&
    summary.reprocessedAfterCheckpoint === 0 &&
    summary.orderViolations === 0 &&
    summary.layoutErrors === 0;
  console.log(ok ? 'OK: nothing lost, nothing repeated after checkpoint, every key in order.' : 'FAILED: see above.');
  process.exitCode = ok ? 0 : 1;
} finally {
  await ddb.stop();
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type Invoke = (
  event: RawKafkaEvent,
  container: number,
  remainingMs: () => number,
  requestId?: string,
) => Promise<KafkaBatchResponse>;

/** Where records come from and how they are delivered. */
interface Source {
  readonly description: string;
  /** Whether every produced record is known, so loss can be checked. */
  readonly knowsProduced: boolean;
  produce(partition: number, key: string, value: unknown): void;
  lag(): string;
  /** Stops producing and resolves once everything produced is consumed. */
  finish(): Promise<void>;
  produced(): Array<{ topicPartition: string; offset: number }>;
  parked(): ParkedBatch[];
  stats(): unknown;
}

function rawRecord(topic: string, partition: number, key: string, value: unknown) {
  return toRawRecord(
    new KafkaRecord({
      topic,
      partition,
      offset: 0,
      timestamp: Date.now(),
      timestampType: 'CREATE_TIME',
      key: Buffer.from(key),
      value: Buffer.from(JSON.stringify(value)),
      headers: [],
    }),
  );
}

/** The generator's in-memory topic, delivered by the event source simulator. */
function simulatedSource(invoke: Invoke): Source {
  const log = new TopicLog(flags.topic!, settings.partitions);
  const simulator = new EventSourceSimulator(
    log,
    (event, invocation) => invoke(event, invocation.container, invocation.remainingMs, invocation.requestId),
    {
      batchSize: settings.batchSize,
      batchingWindowMs: 200,
      maxRetryAttempts: lambdaRetries,
      duplicateRate: 0.02,
      rewindRate: 0.02,
      timeoutMs: 30_000,
    },
  ).start();
  return {
    description: `generator and event source simulator, ${settings.partitions} partitions`,
    knowsProduced: true,
    produce: (partition, key, value) => void log.append(partition, rawRecord(log.topic, partition, key, value)),
    lag: () =>
      Array.from({ length: log.partitionCount }, (_, p) => `p${p}:${log.end(p) - simulator.committedOffset(p)}`).join(
        ' ',
      ),
    finish: () => simulator.finish(),
    produced: () =>
      Array.from({ length: log.partitionCount }, (_, p) =>
        Array.from({ length: log.end(p) }, (_, offset) => ({ topicPartition: `${log.topic}-${p}`, offset })),
      ).flat(),
    parked: () => simulator.parked,
    stats: () => simulator.stats,
  };
}

/** A Kafka cluster's topic, consumed by a Lambda-like kafkajs poller (and, with --produce, fed by the generator). */
async function kafkaSource(brokers: string[], invoke: Invoke): Promise<Source> {
  const topic = flags.topic!;
  const poller = new KafkaPoller({
    brokers,
    topics: [topic],
    groupId: flags.group!,
    batchSize: settings.batchSize,
    batchingWindowMs: 200,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    deliver: (event) => invoke(event, 0, () => 60_000),
  });
  await poller.start();
  const kafka = new Kafka({ clientId: 'tidemark-local-producer', brokers, logLevel: kafkaLogLevel.NOTHING });
  const producer = kafka.producer();
  if (flags.produce) await producer.connect();
  const pending: Array<{ partition: number; key: string; value: string }> = [];
  const written: Array<{ topicPartition: string; offset: number }> = [];
  const ends = new Map<string, number>();
  let sending = Promise.resolve();
  const flush = () => {
    const messages = pending.splice(0);
    if (messages.length === 0 || !flags.produce) return;
    sending = sending.then(async () => {
      for (let partition = 0; partition < settings.partitions; partition++) {
        const batch = messages.filter((m) => m.partition === partition);
        if (batch.length === 0) continue;
        const [meta] = await producer.send({ topic, messages: batch });
        const base = Number(meta!.baseOffset);
        batch.forEach((_, i) => written.push({ topicPartition: `${topic}-${partition}`, offset: base + i }));
        ends.set(`${topic}-${partition}`, base + batch.length);
      }
    });
  };
  const timer = setInterval(flush, 20);
  return {
    description: `Kafka ${brokers.join(',')}, topic ${topic}, group ${flags.group}${flags.produce ? ', producing the generated stream' : ''}`,
    knowsProduced: Boolean(flags.produce),
    produce: (partition, key, value) => void pending.push({ partition, key, value: JSON.stringify(value) }),
    lag: () => {
      const committed = poller.committedOffsets();
      return [...ends].map(([id, end]) => `${id}:${end - (committed.get(id) ?? 0)}`).join(' ') || '-';
    },
    finish: async () => {
      clearInterval(timer);
      flush();
      await sending;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && [...ends].some(([id, end]) => (poller.committedOffsets().get(id) ?? 0) < end))
        await sleep(200);
      await poller.stop();
      if (flags.produce) await producer.disconnect();
    },
    produced: () => (flags.produce ? written : []),
    parked: () => [],
    stats: () => poller.stats,
  };
}
