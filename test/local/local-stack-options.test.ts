import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LOCAL_STACK_HELP, parseLocalStackFlags } from '../../local/local-stack-flags.js';

describe("npm start's flags", () => {
  it('default to the documented run and read what is given', () => {
    expect(parseLocalStackFlags([])).toEqual({
      settings: expect.objectContaining({
        durationMs: 30_000,
        partitions: 4,
        poison: 3,
        lambdaRetries: 10,
        batchSize: 100,
      }),
    });
    expect(parseLocalStackFlags(['--duration', '6', '--lambda-retries=-1', '--produce'])).toEqual({
      settings: expect.objectContaining({ durationMs: 6_000, lambdaRetries: -1, produce: true }),
    });
  });

  it('refuse a bad value with the flag as typed and what is allowed', () => {
    expect(parseLocalStackFlags(['--partitions', '0'])).toEqual({
      error: '--partitions must be a whole number from 1 to 256, got "0"',
    });
    expect(parseLocalStackFlags(['--batch-size', '0'])).toEqual({
      error: '--batch-size must be a whole number from 1 to 10000, got "0"',
    });
    expect(parseLocalStackFlags(['--failure-rate', '2'])).toEqual({
      error: '--failure-rate must be a number from 0 to 0.5, got "2"',
    });
    expect(parseLocalStackFlags(['--duration', 'soon'])).toEqual({
      error: '--duration must be a number from 1 to 3600, got "soon"',
    });
    expect(parseLocalStackFlags(['--bogus'])).toEqual({
      error: expect.stringMatching(/^Unknown option '--bogus'.*; see npm start -- --help$/),
    });
  });

  it('list every flag in --help', () => {
    expect(parseLocalStackFlags(['--help'])).toEqual({ help: true });
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
      '--topic',
      '--group',
      '--produce',
    ]) {
      expect(LOCAL_STACK_HELP).toContain(flag);
    }
  });

  it('make npm start exit 2 with one line and no stack trace, before starting anything', () => {
    const run = spawnSync('node_modules/.bin/tsx', ['scripts/local-stack.ts', '--partitions', '0'], {
      encoding: 'utf8',
    });

    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('npm start: --partitions must be a whole number from 1 to 256, got "0"');
    expect(run.stdout).toBe('');
  });
});
