/**
 * A small command-line flag parser on node:util's parseArgs, the way `npm start` reads its flags
 * (local/local-stack-flags.ts): every flag declared once with its bounds and help, a bad flag refused with one line
 * that names it and says what is allowed, `--help` generated from the same table so it lists every flag.
 */
import { parseArgs } from 'node:util';

/** One flag: an on/off switch, a number, a comma-separated list of whole numbers, or one of a few words. */
export type Flag =
  | { readonly kind: 'switch'; readonly help: string }
  | {
      readonly kind: 'number';
      readonly min: number;
      readonly max: number;
      readonly whole: boolean;
      readonly help: string;
      readonly default: string;
    }
  | {
      readonly kind: 'list';
      readonly min: number;
      readonly max: number;
      readonly help: string;
      readonly default: string;
    }
  | { readonly kind: 'choice'; readonly choices: readonly string[]; readonly help: string; readonly default: string };

/** What a flag reads as: a switch is off unless given; any other flag is undefined unless given. */
export type FlagValue<F extends Flag> = F extends { kind: 'switch' }
  ? boolean
  : F extends { kind: 'number' }
    ? number | undefined
    : F extends { kind: 'list' }
      ? number[] | undefined
      : F extends { kind: 'choice'; choices: readonly (infer C)[] }
        ? C | undefined
        : never;

export type FlagValues<S extends Record<string, Flag>> = { -readonly [K in keyof S]: FlagValue<S[K]> };

export type Parsed<T> = { readonly values: T } | { readonly error: string } | { readonly help: true };

/** Reads `argv` against `flags`; `command` is how the user runs it, for the pointer to `--help`. */
export function parseFlags<S extends Record<string, Flag>>(
  argv: readonly string[],
  flags: S,
  command: string,
): Parsed<FlagValues<S>> {
  let given: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(
      Object.entries(flags).map(([name, flag]) => [name, { type: flag.kind === 'switch' ? 'boolean' : 'string' }]),
    ) as Record<string, { type: 'boolean' | 'string' }>;
    ({ values: given } = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean' } } }));
  } catch (error) {
    return { error: parseArgsError(error as Error & { code?: string }, flags, command) };
  }
  if (given.help) return { help: true };
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(flags)) {
    const read = readFlag(name, flag, given[name]);
    if ('error' in read) return read;
    values[name] = read.value;
  }
  return { values: values as FlagValues<S> };
}

/** The `--help` text: the usage line, then each flag with what it takes, what it does, its default and bounds. */
export function flagHelp(usage: string, flags: Record<string, Flag>): string {
  const line = (left: string, text: string) => `  ${left.padEnd(26)} ${text}`;
  return [
    usage,
    ...Object.entries(flags).map(([name, flag]) => line(`--${name}${placeholder(flag)}`, describe(flag))),
    line('--help', 'this text'),
  ].join('\n');
}

function placeholder(flag: Flag): string {
  if (flag.kind === 'switch') return '';
  if (flag.kind === 'list') return ' N,N,...';
  if (flag.kind === 'choice') return ` ${flag.choices.join('|')}`;
  return ' N';
}

function describe(flag: Flag): string {
  if (flag.kind === 'switch') return flag.help;
  if (flag.kind === 'choice') return `${flag.help} (default ${flag.default})`;
  const bounds = `${flag.kind === 'list' ? 'each ' : ''}${flag.min} to ${flag.max}`;
  return `${flag.help} (default ${flag.default}; ${bounds})`;
}

/** node:util's messages name the option as typed ("Unknown option '--bogus'"); keep them, without the stack. */
function parseArgsError(error: Error & { code?: string }, flags: Record<string, Flag>, command: string): string {
  const message = error.message.split('\n')[0]!.replace(/\.$/, '');
  if (error.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `${message}; see ${command} -- --help`;
  const known = [...Object.keys(flags), 'help'].map((name) => `--${name}`).join(', ');
  return `${message}; the flags are ${known} (see ${command} -- --help)`;
}

function readFlag(
  name: string,
  flag: Flag,
  given: string | boolean | undefined,
): { value: unknown } | { error: string } {
  if (flag.kind === 'switch') return { value: given === true };
  if (typeof given !== 'string') return { value: undefined };
  const refuse = (allowed: string) => ({ error: `--${name} must be ${allowed}, got ${JSON.stringify(given)}` });
  if (flag.kind === 'choice') {
    return flag.choices.includes(given) ? { value: given } : refuse(flag.choices.join(' or '));
  }
  if (flag.kind === 'list') {
    const items = given.split(',').map((item) => numberIn(item, flag.min, flag.max, true));
    if (items.some((item) => item === undefined)) {
      return refuse(`a comma-separated list of whole numbers from ${flag.min} to ${flag.max}`);
    }
    return { value: items };
  }
  const value = numberIn(given, flag.min, flag.max, flag.whole);
  if (value === undefined)
    return refuse(`${flag.whole ? 'a whole number' : 'a number'} from ${flag.min} to ${flag.max}`);
  return { value };
}

/** The number `text` holds, if it is one within the bounds (and whole when it must be). */
function numberIn(text: string, min: number, max: number, whole: boolean): number | undefined {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (whole && !Number.isInteger(value))) return undefined;
  return value >= min && value <= max ? value : undefined;
}
