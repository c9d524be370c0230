import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../shared/errors.js';
import {
  DEFAULT_LOCAL_STACK_OPTIONS,
  LOCAL_STACK_HELP,
  parseLocalStackFlags,
  resolveLocalStackOptions,
} from '../../local/local-stack-options.js';
import { runScript, runScriptCases } from '../support/scripts.js';

const SEE_HELP = 'see npm start -- --help';

/**
 * Every bad input of `npm start`, with the one line it must print. `spawn` marks those also run through the script
 * itself (one of each kind of mistake; a process each costs half a second): every `{ error }` takes the same path to
 * exit code 2.
 */
const BAD: Array<{ args: string[]; error: unknown; spawn?: true }> = [
  { spawn: true, args: ['--partitions', '0'], error: '--partitions must be a whole number from 1 to 256, got "0"' },
  { spawn: true, args: ['--batch-size', '0'], error: '--batch-size must be a whole number from 1 to 10000, got "0"' },
  { spawn: true, args: ['--failure-rate', '2'], error: '--failure-rate must be a number from 0 to 0.5, got "2"' },
  { spawn: true, args: ['--duration', 'abc'], error: '--duration must be a number from 1 to 3600, got "abc"' },
  { args: ['--duration=0.5'], error: '--duration must be a number from 1 to 3600, got "0.5"' },
  { args: ['--segments', '2.5'], error: '--segments must be a whole number from 1 to 2048, got "2.5"' },
  { args: ['--lambda-retries', '-2'], error: '--lambda-retries must be a whole number from -1 to 10000, got "-2"' },
  { args: ['--rate', ''], error: '--rate must be a number from 1 to 100000, got ""' },
  { spawn: true, args: ['--keys'], error: `--keys needs a whole number from 1 to 1000000 after it; ${SEE_HELP}` },
  { spawn: true, args: ['--keep=yes'], error: `--keep takes no value, got "yes"; ${SEE_HELP}` },
  { args: ['--topic='], error: `--topic must not be empty; ${SEE_HELP}` },
  { args: ['--admin-port', '70000'], error: '--admin-port must be a whole number from -1 to 65535, got "70000"' },
  { spawn: true, args: ['fast'], error: `unexpected argument "fast": npm start -- takes flags only; ${SEE_HELP}` },
  {
    spawn: true,
    args: ['--bogus'],
    error:
      'unknown flag --bogus; the flags are --duration, --partitions, --keys, --segments, --rate, --failure-rate, ' +
      `--batch-size, --concurrency, --lambda-retries, --poison, --admin-port, --keep, --topic, --group, --produce, --help; ${SEE_HELP}`,
  },
  { args: ['-d', '5'], error: expect.stringMatching(/^unknown flag -d; the flags are --duration, /) },
];

describe("npm start's flags", () => {
  it('default to the documented run and read what is given', () => {
    expect(parseLocalStackFlags([])).toEqual({ options: DEFAULT_LOCAL_STACK_OPTIONS });
    expect(DEFAULT_LOCAL_STACK_OPTIONS).toMatchObject({
      durationMs: 30_000,
      partitions: 4,
      poison: 3,
      lambdaRetries: 10,
      batchSize: 100,
      keep: false,
      produce: false,
      topic: 'orders',
    });
    expect(parseLocalStackFlags(['--duration', '6', '--lambda-retries=-1', '--produce', '--keep'])).toEqual({
      options: expect.objectContaining({ durationMs: 6_000, lambdaRetries: -1, produce: true, keep: true }),
    });
    // A negative value may follow its flag as the next argument, too.
    expect(parseLocalStackFlags(['--lambda-retries', '-1'])).toEqual({
      options: expect.objectContaining({ lambdaRetries: -1 }),
    });
  });

  it('refuse each bad input with one line naming the flag as typed and what is allowed', () => {
    for (const { args, error } of BAD) expect(parseLocalStackFlags(args), args.join(' ')).toEqual({ error });
  });

  it('list every flag in --help, and what the run does after the traffic', () => {
    expect(parseLocalStackFlags(['--partitions', '0', '--help'])).toEqual({ help: true });
    for (const flag of [
      '--duration',
      '--partitions',
      '--keys',
      '--segments',
      '--rate',
      '--failure-rate',
      '--batch-size',
      '--concurrency',
      '--lambda-retries',
      '--poison',
      '--keep',
      '--topic',
      '--group',
      '--produce',
      '--help',
    ]) {
      expect(LOCAL_STACK_HELP).toContain(`  ${flag} `);
    }
    expect(LOCAL_STACK_HELP).toMatch(/--keep .*wait for Ctrl-C, which stops it/);
    expect(LOCAL_STACK_HELP).toMatch(/after the traffic stops,.*\sredriven \(at most 30 s\) and the run is verified/s);
  });

  it('check the options a program passes to runLocalStack against the same bounds, naming option and flag', () => {
    expect(() => resolveLocalStackOptions({ partitions: 0 })).toThrow(ConfigurationError);
    expect(() => resolveLocalStackOptions({ partitions: 0 })).toThrow(
      'runLocalStack: partitions (--partitions) must be a whole number from 1 to 256, got 0',
    );
    expect(() => resolveLocalStackOptions({ durationMs: 100 })).toThrow(
      'runLocalStack: durationMs (--duration) must be a number from 1000 to 3600000, got 100',
    );
    expect(resolveLocalStackOptions({ durationMs: 1_500, tableName: 't' })).toMatchObject({
      durationMs: 1_500,
      tableName: 't',
      partitions: 4,
    });
  });

  it('make npm start exit 2 on each bad input, with that one line on stderr, no stack trace, before starting anything', async () => {
    const cases = BAD.filter((c) => c.spawn);
    const runs = await runScriptCases(
      'scripts/local-stack.ts',
      cases.map((c) => c.args),
    );

    expect(
      runs.map((run) => ({ args: run.args, status: run.status, stdout: run.stdout, stderr: run.stderr.trimEnd() })),
    ).toEqual(cases.map(({ args, error }) => ({ args, status: 2, stdout: '', stderr: `npm start: ${String(error)}` })));
  });

  it('make npm start -- --help print every flag and exit 0', async () => {
    const run = await runScript('scripts/local-stack.ts', ['--help']);

    expect(run.status).toBe(0);
    expect(run.stdout.trimEnd()).toBe(LOCAL_STACK_HELP);
  });
});
