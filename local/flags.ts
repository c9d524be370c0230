import { parseArgs } from 'node:util';
import { ConfigurationError } from '../shared/errors.js';

/**
 * The flags of `npm start`, `npm run chaos` and `npm run bench`, and the options of the functions behind them,
 * checked in one place: each flag's spec gives its default, bounds and help, and is used both to read argv (a bad
 * flag is named as typed, for exit code 2) and to check the options a program passes (a {@link ConfigurationError}
 * naming the option).
 */

/** A number flag: `--name <number>`, read into the option `option` multiplied by `scale`. */
export interface NumberFlag {
  readonly type: 'number';
  /** The option it sets (e.g. `durationMs` for `--duration`). */
  readonly option: string;
  /** In the flag's unit. */
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly whole: boolean;
  /** The option is the flag times this (1000 for seconds read into milliseconds). @default 1 */
  readonly scale?: number;
  readonly help: string;
}

/** A text flag: `--name <text>`. */
export interface StringFlag {
  readonly type: 'string';
  readonly option: string;
  readonly default: string;
  readonly help: string;
}

/** A switch: `--name`, off unless given. */
export interface BooleanFlag {
  readonly type: 'boolean';
  readonly option: string;
  readonly help: string;
}

/** A list flag: `--name <n,n,...>`, comma-separated whole numbers, each within the bounds. */
export interface ListFlag {
  readonly type: 'list';
  readonly option: string;
  readonly default: readonly number[];
  readonly min: number;
  readonly max: number;
  readonly help: string;
}

/** A choice flag: `--name <word>`, one of `choices`. */
export interface ChoiceFlag {
  readonly type: 'choice';
  readonly option: string;
  readonly choices: readonly string[];
  readonly default: string;
  readonly help: string;
}

export type FlagSpec = NumberFlag | StringFlag | BooleanFlag | ListFlag | ChoiceFlag;
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** What parsing argv gave: the options, `--help`, or one line naming the bad flag as typed. */
export type FlagsResult<T> = { readonly options: T } | { readonly help: true } | { readonly error: string };

function allowed(spec: NumberFlag | ListFlag | ChoiceFlag, scale = 1): string {
  if (spec.type === 'choice') return spec.choices.join(' or ');
  if (spec.type === 'list') return `a comma-separated list of whole numbers from ${spec.min} to ${spec.max}`;
  return `${spec.whole ? 'a whole number' : 'a number'} from ${spec.min * scale} to ${spec.max * scale}`;
}

function numberOk(spec: NumberFlag | ListFlag, value: number): boolean {
  const whole = spec.type === 'list' || spec.whole;
  return Number.isFinite(value) && (!whole || Number.isInteger(value)) && value >= spec.min && value <= spec.max;
}

function listOk(spec: ListFlag, value: unknown): value is readonly number[] {
  return (
    Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'number' && numberOk(spec, item))
  );
}

/** Every flag's default, as options. */
export function defaultOptions(specs: FlagSpecs): Record<string, unknown> {
  return Object.fromEntries(
    Object.values(specs).map((spec) => [
      spec.option,
      spec.type === 'number'
        ? spec.default * (spec.scale ?? 1)
        : spec.type === 'list'
          ? [...spec.default]
          : spec.type === 'boolean'
            ? false
            : spec.default,
    ]),
  );
}

/**
 * Reads argv against `specs`. `--help` anywhere gives `{ help: true }`; an unknown flag, a positional argument, a
 * missing or bad value gives `{ error }`, one line that names the flag as typed and what is allowed.
 */
