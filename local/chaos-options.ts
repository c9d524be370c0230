import { flagsHelp, parseFlags, resolveOptions, type FlagSpecs, type FlagsResult } from './flags.js';

/** What {@link runChaos} (`npm run chaos`) runs with; every field but the callbacks has a default. */
export interface ChaosOptions {
  /** Randomized schedules to run, one after the other. */
  readonly runs: number;
  /** The seed of the first schedule; the same seed replays the same schedules. */
  readonly seed: number;
  /** Report every run, not only failing ones and every tenth. */
  readonly verbose: boolean;
  /**
   * The handler also applies effects through the exactly-once helper (a counter per key, and a per-key ledger with a
   * per-partition log in one transaction) into a table of their own, and the totals gain `effectsAppliedTwice` and
   * `effectsMissing`, read back from DynamoDB and checked against the records handled.
   */
  readonly effects: boolean;
  /** Keep every handler call of each run (`trace` in the run's summary), to replay a failing run. */
  readonly trace?: boolean;
  /** Use the DynamoDB at this endpoint instead of starting DynamoDB Local. */
  readonly endpoint?: string;
}

const FLAGS = {
  runs: {
    type: 'number',
    option: 'runs',
    default: 50,
    min: 1,
    max: 100_000,
    whole: true,
    help: 'randomized schedules to run (each a few hundred records, about a second)',
  },
  seed: {
    type: 'number',
    option: 'seed',
    default: 1,
    min: 0,
    max: 2_147_483_647,
    whole: true,
    help: 'seed of the schedules: the same seed and run replay exactly',
  },
  verbose: { type: 'boolean', option: 'verbose', help: 'print every run, not only failing ones and every tenth' },
  effects: {
    type: 'boolean',
    option: 'effects',
    help: 'also apply exactly-once DynamoDB effects in the handler and check each landed once',
  },
} as const satisfies FlagSpecs;

/** The text of `npm run chaos -- --help`. */
export const CHAOS_HELP = flagsHelp('npm run chaos -- [flags]', FLAGS, [
  [
    'Each run injects handler errors, slow and hanging calls, crashes mid-batch, holders frozen past their lease,',
    'duplicate deliveries, DynamoDB throttling and condition failures, and a split, merge or scale, against DynamoDB',
    'Local. Progress goes to stderr; the last line on stdout is the totals as one JSON object. The exit code is 0 if',
    'nothing was lost, repeated after a checkpoint, run out of order or left the layout broken (with --effects: no',
    'effect applied twice or missing); 1 otherwise; 2 for a bad flag.',
  ].join('\n'),
]);

/** Reads `npm run chaos`'s flags: `{ options }`, `{ help: true }`, or `{ error }` naming the flag as typed. */
export function parseChaosFlags(argv: readonly string[]): FlagsResult<ChaosOptions> {
  return parseFlags('npm run chaos --', argv, FLAGS) as FlagsResult<ChaosOptions>;
}

/** Fills in defaults and checks every option; a bad one throws a ConfigurationError naming it and its flag. */
export function resolveChaosOptions(given: Partial<ChaosOptions> = {}): ChaosOptions {
  return resolveOptions<ChaosOptions>(given, FLAGS, 'runChaos');
}
