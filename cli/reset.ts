/**
 * `tidemark reset <processor> --to <spec>`: moves a processor's tokens back (or forward) without stopping the fleet.
 * A dry run by default: it prints, per partition, from → to, the offsets read again or passed over and whether parked
 * letters are cleared. `--execute` runs the reset state machine (on AWS: StartExecution, then followed; with
 * `--endpoint` and `--brokers`: its steps in this process, with runReset).
 */
import { userInfo } from 'node:os';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigurationError } from '../shared/errors.js';
import { createKafkaAdmin } from '../shared/kafka/kafkajs-admin.js';
import { ResetRequestError } from '../shared/reset/reset-errors.js';
import {
  newResetId,
  RESET_ID,
  resetExecutionInput,
  type ResetExecutionInput,
} from '../shared/reset/reset-execution.js';
import { createResetSteps } from '../shared/reset/reset-handlers.js';
import { planReset, type ResetPlan } from '../shared/reset/reset-plan.js';
import { runReset } from '../shared/reset/run-reset.js';
import { UnmanagedEventSources } from '../shared/reset/unmanaged-event-sources.js';
import { DynamoDbDeadLetterStore } from '../shared/dead-letters/dynamodb-dead-letter-store.js';
import { listOf } from '../shared/reset/reset-scope.js';
import { parseResetSpec, RESET_SPECS_ALLOWED } from '../shared/reset/reset-spec.js';
import type { ResetWriteResult } from '../shared/reset/reset-writer.js';
import { kafkaAdminSettingsFromEnv, resolveKafkaAdminSettings, type KafkaAdminSettings } from '../shared/settings.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import {
  parseStrict,
  positionalArgs,
  processorArg,
  TABLE_OPTIONS,
  TABLE_OPTIONS_HELP,
  tableTarget,
  UsageError,
  type OptionSpec,
  type TableTarget,
} from './args.js';
import { awsClientConfig, dynamoDbClient, type CliContext } from './context.js';
import { againstTable } from './errors.js';
import { count } from './format.js';

export const RESET_OPTIONS = {
  ...TABLE_OPTIONS,
  to: { type: 'string' },
  partitions: { type: 'string' },
  segments: { type: 'string' },
  'clear-parked': { type: 'boolean' },
  execute: { type: 'boolean' },
  brokers: { type: 'string' },
  group: { type: 'string' },
  topics: { type: 'string' },
  'state-machine': { type: 'string' },
  id: { type: 'string' },
  by: { type: 'string' },
  reason: { type: 'string' },
} as const satisfies OptionSpec;

export const RESET_USAGE = `Usage: tidemark reset <processor> --to <spec> [--partitions <list>] [--segments <list>] [--clear-parked] [--execute]

Moves the processor's tokens to <spec> without stopping the fleet. A dry run unless --execute: prints per partition
from → to, the offsets read again (or passed over) and whether parked letters are cleared. Executing runs the reset
state machine: disable the event sources, wait until their consumer groups are empty, move the groups' offsets,
write the reset tokens (one fenced write per partition), enable the event sources. Replayed records reach the
handler with context.replay true (or are skipped with the processor's replay: 'skip').

Options:
  --to <spec>               ${RESET_SPECS_ALLOWED}
  --partitions <list>       only these partitions: orders-0,orders-3 (or 0,3 with one topic)
  --segments <list>         only these live segments, e.g. 0/1,3/3
  --clear-parked            delete the scoped partitions' parked letters (audited); default: they stay parked
  --execute                 apply it (default: a dry run that changes nothing)
  --brokers <host:port,…>   the Kafka cluster, read for the partitions' offsets (default: $TIDEMARK_KAFKA_BROKERS or
                            $TIDEMARK_MSK_CLUSTER_ARN, with $TIDEMARK_KAFKA_AUTH and $TIDEMARK_KAFKA_SECRET_ARN)
  --topics <list>           the processor's topics (default: those of its partitions in the token table)
  --group <id>              with --endpoint --execute: the consumer group of the local event source; stop it first
  --state-machine <arn>     the reset state machine (default: $TIDEMARK_RESET_STATE_MACHINE)
  --id <reset id>           the reset's id and execution name (default: <processor>-reset-<time>-<random>); the same
                            id again skips the partitions it already reset
  --by <who>                who asks, for the audit item (default: your AWS caller ARN, or your user name locally)
  --reason <text>           why, for the audit item (default: "reset")
${TABLE_OPTIONS_HELP}`;

