/**
 * `tidemark dead-letters …`: list, show, retry, delete and audit a processor's parked keys and letters, on top of
 * the dead-letter store (docs/decisions/0009-sequenced-dead-letters.md).
 */
import { userInfo } from 'node:os';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDbDeadLetterStore } from '../shared/dead-letters/dynamodb-dead-letter-store.js';
import {
  RedriveRefusedError,
  type ParkedKeyRef,
  type ParkedKeyState,
} from '../shared/dead-letters/dead-letter-store.js';
import { isParked, isSyntheticKey, keyDigest, type DeadLetter } from '../shared/dead-letters/dead-letter.js';
import { topicPartitionId } from '../shared/kafka/kafka-record.js';
import type { RedriveReport } from '../shared/dead-letters/redriver.js';
import {
  endpointArg,
  firstPositional,
  parseStrict,
  positionalArgs,
  positiveNumber,
  regionArg,
  tableArg,
  TABLE_OPTIONS,
  TABLE_OPTIONS_HELP,
  topicPartitionArg,
  UsageError,
  unknownOption,
  wholeNumber,
  type OptionSpec,
  type TableTarget,
} from './args.js';
import { awsClientConfig, dynamoDbClient, type CliContext } from './context.js';
import { againstTable } from './errors.js';
import { ago, count, dueIn, iso, shownBytes, shownKey, SHOWN_CHARS, truncate } from './format.js';

const COMMON = TABLE_OPTIONS_HELP;

const KEY_OPTIONS = `  --key <key>               the parked key, as text; (malformed) and (unroutable) name the synthetic keys
  --digest <digest>         the parked key by its digest (as list prints it); not with --key`;

export const DEAD_LETTERS_USAGE = `Usage:
  tidemark dead-letters list   <processor> [--partition <topic-partition>] [--json]
  tidemark dead-letters show   <processor> <topic-partition> [--key <key> | --digest <digest>] [--offset <n>] [--limit <n>] [--json]
  tidemark dead-letters retry  <processor> (<topic-partition> (--key <key> | --digest <digest>) | --all) [--rate <keys/s>] [--function <name or ARN>]
  tidemark dead-letters delete <processor> <topic-partition> (--key <key> | --digest <digest>) (--offset <n>... | --all) --reason "<why>" [--by <who>]
  tidemark dead-letters audit  <processor> [--limit <n>] [--json]

Run tidemark dead-letters <subcommand> --help for its options.`;

