/**
 * The `tidemark` command line: status, split, merge and scale of a processor, and its dead letters.
 *
 * Against AWS it starts the state machine execution and follows it; with `--endpoint` (the local stack's
 * DynamoDB) it runs the same synthesized definition in this process with aws-local-stepfunctions.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDbDeadLetterStore } from '../shared/dead-letters/dynamodb-dead-letter-store.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { TidemarkError } from '../shared/errors.js';
import { changeExecutionName, planChange, planScaleStep } from '../shared/coordination/layout-change.js';
import { LayoutOperation } from '../shared/routing/layout.js';
import {
  endpointArg,
  firstPositional,
  parseStrict,
  positionalArgs,
  tableArg,
  TABLE_OPTIONS,
  UsageError,
  wholeNumber,
  type OptionSpec,
} from './args.js';
import { cliContext, dynamoDbClient, type CliDependencies } from './context.js';
import { deadLetters } from './dead-letters.js';
import { formatStatus } from './status.js';

export type { CliDependencies } from './context.js';

const COMMON = `  --table <name>            token table (default: $TIDEMARK_TABLE_NAME)
  --endpoint <url>          a local DynamoDB (the local stack), e.g. http://localhost:8000
  -h, --help                this help`;

const USAGE = `Usage:
  tidemark status <processor>
  tidemark split  <processor> <segment>      e.g. tidemark split order-projection 0/1
  tidemark merge  <processor> <segment>
  tidemark scale  <processor> <segments>
  tidemark dead-letters list|show|retry|delete|audit <processor> …

Options:
  --table <name>            token table (default: $TIDEMARK_TABLE_NAME)
  --endpoint <url>          a local DynamoDB (the local stack): run the state machines in this process
  --state-machine <arn>     the split, merge or scale state machine (default: $TIDEMARK_SPLIT_STATE_MACHINE,
                            $TIDEMARK_MERGE_STATE_MACHINE or $TIDEMARK_SCALE_STATE_MACHINE)
  --layout-ttl-ms <ms>      the dispatchers' layout cache bound, local runs only (default 5000)
  --json                    status as JSON

Run tidemark <command> --help for a command's options.`;

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
${COMMON}`;

const COMMANDS = {
  status: {
    options: { ...TABLE_OPTIONS, json: { type: 'boolean' } },
    usage: `Usage: tidemark status <processor> [--json]

The layout version, any change under way, each partition's claim, parked keys per partition, the offsets the event
source skipped and, per segment, the next offset of every partition.

Options:
  --json                    the state as JSON (with parkedKeys and skips)
${COMMON}`,
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
} as const satisfies Record<string, { options: OptionSpec; usage: string }>;

type Command = keyof typeof COMMANDS;

/** Options of every command, to find the command among them. */
const KNOWN_OPTIONS: OptionSpec = {
  ...CHANGE_OPTIONS,
  json: { type: 'boolean' },
  partition: { type: 'string' },
  key: { type: 'string' },
  digest: { type: 'string' },
  offset: { type: 'string' },
  limit: { type: 'string' },
  rate: { type: 'string' },
  function: { type: 'string' },
  reason: { type: 'string' },
  by: { type: 'string' },
  all: { type: 'boolean' },
};

/**
 * Runs the CLI; returns the exit code: 0 done, 1 refused or failed, 2 a usage error (one line naming the flag or
 * argument, then the command's usage). Errors of the token store (unknown processor, a refused change) are thrown.
 */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = console.log,
  deps: CliDependencies = {},
): Promise<number> {
  try {
    return await dispatchCommand(argv, env, out, deps);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out(`tidemark: ${error.message}\n\n${error.usage}`);
    return 2;
  }
}

