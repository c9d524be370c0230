import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LagSample, PartitionStatus, ProcessorStatus, SegmentStatus } from '../../shared/admin/status-view.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from '../../shared/admin/status-page.js';

/**
 * `ProcessorStatus` fixtures for the status page, and a throwaway server that serves the page with them the way the
 * admin API does (same routes, same answers), so the page can be tested without the local stack.
 */

/** A key and an error message that would run script if the page put them into the DOM as HTML. */
export const HOSTILE_KEY = '<img src=x onerror="window.__xss=1">';
export const HOSTILE_MESSAGE = '<script>window.__xss=2</script> & "quotes"';

/** A live segment `id/mask`, its place in the bar given. */
export function segmentStatus(id: number, mask: number, start: number, overrides: Partial<SegmentStatus> = {}) {
  return {
    name: `${id}/${mask}`,
    id,
    mask,
    fraction: 1 / (mask + 1),
    state: 'active',
    start,
    recordLag: 10 * (id + 1),
    ...overrides,
  } satisfies SegmentStatus;
}

/** A partition of "orders" with a live claim, some lag and two segment positions. */
export function partitionStatus(partition: number, at: number, overrides: Partial<PartitionStatus> = {}) {
  return {
    topic: 'orders',
    partition,
    id: `orders-${partition}`,
    owner: `dispatch-${partition}`,
    epoch: 3 + partition,
    leaseUntil: at + 20_000,
    leaseLive: true,
    layoutVersion: 4,
    updatedAt: at - 1_000,
    position: 1_200 + partition,
    segments: [
      { segment: '0/1', next: 1_200 + partition, outOfOrderRanges: 0 },
      { segment: '1/3', next: 1_230, outOfOrderRanges: 1 },
    ],
    highWater: 1_250 + partition,
    recordLag: 50 - partition,
    timeLagSeconds: 12 + partition,
    lastRecordAt: at - 12_000,
    stalled: false,
    replay: null,
    parkedKeys: 0,
    ...overrides,
  } satisfies PartitionStatus;
}

/** A sample per minute over the last hour, lag rising then falling. */
export function lagHistory(partitionIds: readonly string[], at: number): LagSample[] {
  return Array.from({ length: 60 }, (_, minute) => ({
    at: at - (59 - minute) * 60_000,
    partitions: Object.fromEntries(
      partitionIds.map((id, i) => [
        id,
        {
          position: 1_000 + minute * 3,
          recordLag: Math.round(40 + 30 * Math.sin(minute / 9) + i * 5),
          timeLagSeconds: Math.round(10 + 8 * Math.sin(minute / 7) + i),
        },
      ]),
    ),
  }));
}

/**
 * A processor with three segments (`0/1`, `1/3`, `3/3`) and two partitions of "orders"; `orders-1` is stalled, a
 * key with HTML in it is parked and the last error's message carries a script tag.
 */
export function processorStatus(overrides: Partial<ProcessorStatus> = {}): ProcessorStatus {
  const at = overrides.at ?? Date.now();
  const partitions = overrides.partitions ?? [
    partitionStatus(0, at),
    partitionStatus(1, at, { stalled: true, timeLagSeconds: 340, recordLag: 900, parkedKeys: 1 }),
  ];
  return {
    processor: 'orders-view',
    at,
    layout: {
      version: 4,
      segments: [segmentStatus(0, 1, 0), segmentStatus(1, 3, 0.5), segmentStatus(3, 3, 0.75)],
      change: null,
    },
    eventSource: {
      paused: false,
      mappings: [{ topic: 'orders', id: 'esm-1', state: 'Enabled', lastModified: at - 3_600_000 }],
    },
    partitions,
    parkedKeys: [
      {
        topic: 'orders',
        partition: 1,
        key: HOSTILE_KEY,
        digest: 'd1',
        parked: 3,
        resolved: 1,
        since: at - 600_000,
        nextAttemptAt: at + 30_000,
      },
    ],
    skips: [{ topic: 'orders', partition: 0, from: 17, to: 19, at: at - 900_000 }],
    lastErrors: [
      {
        topic: 'orders',
        partition: 1,
        offset: 1_201,
        key: HOSTILE_KEY,
        at: at - 60_000,
        error: { name: 'TypeError', message: HOSTILE_MESSAGE },
      },
    ],
    lagHistory: lagHistory(
      partitions.map((p) => p.id),
      at,
    ),
    warnings: partitions
      .filter((p) => p.stalled)
      .map((p) => ({
        kind: 'stalled' as const,
        message: `${p.id} is stalled at ${p.position} with ${p.recordLag} records of lag`,
        topic: p.topic,
        partition: p.partition,
      })),
    totals: {
      recordLag: partitions.reduce((sum, p) => sum + (p.recordLag ?? 0), 0),
      maxTimeLagSeconds: Math.max(...partitions.map((p) => p.timeLagSeconds ?? 0)),
      stalledPartitions: partitions.filter((p) => p.stalled).length,
      parkedKeys: 1,
    },
    lagUnavailable: null,
    ...overrides,
  };
}

/** A request the fixture server received for a command. */
export interface CommandRequest {
  readonly command: string;
  readonly processor: string;
  readonly body: unknown;
}

