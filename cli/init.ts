/**
 * `tidemark init`: creates the token table when it does not exist and initialises a processor's layout, through the
 * product's own {@link createTokenTable} and {@link DynamoDbTokenStore.initialise}. Running it again changes nothing.
 */
import { DescribeTableCommand, ResourceNotFoundException, type TableDescription } from '@aws-sdk/client-dynamodb';
import { UnknownProcessorError } from '../shared/errors.js';
import { MAX_SEGMENTS, type Layout } from '../shared/routing/layout.js';
import { segmentName } from '../shared/routing/segment.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { createTokenTable, TOKEN_TABLE_KEYS } from '../shared/tokens/token-table.js';
import {
  positionalArgs,
  processorArg,
  TABLE_OPTIONS,
  TABLE_OPTIONS_HELP,
  tableFlags,
  tableTarget,
  UsageError,
  wholeNumber,
  type OptionSpec,
  type TableTarget,
} from './args.js';
import { dynamoDbClient, type CliContext } from './context.js';
import { againstTable, CliError, tableLocation } from './errors.js';
import { count } from './format.js';

/** Segments of a processor initialised without `--segments`: `defineProcessor`'s `initialSegments` default. */
export const DEFAULT_INIT_SEGMENTS = 4;

export const INIT_OPTIONS = {
  processor: { type: 'string' },
  segments: { type: 'string' },
  ...TABLE_OPTIONS,
} as const satisfies OptionSpec;

export const INIT_USAGE = `Usage: tidemark init [<processor> | --processor <name>] [--segments <n>] --table <name> [--endpoint <url> | --region <region>]

Creates the token table if it does not exist (on demand, string keys pk and sk, as the TrackingProcessor construct
deploys it) and waits until it is active, then initialises the processor's layout with <n> balanced segments.
Running it again changes nothing and says so; a processor already initialised with another segment count is refused
(change that with split, merge or scale).

Options:
  --processor <name>        the processor to initialise, as defineProcessor names it (or give it as the argument);
                            without one only the table is created
  --segments <n>            its segments, 1 to ${MAX_SEGMENTS} (default ${DEFAULT_INIT_SEGMENTS}, defineProcessor's initialSegments; an
                            initialised processor keeps the count it has)
${TABLE_OPTIONS_HELP}

Examples:
  tidemark init order-projection --segments 8 --table tokens --endpoint http://localhost:8000
  tidemark init --processor order-projection --table tokens --region eu-west-1`;

/** Runs `tidemark init` with its parsed options; returns the exit code. */
export async function init(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
  context: CliContext,
): Promise<number> {
  const usage = INIT_USAGE;
  const processor = processorOf(values.processor as string | undefined, positionals, usage);
  const segmentsText = values.segments as string | undefined;
  const segments =
    segmentsText === undefined ? undefined : wholeNumber(segmentsText, '--segments', usage, 1, MAX_SEGMENTS);
  if (segments !== undefined && processor === undefined) {
    throw new UsageError(
      '--segments needs a processor: pass --processor <name> (or the processor as the argument)',
      usage,
    );
  }
  const target = tableTarget(values, context.env, usage);
  const client = dynamoDbClient(target, context.env);
  return againstTable(target, client, async () => {
    const { out } = context;
    const where = await tableLocation(target, client);
    const existing = await describeTable(client, target.tableName);
    if (existing) assertTokenTable(existing, target);
    if (existing && existing.TableStatus !== 'CREATING') {
      out(`Token table ${target.tableName} already exists ${where}.`);
    } else {
      await createTokenTable(client, target.tableName);
      out(
        `${existing ? 'Token table' : 'Created token table'} ${target.tableName} ${where}${existing ? ' is active now' : ''}.`,
      );
    }
    if (processor === undefined) {
      out(
        'No processor named (--processor): only the table. A dispatcher initialises its processor at its first batch, with its initialSegments.',
      );
      return 0;
    }
    const store = new DynamoDbTokenStore({ tableName: target.tableName, client });
    const before = await readLayoutIfAny(store, processor);
    // The store decides: the same count again returns the stored layout, another count is refused with the reason.
    const layout = await store.initialise(processor, segments ?? before?.segments.length ?? DEFAULT_INIT_SEGMENTS);
    out(
      before
        ? `Processor ${processor} already initialised: ${describeLayout(layout)}.`
        : `Initialised processor ${processor}: ${describeLayout(layout)}.`,
    );
    out(`See it with: tidemark status ${processor}${tableFlags(target)}`);
    return 0;
  });
}

/** The processor from the argument or `--processor` (the same one if both), checked; undefined when neither. */
function processorOf(flag: string | undefined, positionals: string[], usage: string): string | undefined {
  const [argument] = positionals.length > 0 ? positionalArgs(positionals, ['<processor>'], usage) : [undefined];
  if (flag !== undefined && argument !== undefined && flag !== argument) {
    throw new UsageError(
      `two processors named: ${JSON.stringify(argument)} and --processor ${JSON.stringify(flag)}; give one`,
      usage,
    );
  }
  if (flag !== undefined) return processorArg(flag, '--processor', usage);
  if (argument !== undefined) return processorArg(argument, '<processor>', usage);
  return undefined;
}

async function describeTable(
  client: ReturnType<typeof dynamoDbClient>,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** Refuses a table whose key is not the token table's (pk, sk as strings): it holds something else. */
function assertTokenTable(table: TableDescription, target: TableTarget): void {
  const key = (type: 'HASH' | 'RANGE') => table.KeySchema?.find((k) => k.KeyType === type)?.AttributeName;
  const typeOf = (name: string | undefined) =>
    table.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType;
  const hash = key('HASH');
  const range = key('RANGE');
  if (
    hash !== TOKEN_TABLE_KEYS.partitionKey ||
    range !== TOKEN_TABLE_KEYS.sortKey ||
    typeOf(hash) !== 'S' ||
    typeOf(range) !== 'S'
  ) {
    const shown = [hash, range]
      .filter((name) => name !== undefined)
      .map((name) => `${name} (${typeOf(name) ?? '?'})`)
      .join(', ');
    throw new CliError(
      `table ${target.tableName} exists but is not a token table: its key is ${shown || 'unknown'}, a token table's is ${TOKEN_TABLE_KEYS.partitionKey} (S), ${TOKEN_TABLE_KEYS.sortKey} (S); name another with --table`,
    );
  }
}

async function readLayoutIfAny(store: DynamoDbTokenStore, processor: string): Promise<Layout | undefined> {
  try {
    return await store.readLayout(processor);
  } catch (error) {
    if (error instanceof UnknownProcessorError) return undefined;
    throw error;
  }
}

function describeLayout(layout: Layout): string {
  const names = layout.segments.map(segmentName);
  const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')}, …` : names.join(', ');
  return `layout v${layout.version}, ${count(layout.segments.length, 'segment')} (${shown})`;
}