export function parseFlags(
  command: string,
  argv: readonly string[],
  specs: FlagSpecs,
): FlagsResult<Record<string, unknown>> {
  const seeHelp = `see ${command} --help`;
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [name, { type: spec.type === 'boolean' ? 'boolean' : 'string' }]),
    ) as Record<string, { type: 'string' | 'boolean' }>,
  });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { help: true };
  const options = defaultOptions(specs);
  for (const token of tokens) {
    if (token.kind === 'positional') {
      return { error: `unexpected argument ${JSON.stringify(token.value)}: ${command} takes flags only; ${seeHelp}` };
    }
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (!spec) {
      const flags = Object.keys(specs).map((name) => `--${name}`);
      return { error: `unknown flag ${token.rawName}; the flags are ${[...flags, '--help'].join(', ')}; ${seeHelp}` };
    }
    if (spec.type === 'boolean') {
      if (token.value !== undefined) {
        return { error: `${token.rawName} takes no value, got ${JSON.stringify(token.value)}; ${seeHelp}` };
      }
      options[spec.option] = true;
      continue;
    }
    if (token.value === undefined) {
      const what = spec.type === 'string' ? 'a value' : allowed(spec);
      return { error: `${token.rawName} needs ${what} after it; ${seeHelp}` };
    }
    if (spec.type === 'string') {
      if (token.value.trim() === '') return { error: `${token.rawName} must not be empty; ${seeHelp}` };
      options[spec.option] = token.value;
      continue;
    }
    if (spec.type === 'choice' || spec.type === 'list') {
      const value = spec.type === 'choice' ? token.value : token.value.split(',').map(readNumber);
      const ok = spec.type === 'choice' ? spec.choices.includes(token.value) : listOk(spec, value);
      if (!ok) return { error: `${token.rawName} must be ${allowed(spec)}, got ${JSON.stringify(token.value)}` };
      options[spec.option] = value;
      continue;
    }
    const value = readNumber(token.value);
    if (!numberOk(spec, value)) {
      return { error: `${token.rawName} must be ${allowed(spec)}, got ${JSON.stringify(token.value)}` };
    }
    options[spec.option] = value * (spec.scale ?? 1);
  }
  return { options };
}

/** The number `text` holds; NaN for blank text (which `Number` would read as 0). */
function readNumber(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

/**
 * Fills in the defaults of `given` and checks every option against its flag's bounds; throws a
 * {@link ConfigurationError} naming the option, its flag and what is allowed. Options without a flag pass as given.
 */
export function resolveOptions<T>(given: Partial<T>, specs: FlagSpecs, what: string): T {
  const options = { ...defaultOptions(specs) } as Record<string, unknown>;
  for (const [key, value] of Object.entries(given as Record<string, unknown>))
    if (value !== undefined) options[key] = value;
  for (const [name, spec] of Object.entries(specs)) {
    const value = options[spec.option];
    const fail = (allowedText: string) => {
      throw new ConfigurationError(
        `${what}: ${spec.option} (--${name}) must be ${allowedText}, got ${JSON.stringify(value)}`,
        { context: { option: spec.option } },
      );
    };
    if (spec.type === 'boolean' && typeof value !== 'boolean') fail('true or false');
    if (spec.type === 'string' && (typeof value !== 'string' || value.trim() === '')) fail('a non-empty string');
    if (spec.type === 'choice' && !spec.choices.includes(value as string)) fail(allowed(spec));
    if (spec.type === 'list' && !listOk(spec, value)) fail(allowed(spec));
    if (spec.type === 'number') {
      const scale = spec.scale ?? 1;
      if (typeof value !== 'number' || !numberOk(spec, value / scale)) {
        fail(allowed(spec, scale));
      }
    }
  }
  return options as T;
}

/** `--help`: the usage line, then every flag with its default and what it does. */
export function flagsHelp(usage: string, specs: FlagSpecs, sections: readonly string[] = []): string {
  const width = Math.max(...Object.keys(specs).map((name) => name.length), 4) + 2;
  const line = (name: string, value: string, help: string) => `  --${name.padEnd(width)} ${value.padEnd(16)} ${help}`;
  return [
    usage,
    '',
    ...Object.entries(specs).map(([name, spec]) =>
      spec.type === 'number'
        ? line(name, String(spec.default), `${spec.help} (${spec.min} to ${spec.max})`)
        : spec.type === 'list'
          ? line(name, spec.default.join(','), `${spec.help} (each ${spec.min} to ${spec.max})`)
          : spec.type === 'choice'
            ? line(name, spec.default, `${spec.help} (${spec.choices.join(' or ')})`)
            : spec.type === 'string'
              ? line(name, spec.default, spec.help)
              : line(name, '', spec.help),
    ),
    line('help', '', 'this text'),
    ...sections.flatMap((section) => ['', section]),
  ].join('\n');
}