type Values = Record<string, string | boolean | undefined>;

/** `tidemark reset …` (after the command word). */
export async function reset(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseStrict(args, RESET_OPTIONS, RESET_USAGE) as {
    values: Values;
    positionals: string[];
  };
  if (values.help) {
    context.out(RESET_USAGE);
    return 0;
  }
  const [processorText] = positionalArgs(positionals, ['<processor>'], RESET_USAGE);
  const processor = processorArg(processorText!, '<processor>', RESET_USAGE);
  const to = values.to as string | undefined;
  if (to === undefined) throw new UsageError(`missing --to <spec>: one of ${RESET_SPECS_ALLOWED}`, RESET_USAGE);
  try {
    parseResetSpec(to);
  } catch (error) {
    if (error instanceof ResetRequestError) throw new UsageError(`--to: ${error.message}`, RESET_USAGE);
    throw error;
  }
  const partitions = listArg(values.partitions, '--partitions', /^(?:.+-)?\d+$/, 'orders-3 or 3', RESET_USAGE);
  const segments = listArg(values.segments, '--segments', /^\d+\/\d+$/, '<id>/<mask>, e.g. 0/1', RESET_USAGE);
  const clearParked = values['clear-parked'] === true;
  if (clearParked && segments !== null) {
    throw new UsageError(
      '--clear-parked applies to whole partitions and cannot be combined with --segments; scope by --partitions',
      RESET_USAGE,
    );
  }
  const id = values.id as string | undefined;
  if (id !== undefined && !RESET_ID.pattern.test(id)) {
    throw new UsageError(`--id must be ${RESET_ID.allowed}, got ${JSON.stringify(id)}`, RESET_USAGE);
  }
  const topics = listArg(values.topics, '--topics', /^[A-Za-z0-9._-]{1,249}$/, 'Kafka topic names', RESET_USAGE);
  const kafka = kafkaArg(values.brokers as string | undefined, context.env);
  const target = tableTarget(values, context.env, RESET_USAGE);
  const execute = values.execute === true;
  if (execute && target.endpoint !== undefined) {
    if (!kafka)
      throw new UsageError('--execute with --endpoint needs --brokers <host:port,…>: the local cluster', RESET_USAGE);
    if (values.group === undefined) {
      throw new UsageError(
        '--execute with --endpoint needs --group <id>: the consumer group of the local event source (stop it first)',
        RESET_USAGE,
      );
    }
  }
  const stateMachine = (values['state-machine'] as string | undefined) ?? context.env.TIDEMARK_RESET_STATE_MACHINE;
  if (execute && target.endpoint === undefined && !stateMachine) {
    throw new UsageError(
      'no reset state machine: pass --state-machine <arn> or set TIDEMARK_RESET_STATE_MACHINE',
      RESET_USAGE,
    );
  }

  const client = dynamoDbClient(target, context.env);
  const store = new DynamoDbTokenStore({ tableName: target.tableName, client });
  const table = { documents: DynamoDBDocumentClient.from(client), tableName: target.tableName };
  return againstTable(target, client, async () => {
    const resetId = id ?? newResetId(processor, context.clock());
    const by = (values.by as string | undefined) ?? (execute ? await caller(target, context) : 'dry run');
    const input = resetExecutionInput({
      processor,
      resetId,
      to,
      partitions,
      segments,
      clearParked,
      by,
      reason: (values.reason as string | undefined) ?? 'reset',
    });
    const topicList = topics ?? (await registeredTopics(store, processor));

    if (!execute || target.endpoint !== undefined) {
      if (!kafka) {
        throw new ConfigurationError(
          "the plan reads the partitions' offsets from Kafka: pass --brokers <host:port,…> or set TIDEMARK_KAFKA_BROKERS or TIDEMARK_MSK_CLUSTER_ARN (with --execute alone, the reset state machine plans it where Kafka is reachable)",
        );
      }
      const admin = createKafkaAdmin(kafka);
      let plan: ResetPlan;
      try {
        plan = await planReset(
          { processor, to, partitions, segments, clearParked, resetId },
          { table, layouts: store, kafka: admin, topics: topicList, clock: context.clock },
        );
      } finally {
        await admin.close();
      }
      for (const line of formatResetPlan(plan, { dryRun: !execute })) context.out(line);
      if (!execute) return 0;
      return runLocally(input, { target, client, kafka, group: values.group as string, topics: topicList }, context);
    }
    return runOnAws(input, stateMachine!, target, context);
  });
}