/** What the fixture server answers for a command instead of accepting it. */
export interface CommandRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** The throwaway admin API: the page, the processor list, the status, commands and operations. */
export interface FixtureServer {
  readonly url: string;
  /** The status served; replace it to change what the next refresh sees. */
  status: ProcessorStatus;
  /** While set, `GET …/status` answers this error. */
  failStatus: CommandRefusal | null;
  /** While set, every command answers this error. */
  refuseCommands: CommandRefusal | null;
  /** Every command received, in order. */
  readonly commands: CommandRequest[];
  close(): Promise<void>;
}

interface Operation {
  id: string;
  command: string;
  polls: number;
  request: CommandRequest;
}

/** Splits a segment of the fixture's layout in place, as a finished split would leave it. */
export function splitInStatus(status: ProcessorStatus, name: string): ProcessorStatus {
  const segments = status.layout.segments.flatMap((s) => {
    if (s.name !== name) return [s];
    const mask = s.mask * 2 + 1;
    return [
      segmentStatus(s.id, mask, s.start, { recordLag: 0 }),
      segmentStatus(s.id + s.mask + 1, mask, s.start + s.fraction / 2, { recordLag: 0 }),
    ];
  });
  return { ...status, layout: { ...status.layout, version: status.layout.version + 1, segments } };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function bodyOf(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

/**
 * Serves the page and `status` on 127.0.0.1. Commands are accepted (202), run for two polls of their operation and
 * succeed; a split also splits the segment in `status`. A reset with `dryRun` answers a plan of every partition.
 */
export async function startFixtureServer(status: ProcessorStatus = processorStatus()): Promise<FixtureServer> {
  const operations = new Map<string, Operation>();
  // Its url and close are set once the server listens, before any request can arrive.
  const state: { -readonly [K in keyof FixtureServer]: FixtureServer[K] } = {
    url: '',
    status,
    failStatus: null,
    refuseCommands: null,
    commands: [],
    close: async () => undefined,
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'GET' && pathname === '/') {
      response.writeHead(200, STATUS_PAGE_HEADERS);
      response.end(STATUS_PAGE_HTML);
      return;
    }
    if (request.method === 'GET' && pathname === '/api/processors') {
      const s = state.status;
      send(response, 200, {
        processors: [
          {
            name: s.processor,
            layoutVersion: s.layout.version,
            segments: s.layout.segments.length,
            paused: s.eventSource.paused,
          },
        ],
      });
      return;
    }
    const statusMatch = /^\/api\/processors\/([^/]+)\/status$/.exec(pathname);
    if (request.method === 'GET' && statusMatch) {
      const name = decodeURIComponent(statusMatch[1]!);
      if (state.failStatus) {
        const { status: code, ...error } = state.failStatus;
        send(response, code, { error });
      } else if (name !== state.status.processor) {
        send(response, 404, { error: { code: 'UnknownProcessor', message: `no processor named "${name}"` } });
      } else send(response, 200, { ...state.status, at: Date.now() });
      return;
    }
    const commandMatch = /^\/api\/processors\/([^/]+)\/(split|merge|scale|pause|resume|reset)$/.exec(pathname);
    if (request.method === 'POST' && commandMatch) {
      const command: CommandRequest = {
        processor: decodeURIComponent(commandMatch[1]!),
        command: commandMatch[2]!,
        body: await bodyOf(request),
      };
      state.commands.push(command);
      if (state.refuseCommands) {
        const { status: code, ...error } = state.refuseCommands;
        send(response, code, { error });
        return;
      }
      const body = command.body as { dryRun?: boolean; clearParked?: boolean } | undefined;
      if (command.command === 'reset' && body?.dryRun) {
        send(response, 200, {
          plan: {
            partitions: state.status.partitions.map((p) => ({
              topic: p.topic,
              partition: p.partition,
              from: p.position,
              to: 0,
              records: p.position ?? 0,
            })),
            clearParked: body.clearParked ?? false,
          },
        });
        return;
      }
      const id = `op-${operations.size + 1}`;
      operations.set(id, { id, command: command.command, polls: 0, request: command });
      send(response, 202, { operationId: id, status: 'accepted', statusUrl: `/api/operations/${id}` });
      return;
    }
    const operationMatch = /^\/api\/operations\/([^/]+)$/.exec(pathname);
    if (request.method === 'GET' && operationMatch) {
      const operation = operations.get(decodeURIComponent(operationMatch[1]!));
      if (!operation) {
        send(response, 404, { error: { code: 'NotFound', message: 'no such operation' } });
        return;
      }
      operation.polls++;
      const done = operation.polls >= 2;
      if (done && operation.polls === 2 && operation.command === 'split') {
        state.status = splitInStatus(state.status, (operation.request.body as { segment: string }).segment);
      }
      send(response, 200, {
        id: operation.id,
        processor: operation.request.processor,
        command: operation.command,
        args: operation.request.body,
        status: done ? 'succeeded' : 'running',
        principal: 'local',
        createdAt: Date.now(),
        updatedAt: Date.now(),
        ...(done ? { result: { layoutVersion: state.status.layout.version } } : {}),
      });
      return;
    }
    send(response, 404, { error: { code: 'NotFound', message: `no route ${request.method} ${pathname}` } });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) =>
      send(response, 500, { error: { code: 'Internal', message: String(error) } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
