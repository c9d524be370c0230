/**
 * The `tidemark` command line: init, status, split, merge, scale and reset of a processor, and its dead letters.
 *
 * Against AWS split, merge and scale start the state machine execution and follow it; with `--endpoint` (the local
 * stack's DynamoDB) they run the same synthesized definition in this process with aws-local-stepfunctions.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDbDeadLetterStore } from '../shared/dead-letters/dynamodb-dead-letter-store.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { changeExecutionName, planChange, planScaleStep } from '../shared/coordination/layout-change.js';
import {
  changeLayout,
  type LayoutChangeProgress,
  type LayoutChangeRequest,
} from '../shared/coordination/change-layout.js';
import { LayoutOperation } from '../shared/routing/layout.js';
import {
  firstPositional,
  parseStrict,
  positionalArgs,
  processorArg,
  TABLE_OPTIONS,
  TABLE_OPTIONS_HELP,
  tableTarget,
  UsageError,
  unknownOption,
  wholeNumber,
  type OptionSpec,
  type TableTarget,
} from './args.js';
import { awsClientConfig, cliContext, dynamoDbClient, type CliContext, type CliDependencies } from './context.js';
import { DEAD_LETTERS_OPTIONS, deadLetters } from './dead-letters.js';
import { againstTable, failureLine } from './errors.js';
import { init, INIT_OPTIONS, INIT_USAGE } from './init.js';
import { CONSOLE_OPTIONS, CONSOLE_USAGE, runConsole } from './console.js';
import { reset, RESET_OPTIONS } from './reset.js';
import { formatStatus } from './status.js';

export type { CliDependencies } from './context.js';

const USAGE = `Usage:
  tidemark init   [<processor>] [--segments <n>]   create the token table, initialise a processor
  tidemark status <processor>                      layout, claims, positions, parked keys, skipped offsets
  tidemark split  <processor> <segment>            e.g. tidemark split order-projection 0/1
  tidemark merge  <processor> <segment>            e.g. tidemark merge order-projection 2/3
  tidemark scale  <processor> <segments>           split or merge until it has <segments> segments
  tidemark reset  <processor> --to <spec>          rewind or skip: earliest|latest|<time>|offset:<n>|shift:<±n> (dry run unless --execute)
  tidemark dead-letters list|show|retry|delete|audit <processor> …
  tidemark console --url <admin URL> | <processor> --endpoint <url>   the status page on localhost
  tidemark help [<command>]                        a command's usage, as <command> --help prints it

Options every command takes:
${TABLE_OPTIONS_HELP}

Run tidemark <command> --help for a command's options, e.g. tidemark dead-letters retry --help.`;

const CHANGE_OPTIONS = {
  ...TABLE_OPTIONS,
  'state-machine': { type: 'string' },
  'layout-ttl-ms': { type: 'string' },
} as const satisfies OptionSpec;

const changeUsage = (
  command: string,
  argument: string,
  what: string,
) => `Usage: tidemark ${command} <processor> ${argument}

${what} Checks the request first, starts the execution named <processor>-${command}-<…>-v<layout version> and
follows it until it ends; with --endpoint it runs the synthesized state machine in this process.

Options:
  --state-machine <arn>     the ${command} state machine (default: $TIDEMARK_${command.toUpperCase()}_STATE_MACHINE)
  --layout-ttl-ms <ms>      the dispatchers' layout cache bound, local runs only (default 5000)
${TABLE_OPTIONS_HELP}`;

const COMMANDS = {
  init: { options: INIT_OPTIONS, usage: INIT_USAGE },
  status: {
    options: { ...TABLE_OPTIONS, json: { type: 'boolean' } },
    usage: `Usage: tidemark status <processor> [--json]

The layout version, any change under way, each partition's claim, parked keys per partition, the offsets the event
source skipped and, per segment, the next offset of every partition.

Options:
  --json                    the state as JSON (with parkedKeys and skips)
${TABLE_OPTIONS_HELP}`,
  },
  split: { options: CHANGE_OPTIONS, usage: changeUsage('split', '<segment>', 'Splits a segment, e.g. 0/1, in two.') },
  merge: {
    options: CHANGE_OPTIONS,
    usage: changeUsage('merge', '<segment>', 'Merges a segment, e.g. 2/3, with its sibling.'),
  },
  scale: {
    options: CHANGE_OPTIONS,
    usage: changeUsage('scale', '<segments>', 'Splits or merges until the processor has <segments> segments.'),
  },
  console: { options: CONSOLE_OPTIONS, usage: CONSOLE_USAGE },
} as const satisfies Record<string, { options: OptionSpec; usage: string }>;

type Command = keyof typeof COMMANDS;

const COMMAND_NAMES = [...Object.keys(COMMANDS), 'reset', 'dead-letters', 'help'].join(', ');

/** Options of every command, to find the command among them. */
const KNOWN_OPTIONS: OptionSpec = {
  ...CHANGE_OPTIONS,
  ...INIT_OPTIONS,
  ...DEAD_LETTERS_OPTIONS,
  ...CONSOLE_OPTIONS,
  ...RESET_OPTIONS,
  json: { type: 'boolean' },
};