/**
 * The reset against a local DynamoDB, in this process: the state machine's steps run by {@link runReset}, with the
 * local event source unmanaged (it must not be reading: moving the offsets refuses while its group has members).
 */
async function runLocally(
  input: ResetExecutionInput,
  where: {
    target: TableTarget;
    client: ReturnType<typeof dynamoDbClient>;
    kafka: KafkaAdminSettings;
    group: string;
    topics: readonly string[];
  },
  { out, sleep }: CliContext,
): Promise<number> {
  out(
    `Running ${input.resetId} against ${where.target.endpoint}; the CLI does not stop the local event source: it must not be reading (group ${where.group})`,
  );
  const steps = createResetSteps({
    table: { documents: DynamoDBDocumentClient.from(where.client), tableName: where.target.tableName },
    layouts: new DynamoDbTokenStore({ tableName: where.target.tableName, client: where.client }),
    deadLetters: new DynamoDbDeadLetterStore({ tableName: where.target.tableName, client: where.client }),
    kafka: () => createKafkaAdmin(where.kafka),
    eventSources: new UnmanagedEventSources(where.topics, where.group),
    // One machine: the groups are checked every second, for a minute at most.
    settings: { pollSeconds: 1, emptyGroupTimeoutMs: 60_000 },
  });
  const result = await runReset(steps, input, { sleep, onStep: (step) => out(`  ${step}`) });
  out(describeWritten(result.written));
  return 0;
}

/** Starts the reset's execution, named by its id, and follows it until it ends. */
async function runOnAws(
  input: ResetExecutionInput,
  arn: string,
  target: TableTarget,
  context: CliContext,
): Promise<number> {
  const { out, err } = context;
  const sfn = new SFNClient(awsClientConfig(target));
  let executionArn: string;
  try {
    ({ executionArn = '' } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: input.resetId, input: JSON.stringify(input) }),
    ));
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) {
      err(`tidemark: a reset named ${input.resetId} already ran with other input; pass another --id`);
      return 1;
    }
    throw error;
  }
  out(`Started ${input.resetId}`);
  for (;;) {
    await context.sleep(2_000);
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    out(`  ${execution.status}`);
    if (execution.status === 'RUNNING') continue;
    if (execution.status !== 'SUCCEEDED') {
      err(`tidemark: ${execution.error ?? execution.status}: ${execution.cause ?? ''}`);
      return 1;
    }
    const output = JSON.parse(execution.output ?? '{}') as { plan?: ResetPlan; written?: ResetWriteResult };
    if (output.plan) for (const line of formatResetPlan(output.plan, { dryRun: false })) out(line);
    if (output.written) out(describeWritten(output.written));
    return 0;
  }
}

/**
 * The plan as the CLI prints it: a header saying what happens (and that a dry run changes nothing), a line per
 * partition (and per scoped segment), then the totals.
 */
