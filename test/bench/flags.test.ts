import { describe, expect, it } from 'vitest';
import { flagHelp, parseFlags, type Flag } from '../../bench/flags.js';

const FLAGS = {
  fast: { kind: 'switch', help: 'go fast' },
  size: { kind: 'number', min: 1, max: 100, whole: true, help: 'how many', default: '10' },
  rate: { kind: 'number', min: 0, max: 0.5, whole: false, help: 'how often', default: '0.1' },
  counts: { kind: 'list', min: 1, max: 8, help: 'which counts', default: '1,2' },
  mode: { kind: 'choice', choices: ['a', 'b'], help: 'which mode', default: 'a' },
} as const satisfies Record<string, Flag>;

const parse = (...argv: string[]) => parseFlags(argv, FLAGS, 'demo');

describe('flag parser', () => {
  it('reads each kind of flag, and leaves absent ones undefined (switches off)', () => {
    expect(parse()).toEqual({
      values: { fast: false, size: undefined, rate: undefined, counts: undefined, mode: undefined },
    });
    expect(parse('--fast', '--size', '7', '--rate=0.25', '--counts', '1,4,8', '--mode', 'b')).toEqual({
      values: { fast: true, size: 7, rate: 0.25, counts: [1, 4, 8], mode: 'b' },
    });
  });

  it('refuses a bad value with the flag as typed and what is allowed', () => {
    expect(parse('--size', '0')).toEqual({ error: '--size must be a whole number from 1 to 100, got "0"' });
    expect(parse('--size', '2.5')).toEqual({ error: '--size must be a whole number from 1 to 100, got "2.5"' });
    expect(parse('--size', ' ')).toEqual({ error: '--size must be a whole number from 1 to 100, got " "' });
    expect(parse('--rate', 'often')).toEqual({ error: '--rate must be a number from 0 to 0.5, got "often"' });
    expect(parse('--counts', '1,,2')).toEqual({
      error: '--counts must be a comma-separated list of whole numbers from 1 to 8, got "1,,2"',
    });
    expect(parse('--counts', '9')).toEqual({
      error: '--counts must be a comma-separated list of whole numbers from 1 to 8, got "9"',
    });
    expect(parse('--mode', 'c')).toEqual({ error: '--mode must be a or b, got "c"' });
  });

  it('names an unknown flag with every known one, and points at --help for the others', () => {
    expect(parse('--bogus')).toEqual({
      error:
        "Unknown option '--bogus'; the flags are --fast, --size, --rate, --counts, --mode, --help (see demo -- --help)",
    });
    expect(parse('--size')).toEqual({ error: "Option '--size <value>' argument missing; see demo -- --help" });
    expect(parse('--fast=yes')).toEqual({ error: "Option '--fast' does not take an argument; see demo -- --help" });
    expect(parse('stray')).toEqual({
      error: "Unexpected argument 'stray'. This command does not take positional arguments; see demo -- --help",
    });
  });

  it('answers --help before reading the other flags, and lists every flag with its default and bounds', () => {
    expect(parse('--size', '0', '--help')).toEqual({ help: true });
    expect(flagHelp('demo [flags]', FLAGS).split('\n')).toEqual([
      'demo [flags]',
      '  --fast                     go fast',
      '  --size N                   how many (default 10; 1 to 100)',
      '  --rate N                   how often (default 0.1; 0 to 0.5)',
      '  --counts N,N,...           which counts (default 1,2; each 1 to 8)',
      '  --mode a|b                 which mode (default a)',
      '  --help                     this text',
    ]);
  });
});
