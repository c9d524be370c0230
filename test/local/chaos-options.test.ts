import { describe, expect, it } from 'vitest';
import { CHAOS_HELP, parseChaosFlags, resolveChaosOptions } from '../../local/chaos-options.js';
import { runScript, runScriptCases } from '../support/scripts.js';

const SEE_HELP = 'see npm run chaos -- --help';

/**
 * Every bad input of `npm run chaos`, with the one line it must print; `spawn` marks those also run through the
 * script (one of each kind of mistake): every `{ error }` takes the same path to exit code 2.
 */
const BAD: Array<{ args: string[]; error: string; spawn?: true }> = [
  { spawn: true, args: ['--runs', '0'], error: '--runs must be a whole number from 1 to 100000, got "0"' },
  { args: ['--runs', '1.5'], error: '--runs must be a whole number from 1 to 100000, got "1.5"' },
  { args: ['--runs=many'], error: '--runs must be a whole number from 1 to 100000, got "many"' },
  { spawn: true, args: ['--seed', '-1'], error: '--seed must be a whole number from 0 to 2147483647, got "-1"' },
  { spawn: true, args: ['--seed'], error: `--seed needs a whole number from 0 to 2147483647 after it; ${SEE_HELP}` },
  { spawn: true, args: ['--verbose=1'], error: `--verbose takes no value, got "1"; ${SEE_HELP}` },
  { args: ['--effects=yes'], error: `--effects takes no value, got "yes"; ${SEE_HELP}` },
  {
    spawn: true,
    args: ['--bogus'],
    error: `unknown flag --bogus; the flags are --runs, --seed, --verbose, --effects, --help; ${SEE_HELP}`,
  },
  { spawn: true, args: ['5'], error: `unexpected argument "5": npm run chaos -- takes flags only; ${SEE_HELP}` },
];

describe("npm run chaos's flags", () => {
  it('default to 50 runs from seed 1 and read what is given', () => {
    expect(parseChaosFlags([])).toEqual({ options: { runs: 50, seed: 1, verbose: false, effects: false } });
    expect(parseChaosFlags(['--runs', '5', '--seed=7', '--verbose', '--effects'])).toEqual({
      options: { runs: 5, seed: 7, verbose: true, effects: true },
    });
  });

  it('refuse each bad input with one line naming the flag as typed and what is allowed', () => {
    for (const { args, error } of BAD) expect(parseChaosFlags(args), args.join(' ')).toEqual({ error });
    expect(() => resolveChaosOptions({ runs: 0 })).toThrow(
      'runChaos: runs (--runs) must be a whole number from 1 to 100000, got 0',
    );
  });

  it('list every flag in --help', () => {
    expect(parseChaosFlags(['--help'])).toEqual({ help: true });
    for (const flag of ['--runs', '--seed', '--verbose', '--effects', '--help']) {
      expect(CHAOS_HELP).toContain(`  ${flag} `);
    }
  });

  it('make npm run chaos exit 2 on each bad input, with that one line on stderr, no stack trace, before starting anything', async () => {
    const cases = BAD.filter((c) => c.spawn);
    const runs = await runScriptCases(
      'scripts/chaos.ts',
      cases.map((c) => c.args),
    );

    expect(
      runs.map((run) => ({ args: run.args, status: run.status, stdout: run.stdout, stderr: run.stderr.trimEnd() })),
    ).toEqual(cases.map(({ args, error }) => ({ args, status: 2, stdout: '', stderr: `npm run chaos: ${error}` })));
  });

  it('make npm run chaos -- --help print every flag and exit 0', async () => {
    const run = await runScript('scripts/chaos.ts', ['--help']);

    expect(run.status).toBe(0);
    expect(run.stdout.trimEnd()).toBe(CHAOS_HELP);
  });
});
