/**
 * The admin API and status page behind a plain HTTP server on loopback: the same routes and stores the admin Lambda
 * serves, with operations run in this process and lag sampled on a timer. The local stack
 * (`npm start -- --admin-port <port>`) and `tidemark console --endpoint …` start it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handleAdminRequest, type AdminBackend, type AdminProcessor, type ResetService } from './admin-api.js';
import { adminStores } from './admin-stores.js';
import { sampleLag } from './lag-sampler.js';
import { InProcessOperationRunner } from './local-operation-runner.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from './status-page.js';
import type { KafkaAdmin } from '../kafka/kafka-admin.js';
import { describeError, silentLogger, type Logger } from '../observability/logger.js';
import type { EventSourceControl } from '../operations/event-source-control.js';

export interface AdminServerOptions {
  /** A client for the token table's DynamoDB (not destroyed on close). */
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly processors: readonly AdminProcessor[];
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** The cluster, for record lag and resets. */
  readonly kafka?: KafkaAdmin;
  /** Pause and resume of what delivers each processor's records. */
  readonly eventSources?: (processor: string) => EventSourceControl | undefined;
  readonly resets?: ResetService;
  /** Runs a reset's state machine input in this process (from the reset service). */
  readonly runReset?: (input: Readonly<Record<string, unknown>>, executionName: string) => Promise<unknown>;
  /** How often lag is sampled; 0 turns sampling off. @default 5000 */
  readonly sampleIntervalMs?: number;
  /** Position unchanged with lag this long counts as stalled. @default 30000 */
  readonly stallWindowMs?: number;
  /** The dispatchers' layout bound, for layout changes run here. @default 5000 */
  readonly layoutTtlMs?: number;
  /** Who the audit items name. @default `local:<OS user>` */
  readonly principal?: string;
  readonly logger?: Logger;
}

export interface AdminServer {
  /** `http://host:port`: the status page; the API under `/api`. */
  readonly url: string;
  /** Takes a lag sample now (besides the timer's). */
  sampleNow(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the admin server; resolves once it listens. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const client = options.client;
  const stores = adminStores(options.tableName, client);
  const logger = options.logger ?? silentLogger;
  const stallWindowMs = options.stallWindowMs ?? 30_000;
  const backend: AdminBackend = {
    processors: options.processors,
    ...stores,
    runner: new InProcessOperationRunner({
      tokens: stores.tokens,
      layoutTtlMs: options.layoutTtlMs ?? 5_000,
      ...(options.runReset ? { reset: options.runReset } : {}),
    }),
    ...(options.kafka ? { kafka: () => Promise.resolve(options.kafka!) } : {}),
    ...(options.eventSources ? { eventSources: options.eventSources } : {}),
    ...(options.resets ? { resets: options.resets } : {}),
    page: { html: STATUS_PAGE_HTML, headers: STATUS_PAGE_HEADERS },
    stallWindowMs,
    logger,
  };
  const principal = options.principal ?? `local:${userInfo().username}`;

  const server = createServer((req, res) => {
    serve(req, res, backend, principal).catch((error: unknown) => {
      logger.error('admin server failed to answer', { error: describeError(error) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;

  const sampleNow = async () => {
    for (const processor of options.processors) {
      await sampleLag(
        {
          ...stores,
          topics: processor.topics,
          ...(options.kafka ? { kafka: options.kafka } : {}),
          ...(options.eventSources?.(processor.name) ? { eventSources: options.eventSources(processor.name)! } : {}),
        },
        processor.name,
        { stallWindowMs },
      );
    }
  };
  const interval = options.sampleIntervalMs ?? 5_000;
  let sampling: Promise<void> = Promise.resolve();
  const timer =
    interval > 0
      ? setInterval(() => {
          sampling = sampleNow().catch((error: unknown) => {
            // A processor not initialised yet has nothing to sample; anything else is worth a line.
            logger.debug('lag sample failed', { error: describeError(error) });
          });
        }, interval)
      : undefined;
  timer?.unref();

  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    sampleNow,
    async close() {
      if (timer) clearInterval(timer);
      await sampling;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, backend: AdminBackend, principal: string) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]),
  );
  const response = await handleAdminRequest(
    {
      method: req.method ?? 'GET',
      path: url.pathname,
      headers,
      body: chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined,
      principal,
    },
    backend,
  );
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}
