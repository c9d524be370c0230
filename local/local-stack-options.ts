import {
  DEFAULT_DEAD_LETTER_POLICY,
  DEFAULT_LAMBDA_RETRY_ATTEMPTS,
} from '../shared/dead-letters/dead-letter-policy.js';
import { MAX_SEGMENTS } from '../shared/routing/layout.js';
import { flagsHelp, parseFlags, resolveOptions, type FlagSpecs, type FlagsResult } from './flags.js';

/** How often a poison record fails: past the attempt limit (parked), and once more in its first redrive. */
export const POISON_FAILURES = 12;

/** What {@link runLocalStack} (`npm start`) runs with; every field has a default. */
export interface LocalStackOptions {
  /** How long the producer writes, in ms (`--duration`, in seconds). The run then drains and verifies. */
  readonly durationMs: number;
  readonly partitions: number;
  readonly keys: number;
  readonly segments: number;
  /** Records produced per second, over all partitions. */
  readonly rate: number;
  /** Share of handler attempts that fail. */
  readonly failureRate: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly poison: number;
  /** Retries of a batch that made no progress before the simulated event source gives up; -1 retries forever. */
  readonly lambdaRetries: number;
  /** With `brokers`: the topic to consume. */
  readonly topic: string;
  /** With `brokers`: the consumer group. */
  readonly group: string;
  /** With `brokers`: also write the generated stream into the topic, so loss can be checked. */
  readonly produce: boolean;
  /** Leave DynamoDB Local running when the run ends: the result's `dynamoDb` stops it. */
  readonly keep: boolean;
  /** Consume this Kafka cluster (`host:port`) with the poller instead of the generator's in-memory topic. */
  readonly brokers?: readonly string[];
  /** Use the DynamoDB at this endpoint instead of starting DynamoDB Local (`keep` then has nothing to keep). */
  readonly endpoint?: string;
  /** The token table (created if missing). @default "tidemark-local" */
  readonly tableName?: string;
  /**
   * Serve the admin API and status page on this loopback port during the run (`--admin-port`; 0 picks a free port,
   * -1 serves none). The URL is reported once it listens.
   */
  readonly adminPort: number;
  /** Aborting it ends the run at once: DynamoDB Local is stopped and the run rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Each flag of `npm start`: the option it sets, its default, its bounds, and what it means (for --help). */
const FLAGS = {
  duration: {
    type: 'number',
    option: 'durationMs',
    scale: 1_000,
    default: 30,
    min: 1,
    max: 3_600,
    whole: false,
    help: 'seconds of traffic: the producer stops then; delivery, redrives and verification follow',
  },
  partitions: {
    type: 'number',
    option: 'partitions',
    default: 4,
    min: 1,
    max: 256,
    whole: true,
    help: 'partitions of the generated topic',
  },
  keys: {
    type: 'number',
    option: 'keys',
    default: 200,
    min: 1,
    max: 1_000_000,
    whole: true,
    help: 'distinct order keys',
  },
  segments: {
    type: 'number',
    option: 'segments',
    default: 4,
    min: 1,
    max: MAX_SEGMENTS,
    whole: true,
    help: "segments of the processor's first layout",
  },
  rate: {
    type: 'number',
    option: 'rate',
    default: 500,
    min: 1,
    max: 100_000,
    whole: false,
    help: 'records produced per second, over all partitions',
  },
  'failure-rate': {
    type: 'number',
    option: 'failureRate',
    default: 0.02,
    min: 0,
    max: 0.5,
    whole: false,
    help: 'share of handler attempts that fail (retried; a key waits for its failed record)',
  },
  'batch-size': {
    type: 'number',
    option: 'batchSize',
    default: 100,
    min: 1,
    max: 10_000,
    whole: true,
    help: 'records per delivered batch (Lambda allows 1 to 10,000)',
  },
  concurrency: {
    type: 'number',
    option: 'concurrency',
    default: 32,
    min: 1,
    max: 10_000,
    whole: true,
    help: 'records handled at once per invocation',
  },
  'lambda-retries': {
    type: 'number',
    option: 'lambdaRetries',
    default: DEFAULT_LAMBDA_RETRY_ATTEMPTS,
    min: -1,
    max: 10_000,
    whole: true,
    help: `retries of a batch that made no progress before the simulated event source gives up (the construct's retryAttempts; -1 retries forever)`,
  },
  poison: {
    type: 'number',
    option: 'poison',
    default: 3,
    min: 0,
    max: 1_000,
    whole: true,
    help: `records that fail ${POISON_FAILURES} attempts: parked as dead letters after ${DEFAULT_DEAD_LETTER_POLICY.afterAttempts}, then redriven`,
  },
  'admin-port': {
    type: 'number',
    option: 'adminPort',
    default: -1,
    min: -1,
    max: 65_535,
    whole: true,
    help: 'serve the admin API and status page on this loopback port during the run, and after it with --keep (0: a free port; -1: none)',
  },
  keep: {
    type: 'boolean',
    option: 'keep',
    help: "leave DynamoDB Local running after the run: print its endpoint and the `npx tidemark status` command for it, then wait for Ctrl-C, which stops it (the exit code is still the verification's)",
  },
  topic: {
    type: 'string',
    option: 'topic',
    default: 'orders',
    help: 'with KAFKA_BROKERS: the topic to consume (its partitions must number --partitions when producing)',
  },
  group: {
    type: 'string',
    option: 'group',
    default: 'tidemark-local',
    help: 'with KAFKA_BROKERS: the consumer group; offsets are committed only as far as the responses allow',
  },
  produce: {
    type: 'boolean',
    option: 'produce',
    help: 'with KAFKA_BROKERS: also write the generated stream into the topic, so the run can check nothing was lost',
  },
} as const satisfies FlagSpecs;

/** The options of a run with no flags given. */
export const DEFAULT_LOCAL_STACK_OPTIONS: LocalStackOptions = resolveOptions<LocalStackOptions>(
  {},
  FLAGS,
  'runLocalStack',
);

/** The text of `npm start -- --help`: every flag, its default and what it does. */
export const LOCAL_STACK_HELP = flagsHelp('npm start -- [flags]', FLAGS, [
  [
    'A run: DynamoDB Local starts and the state machines are synthesized (a few seconds, printed as they happen);',
    'then the producer writes for --duration seconds while a split (at a third) and a merge (at two thirds) run;',
    'after the traffic stops, a layout change under way ends, delivery finishes what is left, parked letters are',
    'redriven (at most 30 s) and the run is verified. It prints how long each phase took. The exit code is 0 only',
    'if nothing was lost, nothing checkpointed was handled again, every key stayed in order and the layout whole;',
    '1 otherwise; 2 for a bad flag. Ctrl-C during the run stops DynamoDB Local and exits 130.',
  ].join('\n'),
  'With KAFKA_BROKERS=host:port[,host:port] the records come from that Kafka cluster instead of the generator.',
]);

/**
 * Reads `npm start`'s flags. A bad flag gives `{ error }`, one line naming the flag as typed and what is allowed;
 * `--help` gives `{ help: true }`.
 */
export function parseLocalStackFlags(argv: readonly string[]): FlagsResult<LocalStackOptions> {
  return parseFlags('npm start --', argv, FLAGS) as FlagsResult<LocalStackOptions>;
}

/** Fills in defaults and checks every option; a bad one throws a ConfigurationError naming it and its flag. */
export function resolveLocalStackOptions(given: Partial<LocalStackOptions> = {}): LocalStackOptions {
  return resolveOptions<LocalStackOptions>(given, FLAGS, 'runLocalStack');
}
