/**
 * Argument handling shared by the CLI's commands: strict option parsing that turns every mistake into a
 * {@link UsageError} naming the flag or argument and what is allowed (exit code 2, never a stack trace).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseTopicPartition } from '../shared/kafka/kafka-record.js';
import { PROCESSOR_NAME, TABLE_NAME } from '../shared/settings.js';

/** A mistake in the command line: one line saying what is wrong, then the command's usage; exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The usage text of the command the mistake was made in. */
    readonly usage: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The option definitions a command accepts, in `parseArgs` form. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command that reads the token table accepts. */
export const TABLE_OPTIONS = {
  table: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

/** The help lines of {@link TABLE_OPTIONS}, the same in every command's usage. */
export const TABLE_OPTIONS_HELP = `  --table <name>            token table (default: $TIDEMARK_TABLE_NAME)
  --endpoint <url>          a local DynamoDB (the local stack), e.g. http://localhost:8000
  --region <region>         the AWS region (default: the SDK's chain: $AWS_REGION, the profile's region)
  -h, --help                this help`;

/** Where the token table is: its name, and a local DynamoDB endpoint or an AWS region (undefined: the SDK's chain). */
export interface TableTarget {
  readonly tableName: string;
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
}

/** The flags that name the same table again, for the next command to run: ` --table t --endpoint http://…`. */
export function tableFlags(target: TableTarget): string {
  return (
    ` --table ${target.tableName}` +
    (target.endpoint === undefined ? '' : ` --endpoint ${target.endpoint}`) +
    (target.region === undefined ? '' : ` --region ${target.region}`)
  );
}

/** The token table named by `--table`, `--endpoint` and `--region` (or the environment), each checked. */
export function tableTarget(
  values: { table?: unknown; endpoint?: unknown; region?: unknown },
  env: NodeJS.ProcessEnv,
  usage: string,
): TableTarget {
  const endpoint = endpointArg(values.endpoint as string | undefined, usage);
  const region = regionArg(values.region as string | undefined, usage);
  return { tableName: tableArg(values.table as string | undefined, env, usage), endpoint, region };
}

/** The flags of an option spec as a user writes them, for "allowed: …" lists. */
export function flagsOf(options: OptionSpec): string {
  return Object.entries(options)
    .map(([name, spec]) => `--${name}${spec.type === 'string' ? ' <value>' : ''}`)
    .join(', ');
}

/**
 * Parses `args` strictly against `options`; unknown options, missing values and values given to switches become a
 * UsageError naming the flag.
 */
export function parseStrict<const O extends OptionSpec>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(error, options), usage);
  }
}

function describeParseError(error: unknown, options: OptionSpec): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(-[^' ]*)/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag}; allowed: ${flagsOf(options)}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return `${flag} is a switch and takes no value`;
      if (/ambiguous/.test(message))
        return `${flag} needs a value, got an option after it (write ${flag}=<value> for a value that starts with "-")`;
      return `${flag} needs a value`;
    default:
      return `bad arguments: ${message.split('\n')[0]}`;
  }
}

/** A whole number from `min` on (to `max` when given), or a UsageError naming the flag. */
export function wholeNumber(value: string, flag: string, usage: string, min = 0, max?: number): number {
  const number = Number(value);
  if (
    !/^\d+$/.test(value.trim()) ||
    !Number.isSafeInteger(number) ||
    number < min ||
    (max !== undefined && number > max)
  ) {
    const allowed = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${flag} must be a whole number ${allowed}, got ${JSON.stringify(value)}`, usage);
  }
  return number;
}

/** A number above zero (fractions allowed), or a UsageError naming the flag. */
export function positiveNumber(value: string, flag: string, usage: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number <= 0) {
    throw new UsageError(`${flag} must be a number above 0, got ${JSON.stringify(value)}`, usage);
  }
  return number;
}

/** A `<topic>-<partition>` argument, or a UsageError saying the form. */
export function topicPartitionArg(value: string, usage: string): { topic: string; partition: number } {
  const parsed = parseTopicPartition(value);
  if (!parsed) {
    throw new UsageError(
      `<topic-partition> must be <topic>-<partition number>, e.g. orders-3, got ${JSON.stringify(value)}`,
      usage,
    );
  }
  return parsed;
}

/** An `--endpoint` URL (http or https), or a UsageError. */
export function endpointArg(value: string | undefined, usage: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new UsageError(
      `--endpoint must be an http(s) URL such as http://localhost:8000, got ${JSON.stringify(value)}`,
      usage,
    );
  }
  return value;
}

/** The token table from `--table` or TIDEMARK_TABLE_NAME, or a UsageError naming both. */
export function tableArg(value: string | undefined, env: NodeJS.ProcessEnv, usage: string): string {
  const table = value ?? env.TIDEMARK_TABLE_NAME;
  if (!table) throw new UsageError('no token table: pass --table <name> or set TIDEMARK_TABLE_NAME', usage);
  if (!TABLE_NAME.pattern.test(table)) {
    const from = value === undefined ? 'TIDEMARK_TABLE_NAME' : '--table';
    throw new UsageError(
      `${from} must be a DynamoDB table name (${TABLE_NAME.allowed}), got ${JSON.stringify(table)}`,
      usage,
    );
  }
  return table;
}

/** An AWS region such as eu-west-1 from `--region`, or a UsageError; undefined when not given. */
export function regionArg(value: string | undefined, usage: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(value)) {
    throw new UsageError(`--region must be an AWS region such as eu-west-1, got ${JSON.stringify(value)}`, usage);
  }
  return value;
}

/** A processor name (as in the token table's keys), or a UsageError naming where it came from. */
export function processorArg(value: string, name: string, usage: string): string {
  if (!PROCESSOR_NAME.pattern.test(value)) {
    throw new UsageError(
      `${name} must be a processor name (${PROCESSOR_NAME.allowed}), got ${JSON.stringify(value)}`,
      usage,
    );
  }
  return value;
}

/** Checks the positional arguments: each named one present, nothing after them. */
export function positionalArgs(positionals: readonly string[], names: readonly string[], usage: string): string[] {
  for (const [i, name] of names.entries()) {
    if (positionals[i] === undefined || positionals[i] === '') throw new UsageError(`missing ${name}`, usage);
  }
  if (positionals.length > names.length) {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(positionals[names.length])}${names.length ? ` after ${names.join(' ')}` : ''}`,
      usage,
    );
  }
  return [...positionals];
}

/** The first option in `args` that `known` does not name, as typed (`--bogus`, `-x`); undefined when none. */
export function unknownOption(args: string[], known: OptionSpec): string | undefined {
  const { tokens } = parseArgs({ args, options: known, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !(token.name in known)) return token.rawName;
  }
  return undefined;
}

/**
 * Where the first positional argument (the command) is in `args`, reading options known to any command so their
 * values are not taken for it; -1 if there is none.
 */
export function firstPositional(args: string[], known: OptionSpec): number {
  const { tokens } = parseArgs({ args, options: known, allowPositionals: true, strict: false, tokens: true });
  return tokens.find((token) => token.kind === 'positional')?.index ?? -1;
}
