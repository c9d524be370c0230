import { describe, expect, it } from 'vitest';
import { defaultOptions, flagsHelp, parseFlags, resolveOptions, type FlagSpecs } from '../../local/flags.js';
import { ConfigurationError } from '../../shared/errors.js';

/** One flag of each kind. */
const FLAGS = {
  fast: { type: 'boolean', option: 'fast', help: 'go fast' },
  size: { type: 'number', option: 'size', default: 10, min: 1, max: 100, whole: true, help: 'how many' },
  rate: { type: 'number', option: 'rate', default: 0.1, min: 0, max: 0.5, whole: false, help: 'how often' },
  wait: { type: 'number', option: 'waitMs', scale: 1_000, default: 2, min: 1, max: 60, whole: false, help: 'seconds' },
  name: { type: 'string', option: 'name', default: 'demo', help: 'what to call it' },
  counts: { type: 'list', option: 'counts', default: [1, 2], min: 1, max: 8, help: 'which counts' },
  mode: { type: 'choice', option: 'mode', choices: ['a', 'b'], default: 'a', help: 'which mode' },
} as const satisfies FlagSpecs;

const SEE_HELP = 'see demo -- --help';
const parse = (...argv: string[]) => parseFlags('demo --', argv, FLAGS);

describe('flag parser', () => {
  it('reads each kind of flag into its option, and gives the defaults of absent ones (switches off)', () => {
    const defaults = { fast: false, size: 10, rate: 0.1, waitMs: 2_000, name: 'demo', counts: [1, 2], mode: 'a' };
    expect(parse()).toEqual({ options: defaults });
    expect(defaultOptions(FLAGS)).toEqual(defaults);
    expect(
      parse('--fast', '--size', '7', '--rate=0.25', '--wait', '1.5', '--name', 'x', '--counts', '1,4,8', '--mode', 'b'),
    ).toEqual({ options: { fast: true, size: 7, rate: 0.25, waitMs: 1_500, name: 'x', counts: [1, 4, 8], mode: 'b' } });
  });

  it('refuses a bad value with one line naming the flag as typed and what is allowed', () => {
    const bad: Array<[string[], string]> = [
      [['--size', '0'], '--size must be a whole number from 1 to 100, got "0"'],
      [['--size', '2.5'], '--size must be a whole number from 1 to 100, got "2.5"'],
      [['--size', ' '], '--size must be a whole number from 1 to 100, got " "'],
      [['--rate', 'often'], '--rate must be a number from 0 to 0.5, got "often"'],
      [['--wait', '0.5'], '--wait must be a number from 1 to 60, got "0.5"'],
      [['--name='], `--name must not be empty; ${SEE_HELP}`],
      [['--counts', '1,,2'], '--counts must be a comma-separated list of whole numbers from 1 to 8, got "1,,2"'],
      [['--counts', '9'], '--counts must be a comma-separated list of whole numbers from 1 to 8, got "9"'],
      [['--counts', '1.5'], '--counts must be a comma-separated list of whole numbers from 1 to 8, got "1.5"'],
      [['--mode', 'c'], '--mode must be a or b, got "c"'],
      [['--size'], `--size needs a whole number from 1 to 100 after it; ${SEE_HELP}`],
      [['--counts'], `--counts needs a comma-separated list of whole numbers from 1 to 8 after it; ${SEE_HELP}`],
      [['--mode'], `--mode needs a or b after it; ${SEE_HELP}`],
      [['--name'], `--name needs a value after it; ${SEE_HELP}`],
      [['--fast=yes'], `--fast takes no value, got "yes"; ${SEE_HELP}`],
      [['stray'], `unexpected argument "stray": demo -- takes flags only; ${SEE_HELP}`],
      [
        ['--bogus'],
        `unknown flag --bogus; the flags are --fast, --size, --rate, --wait, --name, --counts, --mode, --help; ${SEE_HELP}`,
      ],
    ];
    for (const [argv, error] of bad) expect(parse(...argv), argv.join(' ')).toEqual({ error });
  });

  it('checks the options a program passes against the same bounds, naming the option and its flag', () => {
    const check = (given: Record<string, unknown>) => () => resolveOptions(given, FLAGS, 'demo');
    expect(check({ size: 0 })).toThrow(ConfigurationError);
    expect(check({ size: 0 })).toThrow('demo: size (--size) must be a whole number from 1 to 100, got 0');
    expect(check({ waitMs: 100 })).toThrow('demo: waitMs (--wait) must be a number from 1000 to 60000, got 100');
    expect(check({ fast: 'yes' })).toThrow('demo: fast (--fast) must be true or false, got "yes"');
    expect(check({ name: ' ' })).toThrow('demo: name (--name) must be a non-empty string, got " "');
    expect(check({ counts: [] })).toThrow(
      'demo: counts (--counts) must be a comma-separated list of whole numbers from 1 to 8, got []',
    );
    expect(check({ mode: 'c' })).toThrow('demo: mode (--mode) must be a or b, got "c"');
    expect(resolveOptions({ size: 5, extra: 1 }, FLAGS, 'demo')).toMatchObject({ size: 5, extra: 1, mode: 'a' });
  });

  it('answers --help before reading the other flags, and lists every flag with its default and bounds', () => {
    expect(parse('--size', '0', '--help')).toEqual({ help: true });
    expect(flagsHelp('demo -- [flags]', FLAGS, ['More.']).split('\n')).toEqual([
      'demo -- [flags]',
      '',
      '  --fast                      go fast',
      '  --size     10               how many (1 to 100)',
      '  --rate     0.1              how often (0 to 0.5)',
      '  --wait     2                seconds (1 to 60)',
      '  --name     demo             what to call it',
      '  --counts   1,2              which counts (each 1 to 8)',
      '  --mode     a                which mode (a or b)',
      '  --help                      this text',
      '',
      'More.',
    ]);
  });
});
