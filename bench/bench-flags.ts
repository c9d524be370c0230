/**
 * `npm run bench`'s flags: each with its bounds and help, read into the benchmark's options by local/flags.ts, the
 * parser of `npm start` and `npm run chaos`. Absent flags take the defaults of the full run, or of `--quick`'s
 * smoke-test run.
 */
import { flagsHelp, parseFlags, type FlagSpecs, type FlagsResult, type NumberFlag } from '../local/flags.js';
import { MAX_SEGMENTS } from '../shared/routing/layout.js';
import type { StoreChoice } from './environment.js';
import { DEFAULT_OPTIONS, QUICK_OPTIONS, type BenchOptions } from './options.js';

/** Lambda's Kafka event source delivers at most this many records per batch. */
const LAMBDA_MAX_BATCH = 10_000;

/** The flags, with the defaults of `base`: the full run's, or `--quick`'s. */
function benchFlags(base: BenchOptions) {
  /** A flag that counts something: a whole number from 1; the help names `--quick`'s default where it differs. */
  const count = (option: keyof BenchOptions, max: number, help: string): NumberFlag => {
    const quick = QUICK_OPTIONS[option];
    const quickText = quick === DEFAULT_OPTIONS[option] ? '' : `; ${String(quick)} with --quick`;
    return {
      type: 'number',
      option,
      default: base[option] as number,
      min: 1,
      max,
      whole: true,
      help: help + quickText,
    };
  };
  return {
    json: {
      type: 'boolean',
      option: 'json',
      help: 'print exactly one JSON object as the last stdout line (progress goes to stderr)',
    },
    quick: { type: 'boolean', option: 'quick', help: 'smoke-test sizes (a few seconds of measuring)' },
    records: count('records', 1_000_000, 'records of the one-partition run, and per partition when scaling'),
    keys: count('keys', 1_000_000, 'keys of the one-partition run, and per partition when scaling'),
    concurrency: count('concurrency', 10_000, 'records handled at once per invocation, (b) and (c)'),
    'batch-size': count(
      'batchSize',
      LAMBDA_MAX_BATCH,
      'records per Lambda event (see docs/benchmarks.md on batch size)',
    ),
    'latency-ms': {
      type: 'number',
      option: 'latencyMs',
      default: base.latencyMs,
      min: 0,
      max: 1_000,
      whole: true,
      help: 'simulated I/O each handler call awaits',
    },
    'sequential-records': count(
      'sequentialRecords',
      1_000_000,
      'records the sequential baseline handles (never more than --records)',
    ),
    partitions: {
      type: 'list',
      option: 'partitions',
      default: base.partitions,
      min: 1,
      max: 64,
      help: 'partition counts to scale over',
    },
    'overhead-records': count('overheadRecords', 5_000_000, 'records of the no-op overhead run'),
    repeats: count('repeats', 100, 'runs of each fast scenario; the median is reported'),
    'scaling-repeats': count('scalingRepeats', 100, 'runs of each scaling point; the median is reported'),
    'scaling-batch-size': count('scalingBatchSize', LAMBDA_MAX_BATCH, 'records per event when scaling'),
    segments: count('segments', MAX_SEGMENTS, "segments of the processor's layout"),
    'memory-mb': {
      type: 'number',
      option: 'lambdaMemoryMb',
      default: base.lambdaMemoryMb,
      min: 128,
      max: 10_240,
      whole: true,
      help: 'Lambda memory size for the cost estimate',
    },
    store: {
      type: 'choice',
      option: 'store',
      choices: ['dynamodb', 'memory'],
      default: 'dynamodb',
      help: 'token store of the throughput runs: DynamoDB Local, or in memory',
    },
  } as const satisfies FlagSpecs;
}

const COMMAND = 'npm run bench --';

/** The text of `npm run bench -- --help`. */
export const BENCH_HELP = flagsHelp(`${COMMAND} [flags]`, benchFlags(DEFAULT_OPTIONS));

/** What `npm run bench` is asked to do. */
export interface BenchCommand {
  readonly options: BenchOptions;
  readonly json: boolean;
  readonly store: StoreChoice;
}

type Read = BenchOptions & { readonly json: boolean; readonly store: StoreChoice };

/** Reads `npm run bench`'s flags; a bad flag gives `{ error }`, one line naming it as typed and what is allowed. */
export function parseBenchFlags(
  argv: readonly string[],
): { command: BenchCommand } | { error: string } | { help: true } {
  const read = (base: BenchOptions) => parseFlags(COMMAND, argv, benchFlags(base)) as FlagsResult<Read>;
  let parsed = read(DEFAULT_OPTIONS);
  // `--quick` changes the defaults: read again with its own (the flags given are the same, so they read the same).
  if ('options' in parsed && parsed.options.quick) parsed = read(QUICK_OPTIONS);
  if (!('options' in parsed)) return parsed;
  const { json, store, ...given } = parsed.options;
  const options: BenchOptions = {
    ...(given.quick ? QUICK_OPTIONS : DEFAULT_OPTIONS),
    ...given,
    // The baseline is the slow one: never more records than the others handle.
    sequentialRecords: Math.min(given.records, given.sequentialRecords),
  };
  return { command: { options, json, store } };
}
