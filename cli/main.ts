/**
 * The `tidemark` command line: status, split, merge and scale of a processor.
 *
 * Against AWS it starts the state machine execution and follows it; with `--endpoint` (the local stack's
 * DynamoDB) it runs the same synthesized definition in this process with aws-local-stepfunctions.
 */
import { parseArgs } from 'node:util';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbTokenStore } from '../shared/dynamodb-token-store.js';
import { TidemarkError } from '../shared/errors.js';
import { changeExecutionName, planChange, planScaleStep } from '../shared/layout-change.js';
import { LayoutOperation } from '../shared/layout.js';
import { formatStatus } from './status.js';

const USAGE = `Usage:
  tidemark status <processor>
  tidemark split  <processor> <segment>      e.g. tidemark split order-projection 0/1
  tidemark merge  <processor> <segment>
  tidemark scale  <processor> <segments>

Options:
  --table <name>            token table (default: $TIDEMARK_TABLE_NAME)
  --endpoint <url>          a local DynamoDB (the local stack): run the state machines in this process
  --state-machine <arn>     the split, merge or scale state machine (default: $TIDEMARK_SPLIT_STATE_MACHINE,
                            $TIDEMARK_MERGE_STATE_MACHINE or $TIDEMARK_SCALE_STATE_MACHINE)
  --layout-ttl-ms <ms>      the dispatchers' layout cache bound, local runs only (default 5000)
  --json                    status as JSON`;

/** Runs the CLI; returns the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = console.log,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      endpoint: { type: 'string' },
      'state-machine': { type: 'string' },
      'layout-ttl-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, processor, argument] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  if (!['status', 'split', 'merge', 'scale'].includes(command) || !processor || (command !== 'status' && !argument)) {
    out(`tidemark: unknown or incomplete command "${positionals.join(' ')}"\n\n${USAGE}`);
    return 2;
  }
  const tableName = values.table ?? env.TIDEMARK_TABLE_NAME;
  if (!tableName) {
    out('tidemark: no token table: pass --table or set TIDEMARK_TABLE_NAME');
    return 2;
  }
  const client = new DynamoDBClient(
    values.endpoint
      ? {
          endpoint: values.endpoint,
          region: env.AWS_REGION ?? 'us-east-1',
          credentials: { accessKeyId: 'tidemarklocal', secretAccessKey: 'tidemarklocal' },
        }
      : {},
  );
  const store = new DynamoDbTokenStore({ tableName, client });

  if (command === 'status') {
    const state = await store.readState(processor);
    out(
      values.json
        ? JSON.stringify(
            { ...state, partitions: state.partitions.map((p) => ({ ...p, token: JSON.parse(p.token.serialize()) })) },
            null,
            2,
          )
        : formatStatus(state),
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

  if (values.endpoint) {
    const { runLocally, synthesizeLayoutDefinitions } = await import('../scripts/lib/local-state-machines.js');
    const layoutTtlMs = Number(values['layout-ttl-ms'] ?? 5_000);
    // One machine, one clock: little skew to allow for, and short waits between drain checks.
    const coordinator = { store, layoutTtlMs, clockSkewMs: 100, pollSeconds: 1 };
    const definition = synthesizeLayoutDefinitions()[command as 'split' | 'merge' | 'scale'];
    out(`Running ${name} locally against ${values.endpoint}`);
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

  const arn = values['state-machine'] ?? env[`TIDEMARK_${command.toUpperCase()}_STATE_MACHINE`];
  if (!arn) {
    out(
      `tidemark: no ${command} state machine: pass --state-machine or set TIDEMARK_${command.toUpperCase()}_STATE_MACHINE`,
    );
    return 2;
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
