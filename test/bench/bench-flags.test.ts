import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BENCH_HELP, parseBenchFlags } from '../../bench/bench-flags.js';
import { DEFAULT_OPTIONS, QUICK_OPTIONS } from '../../bench/options.js';

/** Every flag `npm run bench` takes, as docs/benchmarks.md lists them. */
const EVERY_FLAG = [
  '--json',
  '--quick',
  '--records',
  '--keys',
  '--concurrency',
  '--batch-size',
  '--latency-ms',
  '--sequential-records',
  '--partitions',
  '--overhead-records',
  '--repeats',
  '--scaling-repeats',
  '--scaling-batch-size',
  '--segments',
  '--memory-mb',
  '--store',
  '--help',
];

/** `npm run bench` itself, with its output: the exit code and messages are what a user sees. */
const bench = (...argv: string[]) =>
  spawnSync('node_modules/.bin/tsx', ['scripts/bench.ts', ...argv], { encoding: 'utf8', timeout: 30_000 });

describe("npm run bench's flags", () => {
  it('default to the full run, or the quick one, and read what is given over either', () => {
    expect(parseBenchFlags([])).toEqual({ command: { options: DEFAULT_OPTIONS, json: false, store: 'dynamodb' } });
    expect(parseBenchFlags(['--quick', '--json', '--store', 'memory'])).toEqual({
      command: { options: QUICK_OPTIONS, json: true, store: 'memory' },
    });
    const given = parseBenchFlags(['--quick', '--records', '300', '--partitions', '1,2', '--latency-ms', '0']);
    expect(given).toEqual({
      command: expect.objectContaining({
        options: { ...QUICK_OPTIONS, records: 300, partitions: [1, 2], latencyMs: 0, sequentialRecords: 300 },
      }),
    });
  });

  it('never give the sequential baseline more records than the others', () => {
    const parsed = parseBenchFlags(['--records', '100', '--sequential-records', '500']);
    expect(parsed).toEqual({
      command: expect.objectContaining({ options: expect.objectContaining({ records: 100, sequentialRecords: 100 }) }),
    });
  });

  it('refuse a bad value with the flag as typed and what is allowed', () => {
    expect(parseBenchFlags(['--records', '0'])).toEqual({
      error: '--records must be a whole number from 1 to 1000000, got "0"',
    });
    expect(parseBenchFlags(['--batch-size', '10001'])).toEqual({
      error: '--batch-size must be a whole number from 1 to 10000, got "10001"',
    });
    expect(parseBenchFlags(['--memory-mb', '64'])).toEqual({
      error: '--memory-mb must be a whole number from 128 to 10240, got "64"',
    });
    expect(parseBenchFlags(['--segments', '4096'])).toEqual({
      error: '--segments must be a whole number from 1 to 2048, got "4096"',
    });
    expect(parseBenchFlags(['--partitions', '1,65'])).toEqual({
      error: '--partitions must be a comma-separated list of whole numbers from 1 to 64, got "1,65"',
    });
    expect(parseBenchFlags(['--store', 'sqlite'])).toEqual({
      error: '--store must be dynamodb or memory, got "sqlite"',
    });
    expect(parseBenchFlags(['--store'])).toEqual({
      error: '--store needs dynamodb or memory after it; see npm run bench -- --help',
    });
    expect(parseBenchFlags(['--bogus'])).toEqual({
      error: expect.stringMatching(/^unknown flag --bogus; the flags are --json, .*--store, --help; see npm run bench/),
    });
  });

  it('list every flag in --help', () => {
    expect(parseBenchFlags(['--help'])).toEqual({ help: true });
    const listed = BENCH_HELP.split('\n')
      .filter((line) => line.startsWith('  --'))
      .map((line) => line.trim().split(' ')[0]);
    expect(listed).toEqual(EVERY_FLAG);
  });

  it('make npm run bench exit 2 with one line naming the flag and no stack trace, before starting anything', () => {
    const unknown = bench('--bogus');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^npm run bench: unknown flag --bogus; the flags are --json, /),
    ]);
    expect(unknown.stdout).toBe('');

    const bad = bench('--quick', '--repeats', 'many');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('npm run bench: --repeats must be a whole number from 1 to 100, got "many"');
    expect(bad.stdout).toBe('');
  });

  it('make npm run bench -- --help print every flag and exit 0', () => {
    const help = bench('--help');
    expect(help.status).toBe(0);
    expect(help.stdout.trim()).toBe(BENCH_HELP);
    expect(help.stderr).toBe('');
  });
});
