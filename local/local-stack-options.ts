import { parseArgs } from 'node:util';
import { DEFAULT_DEAD_LETTER_POLICY, DEFAULT_LAMBDA_RETRY_ATTEMPTS } from '../shared/dead-letters/dead-letter-policy.js';
import { MAX_SEGMENTS } from '../shared/routing/layout.js';

/** How often a poison record fails: past the attempt limit (parked), and once more in its first redrive. */
export const POISON_FAILURES = 12;

/** What `npm start` runs with. */
export interface LocalStackSettings {
  readonly durationMs: number;
  readonly partitions: number;
  readonly keys: number;
  readonly segments: number;
  readonly rate: number;
  readonly failureRate: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly poison: number;
  readonly lambdaRetries: number;
  readonly topic: string;
  readonly group: string;
  readonly produce: boolean;
}

/** Each numeric flag: its default, its bounds, whether it must be whole, and what it means (for --help). */
const NUMBERS = {
  duration: {
    default: 30,
    min: 1,
    max: 3_600,
    whole: false,
    help: 'seconds of production (delivery then finishes what is left)',
  },
  partitions: { default: 4, min: 1, max: 256, whole: true, help: 'partitions of the generated topic' },
  keys: { default: 200, min: 1, max: 1_000_000, whole: true, help: 'distinct order keys' },
  segments: { default: 4, min: 1, max: MAX_SEGMENTS, whole: true, help: "segments of the processor's first layout" },
  rate: { default: 500, min: 1, max: 100_000, whole: false, help: 'records produced per second, over all partitions' },
  'failure-rate': {
    default: 0.02,
    min: 0,
    max: 0.5,
    whole: false,
    help: 'share of handler attempts that fail (retried; a key waits for its failed record)',
  },
  'batch-size': {
    default: 100,
    min: 1,
    max: 10_000,
    whole: true,
    help: 'records per delivered batch (Lambda allows 1 to 10,000)',
  },
  concurrency: { default: 32, min: 1, max: 10_000, whole: true, help: 'records handled at once per invocation' },
  'lambda-retries': {
    default: DEFAULT_LAMBDA_RETRY_ATTEMPTS,
    min: -1,
    max: 10_000,
    whole: true,
    help: `retries of a batch that made no progress before the simulated event source gives up (the construct's retryAttempts; --lambda-retries=-1 retries forever)`,
  },
  poison: {
    default: 3,
    min: 0,
    max: 1_000,
    whole: true,
    help: `records that fail ${POISON_FAILURES} attempts: parked as dead letters after ${DEFAULT_DEAD_LETTER_POLICY.afterAttempts}, then redriven`,
  },
} as const;

/** The text of `npm start -- --help`: every flag, its default and what it does. */
export const LOCAL_STACK_HELP = [
  'npm start -- [flags]',
  ...Object.entries(NUMBERS).map(
    ([name, spec]) =>
      `  --${name.padEnd(16)} ${String(spec.default).padEnd(6)} ${spec.help} (${spec.min} to ${spec.max})`,
  ),
  '',
  'With KAFKA_BROKERS=host:port[,host:port] the records come from that Kafka cluster instead of the generator:',
  '  --topic orders            the topic to consume (its partitions must number --partitions when producing)',
  '  --group tidemark-local    the consumer group; offsets are committed only as far as the responses allow',
  '  --produce                 also write the generated stream into the topic, so the run can check nothing was lost',
  '  --help                    this text',
].join('\n');

/**
 * Reads `npm start`'s flags. A bad flag gives `{ error }`, one line naming the flag as typed and what is allowed;
 * `--help` gives `{ help: true }`.
 */
export function parseLocalStackFlags(
  argv: readonly string[],
): { settings: LocalStackSettings } | { error: string } | { help: true } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(Object.keys(NUMBERS).map((name) => [name, { type: 'string' as const }])),
        topic: { type: 'string', default: 'orders' },
        group: { type: 'string', default: 'tidemark-local' },
        produce: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    // node:util's messages name the option ("Unknown option '--bogus'"); keep them, without the stack.
    return { error: `${(error as Error).message.split('\n')[0]}; see npm start -- --help` };
  }
  if (values.help) return { help: true };
  const numbers: Record<string, number> = {};
  for (const [name, spec] of Object.entries(NUMBERS)) {
    const given = values[name];
    const value = given === undefined ? spec.default : Number(given);
    if (
      typeof given === 'string' &&
      (given.trim() === '' ||
        !Number.isFinite(value) ||
        (spec.whole && !Number.isInteger(value)) ||
        value < spec.min ||
        value > spec.max)
    ) {
      return {
        error: `--${name} must be ${spec.whole ? 'a whole number' : 'a number'} from ${spec.min} to ${spec.max}, got ${JSON.stringify(given)}`,
      };
    }
    numbers[name] = value;
  }
  return {
    settings: {
      durationMs: Math.round(numbers.duration! * 1000),
      partitions: numbers.partitions!,
      keys: numbers.keys!,
      segments: numbers.segments!,
      rate: numbers.rate!,
      failureRate: numbers['failure-rate']!,
      batchSize: numbers['batch-size']!,
      concurrency: numbers.concurrency!,
      poison: numbers.poison!,
      lambdaRetries: numbers['lambda-retries']!,
      topic: String(values.topic),
      group: String(values.group),
      produce: values.produce === true,
    },
  };
}