/** Each subcommand: its options and usage. */
const SUBCOMMANDS = {
  list: {
    options: { ...TABLE_OPTIONS, partition: { type: 'string' }, json: { type: 'boolean' } },
    usage: `Usage: tidemark dead-letters list <processor> [--partition <topic-partition>] [--json]

Every parked key of the processor: partition, key, letters pending, parked since, redrive attempts, next attempt,
redrive lease and last error, then a summary.

Options:
  --partition <t-p>         only this partition, e.g. orders-3
  --json                    the parked keys as a JSON array
${COMMON}`,
  },
  show: {
    options: {
      ...TABLE_OPTIONS,
      key: { type: 'string' },
      digest: { type: 'string' },
      offset: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    usage: `Usage: tidemark dead-letters show <processor> <topic-partition> [--key <key> | --digest <digest>] [--offset <n>] [--limit <n>] [--json]

A key's letters in offset order (every parked key of the partition when none is named): offset, timestamp, reason,
attempts, failures, error, key, value and headers (UTF-8 text when printable, else base64; cut at ${SHOWN_CHARS}
characters unless --offset names one letter).

Options:
${KEY_OPTIONS}
  --offset <n>              only the letter at this offset, in full, with its error's stack
  --limit <n>               letters shown per key (default 20)
  --json                    the letters as JSON, key, value and header values in base64
${COMMON}`,
  },
  retry: {
    options: {
      ...TABLE_OPTIONS,
      key: { type: 'string' },
      digest: { type: 'string' },
      all: { type: 'boolean' },
      rate: { type: 'string' },
      function: { type: 'string' },
    },
    usage: `Usage: tidemark dead-letters retry <processor> (<topic-partition> (--key <key> | --digest <digest>) | --all) [--rate <keys/s>] [--function <name or ARN>]

Makes parked keys due now. With a redrive function it also invokes it for them (10 keys per call) and prints what
each key's redrive did; otherwise the next scheduled redrive run picks them up.

Options:
${KEY_OPTIONS}
  --all                     every parked key of the processor (no <topic-partition>)
  --rate <keys/s>           at most this many keys made due per second (default 5)
  --function <name or ARN>  the redrive function (default: $TIDEMARK_REDRIVE_FUNCTION); none with --endpoint
${COMMON}`,
  },
  delete: {
    options: {
      ...TABLE_OPTIONS,
      key: { type: 'string' },
      digest: { type: 'string' },
      offset: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      reason: { type: 'string' },
      by: { type: 'string' },
    },
    usage: `Usage: tidemark dead-letters delete <processor> <topic-partition> (--key <key> | --digest <digest>) (--offset <n>... | --all) --reason "<why>" [--by <who>]

Deletes letters without handling them, counting them resolved, with an audit item each. Refused while a redrive holds
the key. The key flows again once all its letters are resolved.

Options:
${KEY_OPTIONS}
  --offset <n>              a letter to delete; repeat for more
  --all                     every letter of the key
  --reason "<why>"          required: kept in the audit item
  --by <who>                who deletes (default: your user name with --endpoint, else your AWS caller ARN)
${COMMON}`,
  },
  audit: {
    options: { ...TABLE_OPTIONS, limit: { type: 'string' }, json: { type: 'boolean' } },
    usage: `Usage: tidemark dead-letters audit <processor> [--limit <n>] [--json]

Audit items (deleted letters), newest first: when, what, by whom and why.

Options:
  --limit <n>               at most this many items (default 50)
  --json                    the items as a JSON array
${COMMON}`,
  },
} as const satisfies Record<string, { options: OptionSpec; usage: string }>;

type Subcommand = keyof typeof SUBCOMMANDS;

/** The options of every subcommand, to find the subcommand (and the command) among them. */
export const DEAD_LETTERS_OPTIONS: OptionSpec = Object.assign(
  {},
  ...Object.values(SUBCOMMANDS).map((s) => s.options),
) as OptionSpec;

/** Letters shown per key by `show` unless `--limit` says otherwise. */
const DEFAULT_SHOW_LIMIT = 20;
/** Keys named per redrive function call. */
const KEYS_PER_INVOKE = 10;

/** Runs `tidemark dead-letters <subcommand> …` (`args` after `dead-letters`); returns the exit code. */
export async function deadLetters(args: string[], context: CliContext): Promise<number> {
  const index = firstPositional(args, DEAD_LETTERS_OPTIONS);
  const name = index < 0 ? undefined : args[index];
  if (name === undefined) {
    const unknown = unknownOption(args, DEAD_LETTERS_OPTIONS);
    if (unknown !== undefined) {
      throw new UsageError(
        `unknown option ${unknown}; give a subcommand first (list, show, retry, delete, audit): tidemark dead-letters <subcommand> --help lists its options`,
        DEAD_LETTERS_USAGE,
      );
    }
    if (args.includes('--help') || args.includes('-h')) {
      context.out(DEAD_LETTERS_USAGE);
      return 0;
    }
    throw new UsageError('missing <subcommand>: list, show, retry, delete or audit', DEAD_LETTERS_USAGE);
  }
  if (!(name in SUBCOMMANDS)) {
    throw new UsageError(
      `unknown dead-letters subcommand ${JSON.stringify(name)}; allowed: list, show, retry, delete, audit`,
      DEAD_LETTERS_USAGE,
    );
  }
  const subcommand = name as Subcommand;
  const rest = [...args.slice(0, index), ...args.slice(index + 1)];
  const { usage } = SUBCOMMANDS[subcommand];
  const parsed = parseStrict(rest, SUBCOMMANDS[subcommand].options, usage);
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (values.help) {
    context.out(usage);
    return 0;
  }
  const endpoint = endpointArg(values.endpoint as string | undefined, usage);
  const region = regionArg(values.region as string | undefined, usage);
  const run = { context, usage, values, positionals: parsed.positionals, endpoint, region };
  // Everything about the arguments is checked before the table is named: a usage error never waits on AWS.
  const plan = plans[subcommand](run);
  const target: TableTarget = {
    tableName: tableArg(values.table as string | undefined, context.env, usage),
    endpoint,
    region,
  };
  const client = dynamoDbClient(target, context.env);
  const store = new DynamoDbDeadLetterStore({ tableName: target.tableName, client, clock: context.clock });
  return againstTable(target, client, () => plan(store));
}

interface Run {
  readonly context: CliContext;
  readonly usage: string;
  readonly values: Record<string, string | string[] | boolean | undefined>;
  readonly positionals: string[];
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
}

type Plan = (store: DynamoDbDeadLetterStore) => Promise<number>;

const plans: Record<Subcommand, (run: Run) => Plan> = {
  list: planList,
  show: planShow,
  retry: planRetry,
  delete: planDelete,
  audit: planAudit,
};

function str(run: Run, name: string): string | undefined {
  const value = run.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** The key named by `--key` or `--digest` (not both); undefined when neither is given. */
function namedKey(run: Run, processor: string, topicPartition: string): (ParkedKeyRef & { label: string }) | undefined {
  const key = str(run, 'key');
  const digest = str(run, 'digest');
  if (key !== undefined && digest !== undefined) {
    throw new UsageError('--key and --digest name the same thing: give one of them', run.usage);
  }
  if (digest !== undefined && !/^[A-Za-z0-9_-]{22}$/.test(digest)) {
    throw new UsageError(
      `--digest must be a key digest as list prints it (22 characters of base64url), got ${JSON.stringify(digest)}`,
      run.usage,
    );
  }
  if (key === undefined && digest === undefined) return undefined;
  const partition = topicPartitionArg(topicPartition, run.usage);
  const synthetic = key !== undefined && isSyntheticKey(key);
  return {
    processor,
    ...partition,
    digest: digest ?? keyDigest(key!, synthetic),
    label: key === undefined ? `digest ${digest}` : shownKey(key, synthetic),
  };
}

function where(entry: Pick<ParkedKeyState, 'topic' | 'partition'>): string {
  return topicPartitionId(entry.topic, entry.partition);
}

function entryLabel(entry: ParkedKeyState): string {
  return `${where(entry)} ${shownKey(entry.key, entry.synthetic)} [digest ${entry.digest}]`;
}

function pending(entry: ParkedKeyState): number {
  return Math.max(0, entry.parked - entry.resolved);
}

// ---------------------------------------------------------------------------------------------------------------
// list

function planList(run: Run): Plan {
  const [processor] = positionalArgs(run.positionals, ['<processor>'], run.usage);
  const only = str(run, 'partition');
  if (only !== undefined) topicPartitionArg(only, run.usage);
  return async (store) => {
    const { out, clock } = run.context;
    const now = clock();
    const entries = (await store.listParkedKeys(processor!))
      .filter((entry) => only === undefined || where(entry) === only)
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.since - b.since);
    if (run.values.json) {
      out(
        JSON.stringify(
          entries.map((entry) => ({ topicPartition: where(entry), ...entry, pending: pending(entry) })),
          null,
          2,
        ),
      );
      return 0;
    }
    for (const entry of entries) out(listLine(entry, now));
    const parked = entries.filter(isParked);
    const letters = parked.reduce((n, entry) => n + pending(entry), 0);
    const oldest = parked.reduce((min, entry) => Math.min(min, entry.since), Number.POSITIVE_INFINITY);
    const resolved = entries.length - parked.length;
    out(
      `${count(parked.length, 'parked key')}, ${count(letters, 'letter')}` +
        (parked.length ? `, oldest parked ${ago(oldest, now)}` : '') +
        (resolved ? `; ${count(resolved, 'resolved key')} waiting for its partition's next batch` : '') +
        (only === undefined ? '' : ` (partition ${only})`),
    );
    return 0;
  };
}

/** One parked key as `list` prints it. */
export function listLine(entry: ParkedKeyState, now: number): string {
  if (!isParked(entry)) return `${entryLabel(entry)}: resolved (flows again at the partition's next batch)`;
  const lease =
    entry.lease.until > now
      ? `lease held by ${entry.lease.owner ?? '?'} until ${iso(entry.lease.until)} (${dueIn(entry.lease.until, now)})`
      : 'lease free';
  return [
    `${entryLabel(entry)}: ${count(pending(entry), 'letter')} pending`,
    `parked since ${ago(entry.since, now)}`,
    `redrive attempts ${entry.attempts}`,
    `next attempt ${dueIn(entry.nextAttemptAt, now)}`,
    lease,
    `last error: ${entry.lastError ?? 'none'}`,
  ].join(', ');
}

// ---------------------------------------------------------------------------------------------------------------
// show

function planShow(run: Run): Plan {
  const [processor, topicPartition] = positionalArgs(run.positionals, ['<processor>', '<topic-partition>'], run.usage);
  const partition = topicPartitionArg(topicPartition!, run.usage);
  const named = namedKey(run, processor!, topicPartition!);
  const offsetText = str(run, 'offset');
  const offset = offsetText === undefined ? undefined : wholeNumber(offsetText, '--offset', run.usage);
  const limitText = str(run, 'limit');
  const limit = limitText === undefined ? DEFAULT_SHOW_LIMIT : wholeNumber(limitText, '--limit', run.usage, 1);
  return async (store) => {
    const { out, clock } = run.context;
    const now = clock();
    const entries = (await store.listParkedKeys(processor!)).filter(
      (entry) => entry.topic === partition.topic && entry.partition === partition.partition,
    );
    const targets: Array<{ ref: ParkedKeyRef; label: string; entry: ParkedKeyState | undefined }> = named
      ? [{ ref: named, label: named.label, entry: entries.find((entry) => entry.digest === named.digest) }]
      : entries.map((entry) => ({
          ref: { processor: processor!, ...partition, digest: entry.digest },
          label: shownKey(entry.key, entry.synthetic),
          entry,
        }));
    const shown: Array<{ label: string; ref: ParkedKeyRef; letters: DeadLetter[]; entry?: ParkedKeyState }> = [];
    for (const target of targets) {
      const letters =
        offset === undefined
          ? await store.readLetters(target.ref, { limit })
          : (await store.readLetters(target.ref, { fromOffset: offset, limit: 1 })).filter((l) => l.offset === offset);
      shown.push({ ...target, letters });
    }
    const total = shown.reduce((n, s) => n + s.letters.length, 0);
    if (run.values.json) {
      out(
        JSON.stringify(
          shown.flatMap((s) => s.letters.map(letterJson)),
          null,
          2,
        ),
      );
      return offset !== undefined && total === 0 ? 1 : 0;
    }
    if (targets.length === 0) {
      out(`No parked keys in ${topicPartition} of ${processor}.`);
      return 0;
    }
    for (const { label, ref, letters, entry } of shown) {
      const header = `${topicPartition} ${label} [digest ${ref.digest}]`;
      if (letters.length === 0) {
        out(offset === undefined ? `${header}: no letters` : `${header}: no letter at offset ${offset}`);
        continue;
      }
      const waiting = entry ? pending(entry) : letters.length;
      out(
        offset === undefined
          ? `${header}: ${count(waiting, 'letter')} pending${letters.length < waiting ? `, the first ${letters.length} shown (raise --limit for more)` : ''}`
          : `${header}: the letter at offset ${offset}`,
      );
      for (const letter of letters) for (const line of letterLines(letter, now, offset !== undefined)) out(line);
    }
    return offset !== undefined && total === 0 ? 1 : 0;
  };
}

/** One letter as `show` prints it; `full` (one letter asked for) adds the stack and cuts nothing. */
export function letterLines(letter: DeadLetter, now: number, full: boolean): string[] {
  const limit = full ? undefined : SHOWN_CHARS;
  const lines = [
    `  offset ${letter.offset}  ${iso(letter.timestamp)} (${letter.timestampType})  reason ${letter.reason}  attempts ${letter.attempts}`,
    `    first failure ${iso(letter.firstFailureAt)} (${ago(letter.firstFailureAt, now)}), last failure ${iso(letter.lastFailureAt)} (${ago(letter.lastFailureAt, now)}), parked ${iso(letter.parkedAt)} by epoch ${letter.epoch}`,
    `    error ${letter.error.name}: ${truncate(letter.error.message, limit)}`,
  ];
  if (full && letter.error.stack) {
    lines.push('    stack:');
    for (const line of letter.error.stack.split('\n')) lines.push(`      ${line}`);
  }
  lines.push(`    key ${letter.key === undefined ? '(none)' : shownBytes(letter.key, limit)}`);
  lines.push(`    value ${letter.value === null ? '(null: a tombstone)' : shownBytes(letter.value, limit)}`);
  if (letter.headers.length === 0) lines.push('    headers (none)');
  else {
    lines.push(`    headers (${letter.headers.length}):`);
    for (const header of letter.headers)
      lines.push(`      ${JSON.stringify(header.name)}: ${shownBytes(header.value, limit)}`);
  }
  if (letter.raw !== undefined) lines.push(`    raw entry: ${truncate(letter.raw, limit)}`);
  return lines;
}

/** A letter as JSON: bytes in base64. */
export function letterJson(letter: DeadLetter) {
  return {
    ...letter,
    key: letter.key === undefined ? null : letter.key.toString('base64'),
    value: letter.value === null ? null : letter.value.toString('base64'),
    headers: letter.headers.map((header) => ({ name: header.name, value: header.value.toString('base64') })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// retry

function planRetry(run: Run): Plan {
  const all = run.values.all === true;
  const [processor, topicPartition] = positionalArgs(
    run.positionals,
    all ? ['<processor>'] : ['<processor>', '<topic-partition>'],
    run.usage,
  );
  if (all && (str(run, 'key') !== undefined || str(run, 'digest') !== undefined)) {
    throw new UsageError('--all retries every parked key: give no --key or --digest with it', run.usage);
  }
  const named = all ? undefined : namedKey(run, processor!, topicPartition!);
  if (!all && !named) {
    throw new UsageError(
      'name the key with --key <key> or --digest <digest>, or retry every key with --all',
      run.usage,
    );
  }
  const rateText = str(run, 'rate');
  const rate = rateText === undefined ? 5 : positiveNumber(rateText, '--rate', run.usage);
  const functionName = str(run, 'function') ?? run.context.env.TIDEMARK_REDRIVE_FUNCTION;
  return async (store) => {
    const { out, clock, sleep } = run.context;
    const targets: Array<ParkedKeyRef & { label: string }> = named
      ? [{ ...named, label: `${topicPartition} ${named.label} [digest ${named.digest}]` }]
      : (await store.listParkedKeys(processor!)).filter(isParked).map((entry) => ({
          processor: processor!,
          topic: entry.topic,
          partition: entry.partition,
          digest: entry.digest,
          label: entryLabel(entry),
        }));
    if (targets.length === 0) {
      out(`No parked keys in ${processor}: nothing to retry.`);
      return 0;
    }
    const invoke = run.endpoint ? undefined : functionName;
    if (run.endpoint) {
      out(
        `Local run (--endpoint): there is no redrive function${functionName ? `, so ${functionName} is not invoked` : ''}; the keys are made due now and the local stack's redrive loop picks them up.`,
      );
    }
    const interval = 1000 / rate;
    let due = 0;
    let writes = 0;
    let code = 0;
    for (let start = 0; start < targets.length; start += KEYS_PER_INVOKE) {
      const batch: typeof targets = [];
      for (const target of targets.slice(start, start + KEYS_PER_INVOKE)) {
        if (writes++ > 0) await sleep(interval);
        if (await store.makeDue(target, clock())) {
          due++;
          batch.push(target);
          out(`${due}/${targets.length} keys due`);
        } else {
          out(`${target.label}: not parked (no letters pending), nothing to retry`);
          code = 1;
        }
      }
      if (invoke && batch.length > 0) {
        if ((await invokeRedrive(run.context, run.region, invoke, batch)) !== 0) code = 1;
      }
    }
    if (!invoke && !run.endpoint) {
      out(
        `No redrive function named (--function or TIDEMARK_REDRIVE_FUNCTION): ${count(due, 'key')} will be redriven by the next scheduled redrive run.`,
      );
    }
    return code;
  };
}

/** Invokes the redrive function for some keys and prints each key's outcome; 1 if the call or a key failed. */
async function invokeRedrive(
  context: CliContext,
  region: string | undefined,
  functionName: string,
  keys: ReadonlyArray<ParkedKeyRef & { label: string }>,
): Promise<number> {
  const { out } = context;
  const lambda = context.deps.lambda ?? new LambdaClient(awsClientConfig({ region }));
  const request = {
    action: 'redrive-keys',
    keys: keys.map((key) => ({ topicPartition: topicPartitionId(key.topic, key.partition), digest: key.digest })),
  };
  out(`Invoking ${functionName} for ${count(keys.length, 'key')}…`);
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: Buffer.from(JSON.stringify(request)),
    }),
  );
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
  if (response.FunctionError) {
    let detail = text;
    try {
      const error = JSON.parse(text) as { errorType?: string; errorMessage?: string };
      detail = `${error.errorType ?? 'Error'}: ${error.errorMessage ?? text}`;
    } catch {
      // Not JSON: shown as it came.
    }
    out(`  the redrive function failed (${response.FunctionError}): ${truncate(detail, 500)}`);
    return 1;
  }
  let report: RedriveReport;
  try {
    report = JSON.parse(text) as RedriveReport;
  } catch {
    out(`  the redrive function answered with something other than a redrive report: ${truncate(text, 200)}`);
    return 1;
  }
  let code = 0;
  for (const key of report.keys ?? []) {
    const label = keys.find((k) => k.digest === key.digest)?.label ?? `${key.topicPartition} [digest ${key.digest}]`;
    out(`  ${label}: ${key.outcome}, ${count(key.redriven, 'letter')} redriven${key.detail ? ` (${key.detail})` : ''}`);
    if (key.outcome === 'failed' || key.outcome === 'refused') code = 1;
  }
  return code;
}

// ---------------------------------------------------------------------------------------------------------------
// delete

function planDelete(run: Run): Plan {
  const [processor, topicPartition] = positionalArgs(run.positionals, ['<processor>', '<topic-partition>'], run.usage);
  topicPartitionArg(topicPartition!, run.usage);
  const named = namedKey(run, processor!, topicPartition!);
  if (!named) throw new UsageError('name the key with --key <key> or --digest <digest>', run.usage);
  const offsetTexts = (run.values.offset as string[] | undefined) ?? [];
  const all = run.values.all === true;
  if (all && offsetTexts.length > 0) {
    throw new UsageError('--all deletes every letter of the key: give no --offset with it', run.usage);
  }
  if (!all && offsetTexts.length === 0) {
    throw new UsageError('name the letters: --offset <n> (repeat for more) or --all', run.usage);
  }
  const offsets = offsetTexts.map((text) => wholeNumber(text, '--offset', run.usage));
  const reason = str(run, 'reason')?.trim();
  if (!reason) {
    throw new UsageError(
      '--reason "<why>" is required: it is kept in the audit item of every deleted letter',
      run.usage,
    );
  }
  const by = str(run, 'by')?.trim();
  if (by === '') throw new UsageError('--by must name someone, got ""', run.usage);
  return async (store) => {
    const { out } = run.context;
    const targets = all ? (await store.readLetters(named)).map((letter) => letter.offset) : [...new Set(offsets)];
    const label = `${topicPartition} ${named.label} [digest ${named.digest}]`;
    if (targets.length === 0) {
      out(`${label}: no letters to delete`);
      return 1;
    }
    const who = by ?? (await caller(run));
    let deleted: number;
    try {
      deleted = await store.deleteLetters(named, targets, { by: who, reason });
    } catch (error) {
      if (!(error instanceof RedriveRefusedError)) throw error;
      run.context.err(`tidemark: ${error.message}`);
      return 1;
    }
    const entry = (await store.listParkedKeys(processor!)).find(
      (e) => e.digest === named.digest && e.topic === named.topic && e.partition === named.partition,
    );
    const left = entry ? pending(entry) : 0;
    out(
      `Deleted ${count(deleted, 'letter')} of ${label} (by ${who}: ${reason})` +
        (deleted < targets.length ? `; ${targets.length - deleted} of the named letters were not there` : '') +
        '.',
    );
    out(
      left > 0
        ? `${count(left, 'letter')} still pending: the key flows again once all are resolved.`
        : "All its letters are resolved: the key flows again at the partition's next batch.",
    );
    return deleted > 0 ? 0 : 1;
  };
}

/** Who runs the CLI: the OS user locally, the AWS caller's ARN against AWS. */
async function caller(run: Run): Promise<string> {
  if (run.context.deps.callerIdentity) return run.context.deps.callerIdentity();
  if (run.endpoint) return userInfo().username;
  const identity = await new STSClient(awsClientConfig(run)).send(new GetCallerIdentityCommand({}));
  if (!identity.Arn) throw new Error('STS GetCallerIdentity returned no ARN: pass --by <who>');
  return identity.Arn;
}

// ---------------------------------------------------------------------------------------------------------------
// audit

function planAudit(run: Run): Plan {
  const [processor] = positionalArgs(run.positionals, ['<processor>'], run.usage);
  const limitText = str(run, 'limit');
  const limit = limitText === undefined ? 50 : wholeNumber(limitText, '--limit', run.usage, 1);
  return async (store) => {
    const { out } = run.context;
    const entries = await store.listAudit(processor!, limit);
    if (run.values.json) {
      out(JSON.stringify(entries, null, 2));
      return 0;
    }
    if (entries.length === 0) out(`No audit items for ${processor}.`);
    for (const entry of entries) {
      out(`${iso(entry.at)}  ${entry.action}  ${entry.target}  by ${entry.by}: ${entry.reason}`);
    }
    return 0;
  };
}