async function dispatchCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  deps: CliDependencies,
): Promise<number> {
  const index = firstPositional(argv, KNOWN_OPTIONS);
  if (index < 0) {
    if (argv.includes('--help') || argv.includes('-h')) {
      out(USAGE);
      return 0;
    }
    if (argv.length > 0) parseStrict(argv, { help: { type: 'boolean', short: 'h' } }, USAGE);
    out(USAGE);
    return 2;
  }
  const command = argv[index]!;
  const rest = [...argv.slice(0, index), ...argv.slice(index + 1)];
  if (command === 'dead-letters') return deadLetters(rest, cliContext(env, out, deps));
  if (!(command in COMMANDS)) {
    throw new UsageError(
      `unknown command ${JSON.stringify(command)}; allowed: status, split, merge, scale, dead-letters`,
      USAGE,
    );
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
  const argumentName = command === 'scale' ? '<segments>' : '<segment>';
  const [processorArg, argument] = positionalArgs(
    positionals,
    command === 'status' ? ['<processor>'] : ['<processor>', argumentName],
    usage,
  );
  const processor = processorArg!;
  if (command === 'scale') wholeNumber(argument!, '<segments>', usage, 1);
  const layoutTtlText = values['layout-ttl-ms'] as string | undefined;
  const layoutTtlMs = layoutTtlText === undefined ? 5_000 : wholeNumber(layoutTtlText, '--layout-ttl-ms', usage);
  const endpoint = endpointArg(values.endpoint as string | undefined, usage);
  const tableName = tableArg(values.table as string | undefined, env, usage);
  const client = dynamoDbClient(endpoint, env);
  const store = new DynamoDbTokenStore({ tableName, client });

  if (command === 'status') {
    const state = await store.readState(processor);
    const skips = await new DynamoDbDeadLetterStore({ tableName, client }).listSkips(processor);
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

  // Check the request against the current layout first: a clear error now beats a failed execution later.
  const layout = await store.readLayout(processor);
  let input: Record<string, unknown>;
  let name: string;
  if (command === 'scale') {
    const target = Number(argument);
    if (!planScaleStep(layout, target)) {
      out(`${processor} already has ${target} segment(s)`);
      return 0;
    }
    input = { processor, target };
    name = changeExecutionName(processor, 'scale', String(target), layout.version);
  } else {
    planChange(layout, command as LayoutOperation, argument!);
    input = { processor, segment: argument };
    name = changeExecutionName(processor, command, argument!, layout.version);
  }

  if (endpoint) {
    const { runLocally, synthesizeLayoutDefinitions } = await import('../local/local-state-machines.js');
    // One machine, one clock: little skew to allow for, and short waits between drain checks.
    const coordinator = { store, layoutTtlMs, clockSkewMs: 100, pollSeconds: 1 };
    const definition = synthesizeLayoutDefinitions()[command as 'split' | 'merge' | 'scale'];
    out(`Running ${name} locally against ${endpoint}`);
    const run = runLocally(definition, input, {
      coordinator,
      executionName: name,
      waitMs: 250,
      onStep: (state, output) => out(`  ${state}: ${describeStep(output)}`),
    });
    const result = await run.result;
    out(`Done: ${describeStep(result)}`);
    out(formatStatus(await store.readState(processor)));
    return 0;
  }

  const arn = (values['state-machine'] as string | undefined) ?? env[`TIDEMARK_${command.toUpperCase()}_STATE_MACHINE`];
  if (!arn) {
    throw new UsageError(
      `no ${command} state machine: pass --state-machine <arn> or set TIDEMARK_${command.toUpperCase()}_STATE_MACHINE`,
      usage,
    );
  }
  const sfn = new SFNClient({});
  let executionArn: string;
  try {
    ({ executionArn = '' } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }),
    ));
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) {
      out(`tidemark: an execution named ${name} already exists with other input; the layout moved on, check status`);
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
      out(`tidemark: ${execution.error ?? execution.status}: ${execution.cause ?? ''}`);
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

/** Runs as a program: typed errors become one clear line and exit code 1. */
export async function run(): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    const message =
      error instanceof TidemarkError
        ? error.message
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    console.error(`tidemark: ${message}`);
    process.exitCode = 1;
  }
}