export function formatResetPlan(plan: ResetPlan, options: { dryRun: boolean }): string[] {
  const scope = [
    plan.scope.partitions ? `partitions ${plan.scope.partitions.join(',')}` : 'every partition',
    plan.scope.segments ? `segments ${plan.scope.segments.join(',')}` : 'every segment',
  ].join(', ');
  const lines = [
    `Reset ${plan.processor} to ${plan.spec} (${scope}; layout v${plan.layoutVersion})${options.dryRun ? ': dry run, nothing changed; --execute applies it' : ''}`,
    plan.clearParked
      ? 'Parked letters of these partitions are deleted (audited).'
      : 'Parked letters are kept: they stay parked and are redriven as usual (--clear-parked deletes them).',
  ];
  const width = Math.max(9, ...plan.partitions.map((p) => p.id.length));
  lines.push(`  ${'partition'.padEnd(width)}  ${'from'.padStart(10)}    ${'to'.padEnd(10)}  records`);
  for (const p of plan.partitions) {
    lines.push(
      `  ${p.id.padEnd(width)}  ${position(p.from).padStart(10)} →  ${position(p.to).padEnd(10)}  ${effect(p)}${p.parkedKeys > 0 ? `; ${count(p.parkedKeys, 'parked key')}${p.clearsParked ? ' cleared' : ' kept'}` : ''}`,
    );
    for (const s of p.segments ?? []) {
      lines.push(
        `    ${s.segment.padEnd(width - 2)}  ${position(s.from).padStart(10)} →  ${position(s.to).padEnd(10)}  ${effect(s)}`,
      );
    }
  }
  const t = plan.totals;
  lines.push(
    `Total: ${count(t.partitions, 'partition')}, ${t.pending} to reset${t.done ? `, ${t.done} already reset by ${String(plan.resetId)}` : ''}; ${count(t.replay, 'offset')} to read again, ${t.skip} passed over`,
  );
  return lines;
}

function position(offset: number | null): string {
  return offset === null ? '-' : String(offset);
}

function effect(p: { from: number | null; replay: number; skip: number; done?: boolean }): string {
  if (p.done) return 'already reset';
  if (p.from === null) return 'never processed: read from here';
  if (p.replay > 0) return `${count(p.replay, 'offset')} read again`;
  if (p.skip > 0) return `${count(p.skip, 'offset')} passed over`;
  return 'unchanged';
}

function describeWritten(written: ResetWriteResult): string {
  return `Done: ${written.written} partition(s) reset, ${written.already} already reset, ${written.unchanged} unchanged, ${count(written.lettersCleared, 'letter')} cleared`;
}

/** The topics of the processor's partitions in the token table. */
async function registeredTopics(store: DynamoDbTokenStore, processor: string): Promise<string[]> {
  const state = await store.readState(processor);
  const topics = [...new Set(state.partitions.map((p) => p.topic))].sort();
  if (topics.length === 0) {
    throw new ConfigurationError(`"${processor}" has processed no partition yet: name its topics with --topics <list>`);
  }
  return topics;
}

/** A comma-separated list whose items match `pattern`, or a UsageError naming the flag; null when not given. */
function listArg(value: unknown, flag: string, pattern: RegExp, allowed: string, usage: string): string[] | null {
  if (value === undefined) return null;
  const items = listOf(String(value));
  const bad = (items ?? ['']).find((item) => !pattern.test(item));
  if (bad !== undefined) {
    throw new UsageError(`${flag} must list ${allowed}, separated by commas, got ${JSON.stringify(bad)}`, usage);
  }
  return items;
}

/** The cluster from --brokers (auth and secret from the environment), or the environment alone; undefined: none. */
function kafkaArg(brokers: string | undefined, env: NodeJS.ProcessEnv): KafkaAdminSettings | undefined {
  try {
    if (brokers === undefined) return kafkaAdminSettingsFromEnv(env);
    return resolveKafkaAdminSettings({
      brokers,
      auth: env.TIDEMARK_KAFKA_AUTH,
      secretArn: env.TIDEMARK_KAFKA_SECRET_ARN,
    });
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new UsageError(`${brokers === undefined ? '' : '--brokers: '}${error.message}`, RESET_USAGE);
  }
}

/** Who runs the reset: the AWS caller, or the user name against a local DynamoDB. */
async function caller(target: TableTarget, context: CliContext): Promise<string> {
  if (context.deps.callerIdentity) return context.deps.callerIdentity();
  if (target.endpoint) return userInfo().username;
  const identity = await new STSClient(awsClientConfig(target)).send(new GetCallerIdentityCommand({}));
  if (!identity.Arn) throw new Error('STS GetCallerIdentity returned no ARN: pass --by <who>');
  return identity.Arn;
}