/**
 * Runs the CLI; returns the exit code: 0 done, 1 refused or failed (one line on `err` saying what and, when a user
 * can fix it, how), 2 a usage error (one line on `err` naming the flag or argument, then the command's usage). Never
 * throws; a stack trace is printed only with TIDEMARK_DEBUG set.
 */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = console.log,
  deps: CliDependencies = {},
): Promise<number> {
  const context = cliContext(env, out, deps);
  try {
    return await dispatchCommand(argv, context);
  } catch (error) {
    if (error instanceof UsageError) {
      context.err(`tidemark: ${error.message}\n\n${error.usage}`);
      return 2;
    }
    context.err(`tidemark: ${failureLine(error)}`);
    if (env.TIDEMARK_DEBUG && error instanceof Error && error.stack) context.err(error.stack);
    return 1;
  }
}

async function dispatchCommand(argv: string[], context: CliContext): Promise<number> {
  const { out } = context;
  const index = firstPositional(argv, KNOWN_OPTIONS);
  if (index < 0) {
    const unknown = unknownOption(argv, KNOWN_OPTIONS);
    if (unknown !== undefined) {
      throw new UsageError(
        `unknown option ${unknown}; give a command first (${COMMAND_NAMES}): tidemark <command> --help lists its options`,
        USAGE,
      );
    }
    if (!argv.includes('--help') && !argv.includes('-h')) {
      throw new UsageError(`missing <command>: one of ${COMMAND_NAMES}`, USAGE);
    }
    out(USAGE);
    return 0;
  }
  const command = argv[index]!;
  const rest = [...argv.slice(0, index), ...argv.slice(index + 1)];
  if (command === 'help') return help(rest, context);
  if (command === 'dead-letters') return deadLetters(rest, context);
  if (command === 'reset') return reset(rest, context);
  if (!(command in COMMANDS)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}; allowed: ${COMMAND_NAMES}`, USAGE);
  }
  const { usage, options } = COMMANDS[command as Command];
  const { values, positionals } = parseStrict(rest, options, usage) as {
    values: Record<string, string | boolean | undefined>;
    positionals: string[];
  };
  if (values.help) {
    out(usage);
    return 0;
  }
  if (command === 'init') return init(values, positionals, context);
  if (command === 'console') return runConsole(values, positionals, context);
  const argumentName = command === 'scale' ? '<segments>' : '<segment>';
  const [processorText, argument] = positionalArgs(
    positionals,
    command === 'status' ? ['<processor>'] : ['<processor>', argumentName],
    usage,
  );
  const processor = processorArg(processorText!, '<processor>', usage);
  if (command === 'scale') wholeNumber(argument!, '<segments>', usage, 1);
  const layoutTtlText = values['layout-ttl-ms'] as string | undefined;
  const layoutTtlMs = layoutTtlText === undefined ? 5_000 : wholeNumber(layoutTtlText, '--layout-ttl-ms', usage);
  const target = tableTarget(values, context.env, usage);
  const client = dynamoDbClient(target, context.env);
  const store = new DynamoDbTokenStore({ tableName: target.tableName, client });
  return againstTable(target, client, () =>
    command === 'status'
      ? status(processor, store, new DynamoDbDeadLetterStore({ tableName: target.tableName, client }), values, context)
      : change(command as LayoutOperation | 'scale', processor, argument!, store, target, layoutTtlMs, values, context),
  );
}

/** `tidemark help [<command> [<subcommand>]]`: the usage `<command> --help` prints. */
async function help(rest: string[], context: CliContext): Promise<number> {
  const { positionals } = parseStrict(rest, { help: { type: 'boolean', short: 'h' } }, USAGE);
  if (positionals.length === 0) {
    context.out(USAGE);
    return 0;
  }
  return dispatchCommand([...positionals, '--help'], context);
}

async function status(
  processor: string,
  store: DynamoDbTokenStore,
  deadLetterStore: DynamoDbDeadLetterStore,
  values: Record<string, string | boolean | undefined>,
  { out }: CliContext,
): Promise<number> {
  const state = await store.readState(processor);
  const skips = await deadLetterStore.listSkips(processor);
  out(
    values.json
      ? JSON.stringify(
          {
            ...state,
            partitions: state.partitions.map((p) => ({ ...p, token: JSON.parse(p.token.serialize()) })),
            parkedKeys: state.partitions.flatMap((p) =>
              p.parked.map((entry) => ({ topic: p.topic, partition: p.partition, ...entry })),
            ),
            skips,
          },
          null,
          2,
        )
      : formatStatus(state, Date.now(), { skips }),
  );
  return 0;
}

/** What a split, merge or scale execution is given and named. */
interface ChangeRequest {
  readonly command: LayoutOperation | 'scale';
  readonly processor: string;
  readonly input: Record<string, unknown>;
  readonly name: string;
}

async function change(
  command: LayoutOperation | 'scale',
  processor: string,
  argument: string,
  store: DynamoDbTokenStore,
  target: TableTarget,
  layoutTtlMs: number,
  values: Record<string, string | boolean | undefined>,
  context: CliContext,
): Promise<number> {
  const { out, env } = context;
  // Check the request against the current layout first: a clear error now beats a failed execution later.
  const layout = await store.readLayout(processor);
  let input: Record<string, unknown>;
  let name: string;
  if (command === 'scale') {
    const segments = Number(argument);
    if (!planScaleStep(layout, segments)) {
      out(`${processor} already has ${segments} segment(s)`);
      return 0;
    }
    input = { processor, target: segments };
    name = changeExecutionName(processor, 'scale', String(segments), layout.version);
  } else {
    planChange(layout, command, argument);
    input = { processor, segment: argument };
    name = changeExecutionName(processor, command, argument, layout.version);
  }
  const request: ChangeRequest = { command, processor, input, name };
  if (target.endpoint) return runChangeLocally(request, store, target.endpoint, layoutTtlMs, out);

  const { usage } = COMMANDS[command];
  const arn = (values['state-machine'] as string | undefined) ?? env[`TIDEMARK_${command.toUpperCase()}_STATE_MACHINE`];
  if (!arn) {
    throw new UsageError(
      `no ${command} state machine: pass --state-machine <arn> or set TIDEMARK_${command.toUpperCase()}_STATE_MACHINE`,
      usage,
    );
  }
  return runChangeOnAws(request, arn, store, target, context);
}

/**
 * Runs the change against a local DynamoDB in this process with {@link changeLayout}: the state machines' steps,
 * one call, with the dispatchers' layout bound.
 */
async function runChangeLocally(
  { command, processor, input, name }: ChangeRequest,
  store: DynamoDbTokenStore,
  endpoint: string,
  layoutTtlMs: number,
  out: (line: string) => void,
): Promise<number> {
  out(`Running ${name} locally against ${endpoint}`);
  const request: LayoutChangeRequest =
    command === 'scale'
      ? { processor, operation: 'scale', segments: Number(input.target) }
      : { processor, operation: command, segment: String(input.segment) };
  const result = await changeLayout(store, request, {
    layoutTtlMs,
    // One machine, one clock: little skew to allow for, and short waits between drain checks.
    settings: { clockSkewMs: 100, pollSeconds: 1 },
    changeId: name,
    onProgress: (progress) => out(`  ${describeProgress(progress)}`),
  });
  out(`Done: ${result.outcome}, layout v${result.layoutVersion}, segments ${result.segments.join(' ')}`);
  out(formatStatus(await store.readState(processor)));
  return result.outcome === 'rolledBack' ? 1 : 0;
}

function describeProgress(progress: LayoutChangeProgress): string {
  switch (progress.step) {
    case 'plan':
      return `plan: ${describeStep(progress.plan)}`;
    case 'retry':
      return `retrying ${progress.of} (attempt ${progress.attempt}) in ${progress.delayMs} ms`;
    default:
      return `${progress.step}: ${describeStep(progress.state)}`;
  }
}

/** Starts the change's execution in Step Functions and follows it until it ends. */
async function runChangeOnAws(
  { processor, input, name }: ChangeRequest,
  arn: string,
  store: DynamoDbTokenStore,
  target: TableTarget,
  { out, err }: CliContext,
): Promise<number> {
  const sfn = new SFNClient(awsClientConfig(target));
  let executionArn: string;
  try {
    ({ executionArn = '' } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }),
    ));
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) {
      err(`tidemark: an execution named ${name} already exists with other input; the layout moved on, check status`);
      return 1;
    }
    throw error;
  }
  out(`Started ${name}`);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const current = await store.readLayout(processor);
    out(
      `  ${execution.status}: layout v${current.version}${current.change ? `, ${current.change.operation} ${current.change.segment} draining` : ''}`,
    );
    if (execution.status !== 'RUNNING') {
      if (execution.status === 'SUCCEEDED') return 0;
      err(`tidemark: ${execution.error ?? execution.status}: ${execution.cause ?? ''}`);
      return 1;
    }
  }
}

function describeStep(output: unknown): string {
  const o = output as Record<string, unknown>;
  if (o.outcome) return `${String(o.outcome)}, layout v${String(o.layoutVersion)}`;
  if (o.done === true) return `done with ${String(o.segments)} segment(s)`;
  if (o.done === false) return `next: ${String(o.operation)} ${String(o.segment)}`;
  if ('drained' in o)
    return o.drained ? 'drained' : `waiting for ${String(o.liveClaims)} claim(s) under the old layout`;
  return JSON.stringify(output);
}

/** Runs as a program: the exit code of {@link main}; anything it could not say is one line and exit code 1. */
export async function run(): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(`tidemark: ${failureLine(error)}`);
    process.exitCode = 1;
  }
}
