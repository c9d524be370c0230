/**
 * `npm run bench`'s flags: each with its bounds and help, read into the benchmark's options. Absent flags take
 * the defaults of the full run, or of `--quick`'s smoke-test run.
 */
import { MAX_SEGMENTS } from '../shared/routing/layout.js';
import type { StoreChoice } from './environment.js';
import { flagHelp, parseFlags, type Flag } from './flags.js';
import { DEFAULT_OPTIONS, QUICK_OPTIONS, type BenchOptions } from './options.js';

/** Lambda's Kafka event source delivers at most this many records per batch. */
const LAMBDA_MAX_BATCH = 10_000;

/** The default of an option in the full run, and in `--quick`'s where it differs. */
function byDefault(option: keyof BenchOptions): string {
  const full = String(DEFAULT_OPTIONS[option]);
  const quick = String(QUICK_OPTIONS[option]);
  return quick === full ? full : `${full}, or ${quick} with --quick`;
}

/** A flag that counts something: a whole number from 1. */
const count = (max: number, help: string, defaultText: string) =>
  ({ kind: 'number', min: 1, max, whole: true, help, default: defaultText }) as const;

const FLAGS = {
  json: { kind: 'switch', help: 'print exactly one JSON object as the last stdout line (progress goes to stderr)' },
  quick: { kind: 'switch', help: 'smoke-test sizes (a few seconds of measuring)' },
  records: count(1_000_000, 'records of the one-partition run, and per partition when scaling', byDefault('records')),
  keys: count(1_000_000, 'keys of the one-partition run, and per partition when scaling', byDefault('keys')),
  concurrency: count(
    10_000,
    'records handled at once per invocation, (b) and (c)',
    String(DEFAULT_OPTIONS.concurrency),
  ),
  'batch-size': count(
    LAMBDA_MAX_BATCH,
    'records per Lambda event (see docs/benchmarks.md on batch size)',
    byDefault('batchSize'),
  ),
  'latency-ms': {
    kind: 'number',
    min: 0,
    max: 1_000,
    whole: true,
    help: 'simulated I/O each handler call awaits',
    default: String(DEFAULT_OPTIONS.latencyMs),
  },
  'sequential-records': count(
    1_000_000,
    'records the sequential baseline handles (never more than --records)',
    byDefault('sequentialRecords'),
  ),
  partitions: {
    kind: 'list',
    min: 1,
    max: 64,
    help: 'partition counts to scale over',
    default: DEFAULT_OPTIONS.partitions.join(','),
  },
  'overhead-records': count(5_000_000, 'records of the no-op overhead run', byDefault('overheadRecords')),
  repeats: count(100, 'runs of each fast scenario; the median is reported', byDefault('repeats')),
  'scaling-repeats': count(100, 'runs of each scaling point; the median is reported', byDefault('scalingRepeats')),
  'scaling-batch-size': count(LAMBDA_MAX_BATCH, 'records per event when scaling', byDefault('scalingBatchSize')),
  segments: count(MAX_SEGMENTS, "segments of the processor's layout", String(DEFAULT_OPTIONS.segments)),
  'memory-mb': {
    kind: 'number',
    min: 128,
    max: 10_240,
    whole: true,
    help: 'Lambda memory size for the cost estimate',
    default: String(DEFAULT_OPTIONS.lambdaMemoryMb),
  },
  store: {
    kind: 'choice',
    choices: ['dynamodb', 'memory'],
    help: 'token store of the throughput runs',
    default: 'dynamodb: DynamoDB Local',
  },
} as const satisfies Record<string, Flag>;

const COMMAND = 'npm run bench';

/** The text of `npm run bench -- --help`. */
export const BENCH_HELP = flagHelp(`${COMMAND} -- [flags]`, FLAGS);

/** What `npm run bench` is asked to do. */
export interface BenchCommand {
  readonly options: BenchOptions;
  readonly json: boolean;
  readonly store: StoreChoice;
}

/** Reads `npm run bench`'s flags; a bad flag gives `{ error }`, one line naming it and what is allowed. */
export function parseBenchFlags(
  argv: readonly string[],
): { command: BenchCommand } | { error: string } | { help: true } {
  const parsed = parseFlags(argv, FLAGS, COMMAND);
  if (!('values' in parsed)) return parsed;
  const flags = parsed.values;
  const base = flags.quick ? QUICK_OPTIONS : DEFAULT_OPTIONS;
  const records = flags.records ?? base.records;
  const options: BenchOptions = {
    ...base,
    records,
    keys: flags.keys ?? base.keys,
    concurrency: flags.concurrency ?? base.concurrency,
    batchSize: flags['batch-size'] ?? base.batchSize,
    latencyMs: flags['latency-ms'] ?? base.latencyMs,
    // The baseline is the slow one: never more records than the others handle.
    sequentialRecords: Math.min(records, flags['sequential-records'] ?? base.sequentialRecords),
    partitions: flags.partitions ?? base.partitions,
    overheadRecords: flags['overhead-records'] ?? base.overheadRecords,
    repeats: flags.repeats ?? base.repeats,
    scalingRepeats: flags['scaling-repeats'] ?? base.scalingRepeats,
    scalingBatchSize: flags['scaling-batch-size'] ?? base.scalingBatchSize,
    segments: flags.segments ?? base.segments,
    lambdaMemoryMb: flags['memory-mb'] ?? base.lambdaMemoryMb,
  };
  return { command: { options, json: flags.json, store: flags.store ?? 'dynamodb' } };
}
