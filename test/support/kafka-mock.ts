import { spawn as spawnProcess, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * A Kafka-protocol broker for tests and the local stack: librdkafka's mock cluster, run as a child process built
 * from `scripts/kafka-mock/mock-cluster.c` (see docs/decisions/0005-kafka-mock-broker.md for what it can and
 * cannot do).
 */

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The C source of the mock cluster program. */
export const KAFKA_MOCK_SOURCE = join(REPO_ROOT, 'scripts', 'kafka-mock', 'mock-cluster.c');
/** Where the compiled program is kept between runs. */
export const KAFKA_MOCK_BINARY = join(REPO_ROOT, 'node_modules', '.cache', 'tidemark', 'mock-cluster');

const INSTALL_HINT =
  "install librdkafka's development files with `scripts/install-kafka-mock.sh` (Debian/Ubuntu: `apt-get install librdkafka-dev`)";

/** Raised when the mock cluster cannot be built or started; the message says what to install or fix. */
export class KafkaMockError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaMockError';
  }
}

/** A topic the mock cluster creates at start-up (the mock does not support admin `createTopics`). */
export interface KafkaMockTopic {
  readonly topic: string;
  /** From 1 to 100000. */
  readonly partitions: number;
}

/** Options of {@link startKafkaMock}. */
export interface KafkaMockOptions {
  /** The topics to create, with their partition counts. At least one. */
  readonly topics: readonly KafkaMockTopic[];
  /** Brokers in the cluster, from 1 to 16; topics get a replication factor of min(brokerCount, 3). @default 1 */
  readonly brokerCount?: number;
  /** How long to wait for the program to print its bootstrap servers. @default 10000 */
  readonly startTimeoutMs?: number;
}

/** A running mock cluster. */
export interface KafkaMock {
  /** `host:port` of every broker, all on loopback; pass them to kafkajs as `brokers`. */
  readonly brokers: string[];
  /** Stops the cluster: SIGTERM, then SIGKILL if it has not exited within a second. Safe to call twice. */
  stop(): Promise<void>;
}

const run = promisify(execFile);

function modifiedMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Compiles the mock cluster program unless an up-to-date build is already cached (the binary is newer than the
 * source), and returns its path. Uses `$CC` (default `cc`) and links `-lrdkafka`. Concurrent callers (vitest
 * workers) are safe: each compiles to a file of its own and renames it into place.
 *
 * Throws KafkaMockError, naming the missing package, when the compiler or librdkafka's headers are absent.
 */
export async function buildKafkaMock(): Promise<string> {
  const source = modifiedMs(KAFKA_MOCK_SOURCE);
  if (source === undefined) throw new KafkaMockError(`the mock cluster source ${KAFKA_MOCK_SOURCE} is missing`);
  const binary = modifiedMs(KAFKA_MOCK_BINARY);
  if (binary !== undefined && binary >= source) return KAFKA_MOCK_BINARY;

  mkdirSync(dirname(KAFKA_MOCK_BINARY), { recursive: true });
  const partial = `${KAFKA_MOCK_BINARY}.${process.pid}.${Date.now()}.tmp`;
  const compiler = process.env.CC ?? 'cc';
  try {
    await run(compiler, ['-O2', '-Wall', '-o', partial, KAFKA_MOCK_SOURCE, '-lrdkafka'], { timeout: 120_000 });
  } catch (error) {
    rmSync(partial, { force: true });
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') {
      const reason = `cannot build the Kafka mock broker: no C compiler "${compiler}" on PATH; ${INSTALL_HINT}`;
      throw new KafkaMockError(reason, { cause: error });
    }
    const stderr = (failure.stderr ?? '').trim();
    const missing = /librdkafka\/rdkafka(_mock)?\.h|-lrdkafka|cannot find -lrdkafka/.test(stderr);
    throw new KafkaMockError(
      missing
        ? `cannot build the Kafka mock broker: librdkafka is not installed; ${INSTALL_HINT}\n${stderr}`
        : `cannot build the Kafka mock broker (${compiler} ${KAFKA_MOCK_SOURCE} -lrdkafka failed):\n${stderr}`,
      { cause: error },
    );
  }
  renameSync(partial, KAFKA_MOCK_BINARY);
  return KAFKA_MOCK_BINARY;
}

function validate(options: KafkaMockOptions): void {
  if (options.topics.length === 0) throw new KafkaMockError('the mock cluster needs at least one topic, got none');
  for (const { topic, partitions } of options.topics) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) {
      throw new KafkaMockError(
        `topic names are 1 to 249 of letters, digits, ".", "_" and "-", got ${JSON.stringify(topic)}`,
      );
    }
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 100_000) {
      throw new KafkaMockError(`partitions of "${topic}" must be a whole number from 1 to 100000, got ${partitions}`);
    }
  }
  const brokers = options.brokerCount ?? 1;
  if (!Number.isInteger(brokers) || brokers < 1 || brokers > 16) {
    throw new KafkaMockError(`brokerCount must be a whole number from 1 to 16, got ${brokers}`);
  }
}

/**
 * Builds (if needed) and starts a librdkafka mock cluster with the given topics, on loopback ports chosen by the
 * system, and resolves once it has printed its bootstrap servers.
 *
 * The program exits by itself when its stdin closes, so a crashed Node process does not leave brokers behind;
 * still, always call `stop()`.
 */
export async function startKafkaMock(options: KafkaMockOptions): Promise<KafkaMock> {
  validate(options);
  const binary = await buildKafkaMock();
  const args = [
    '--brokers',
    String(options.brokerCount ?? 1),
    ...options.topics.map(({ topic, partitions }) => `${topic}:${partitions}`),
  ];
  const child = spawnProcess(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    // Keep the tail only: librdkafka may log for as long as the cluster runs.
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = once(async () => {
    await terminate(child, exited);
  });

  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let line: string;
  try {
    line = await firstLine(child, timeoutMs, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  const brokers = line
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  const notLoopback = brokers.filter((broker) => !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(broker));
  if (brokers.length === 0 || notLoopback.length > 0) {
    await stop();
    throw new KafkaMockError(`the mock cluster printed unexpected bootstrap servers ${JSON.stringify(line)}`);
  }
  return { brokers, stop };
}

function firstLine(child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const stdout = child.stdout!;
    stdout.setEncoding('utf8');
    const finish = (outcome: () => void) => {
      clearTimeout(timer);
      stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      outcome();
    };
    const onData = (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end !== -1) finish(() => resolve(buffered.slice(0, end).trim()));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      finish(() =>
        reject(
          new KafkaMockError(
            `the mock cluster exited during start-up (${signal ?? `code ${code}`}): ${stderr().trim() || 'no output'}` +
              (/shared librar/.test(stderr()) ? `; ${INSTALL_HINT}` : ''),
          ),
        ),
      );
    const onError = (error: Error) =>
      finish(() => reject(new KafkaMockError(`cannot start the mock cluster: ${error.message}`, { cause: error })));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new KafkaMockError(`the mock cluster printed no bootstrap servers within ${timeoutMs} ms`)),
        ),
      timeoutMs,
    );
    stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
    // The program drains stdout only once; keep reading so a chatty child never blocks on a full pipe.
    stdout.on('data', () => undefined);
  });
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 1_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
    child.stdin?.destroy();
  }
}

function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}
