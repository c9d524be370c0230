import { changeExecutionName, planChange, planScaleStep } from '../coordination/layout-change.js';
import type { LayoutChangeRequest } from '../coordination/change-layout.js';
import { ConfigurationError, LayoutConflictError, LayoutError, UnknownProcessorError } from '../errors.js';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store.js';
import type { KafkaAdmin } from '../kafka/kafka-admin.js';
import { describeError, silentLogger, type Logger } from '../observability/logger.js';
import type { EventSourceControl } from '../operations/event-source-control.js';
import { LayoutOperation } from '../routing/layout.js';
import type { TokenStore } from '../tokens/token-store.js';
import { ResetConflictError, ResetRequestError } from '../reset/reset-errors.js';
import { AdminRequestError } from './admin-error.js';
import type { DynamoDbLagHistory } from './lag-history.js';
import type { OperationRunner, OperationWork } from './operation-runner.js';
import {
  processorOfOperation,
  type AdminCommand,
  type DynamoDbOperationStore,
  type Operation,
} from './operation-store.js';
import { readKafkaEnds, readProcessorStatus } from './read-status.js';

/** An HTTP request as the admin API sees it, whatever carried it (a Lambda function URL, the local server). */
export interface AdminRequest {
  readonly method: string;
  /** The path without the query, e.g. `/api/processors/orders/status`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string | undefined;
  /** The caller, as IAM authenticated it (the principal ARN); kept in every audit item. */
  readonly principal: string;
}

export interface AdminResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A processor the API serves: its name and topics. */
export interface AdminProcessor {
  readonly name: string;
  readonly topics: readonly string[];
}

/** The reset side the API calls: plans (dry runs) and the input its state machine takes. */
export interface ResetService {
  /** Checks the request and plans it against the token and Kafka; throws a typed error naming what is wrong. */
  plan(processor: string, request: ResetRequestBody): Promise<unknown>;
  /** The state machine input and execution name of an accepted reset (the name derives from the operation id). */
  work(operation: Operation, request: ResetRequestBody): OperationWork;
}

/** `POST /api/processors/{name}/reset` body. */
export interface ResetRequestBody {
  readonly to: string;
  readonly partitions?: readonly string[];
  readonly segments?: readonly string[];
  readonly clearParked?: boolean;
  readonly dryRun?: boolean;
}

/** What the admin API runs on. */
export interface AdminBackend {
  readonly processors: readonly AdminProcessor[];
  readonly tokens: TokenStore;
  readonly deadLetters: DeadLetterStore;
  readonly operations: DynamoDbOperationStore;
  readonly lagHistory: DynamoDbLagHistory;
  readonly runner: OperationRunner;
  /** The cluster, for record lag and resets; absent when the admin side has no Kafka access. */
  readonly kafka?: () => Promise<KafkaAdmin>;
  /** Pause and resume; absent when the mappings are not known. */
  readonly eventSources?: (processor: string) => EventSourceControl | undefined;
  readonly resets?: ResetService;
  /** The status page, served at `/` with its headers (content type, Content-Security-Policy). */
  readonly page?: { readonly html: string; readonly headers: Readonly<Record<string, string>> };
  readonly stallWindowMs?: number;
  readonly logger?: Logger;
  readonly clock?: () => number;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
const COMMANDS: readonly AdminCommand[] = ['split', 'merge', 'scale', 'reset', 'pause', 'resume'];

/**
 * Answers one admin API request. Every refusal is a 4xx with `{"error":{"code","message"}}` naming what was wrong;
 * an unexpected failure is a 500 with the error's name and message (and is logged).
 */
export async function handleAdminRequest(request: AdminRequest, backend: AdminBackend): Promise<AdminResponse> {
  try {
    return await route(request, backend);
  } catch (error) {
    const refusal = asRefusal(error);
    if (refusal) return json(refusal.status, { error: { code: refusal.code, message: refusal.message } });
    (backend.logger ?? silentLogger).error('admin request failed', { path: request.path, error: describeError(error) });
    const { name, message } = describeError(error);
    return json(500, { error: { code: 'Internal', message: `${name}: ${message}` } });
  }
}

async function route(request: AdminRequest, backend: AdminBackend): Promise<AdminResponse> {
  const { method, path } = request;
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'index.html')) {
    allow(method, 'GET');
    if (!backend.page) throw new AdminRequestError('NotFound', 'this API serves no status page; the API is under /api');
    return { status: 200, headers: backend.page.headers, body: backend.page.html };
  }
  if (parts[0] !== 'api') throw new AdminRequestError('NotFound', `no such path ${path}; the API is under /api`);
  if (parts[1] === 'processors' && parts.length === 2) {
    allow(method, 'GET');
    return json(200, { processors: await listProcessors(backend) });
  }
  if (parts[1] === 'processors' && parts.length === 4) {
    const processor = processorOf(backend, parts[2]!);
    const action = parts[3]!;
    if (action === 'status') {
      allow(method, 'GET');
      return json(200, await status(backend, processor));
    }
    if ((COMMANDS as readonly string[]).includes(action)) {
      allow(method, 'POST');
      return command(backend, processor, action as AdminCommand, request);
    }
    throw new AdminRequestError(
      'NotFound',
      `no such action ${JSON.stringify(action)}; allowed: status (GET), ${COMMANDS.join(', ')} (POST)`,
    );
  }
  if (parts[1] === 'operations' && parts.length === 3) {
    allow(method, 'GET');
    return json(200, await followOperation(backend, parts[2]!));
  }
  throw new AdminRequestError(
    'NotFound',
    `no such path ${path}; allowed: /api/processors, /api/processors/{name}/status, /api/processors/{name}/{${COMMANDS.join('|')}}, /api/operations/{id}`,
  );
}

async function listProcessors(backend: AdminBackend) {
  return Promise.all(
    backend.processors.map(async ({ name }) => {
      try {
        const layout = await backend.tokens.readLayout(name);
        const mappings =
          (await backend
            .eventSources?.(name)
            ?.describe()
            .catch(() => [])) ?? [];
        return {
          name,
          layoutVersion: layout.version,
          segments: layout.segments.length,
          paused: mappings.length > 0 && mappings.every((m) => m.state === 'Disabled' || m.state === 'Disabling'),
          initialised: true,
        };
      } catch (error) {
        if (!(error instanceof UnknownProcessorError)) throw error;
        return { name, layoutVersion: 0, segments: 0, paused: false, initialised: false };
      }
    }),
  );
}

async function status(backend: AdminBackend, processor: AdminProcessor) {
  const kafka = await connectKafka(backend);
  return readProcessorStatus(
    {
      tokens: backend.tokens,
      deadLetters: backend.deadLetters,
      lagHistory: backend.lagHistory,
      eventSources: backend.eventSources?.(processor.name),
      topics: processor.topics,
      ...(backend.clock ? { clock: backend.clock } : {}),
    },
    processor.name,
    {
      ...(backend.stallWindowMs === undefined ? {} : { stallWindowMs: backend.stallWindowMs }),
      ends: kafka.admin
        ? await readKafkaEnds(kafka.admin, processor.topics)
        : { watermarks: new Map(), unavailable: kafka.unavailable },
    },
  );
}

/** The cluster, or why it cannot be reached; a status view without it still shows everything DynamoDB holds. */
async function connectKafka(backend: AdminBackend): Promise<{ admin?: KafkaAdmin; unavailable: string }> {
  if (!backend.kafka) return { unavailable: 'no Kafka access is configured for the admin side' };
  try {
    return { admin: await backend.kafka(), unavailable: '' };
  } catch (error) {
    const { name, message } = describeError(error);
    return { unavailable: `the cluster could not be reached (${name}: ${message})` };
  }
}

async function command(
  backend: AdminBackend,
  processor: AdminProcessor,
  name: AdminCommand,
  request: AdminRequest,
): Promise<AdminResponse> {
  const body = parseBody(request.body);
  const idempotencyKey = request.headers['idempotency-key'];
  // A dry run changes nothing and is never a repeat: it always answers the plan as things stand.
  const dryRun = name === 'reset' && body.dryRun !== false;
  const repeat = dryRun
    ? undefined
    : await backend.operations.findRepeat({
        processor: processor.name,
        command: name,
        args: requestArgs(name, body),
        ...(idempotencyKey ? { idempotencyKey } : {}),
      });
  if (repeat) return json(202, { ...accepted(repeat), duplicate: true });
  const layout = await backend.tokens.readLayout(processor.name);
  let args: Record<string, unknown>;
  let fingerprint: string;
  let work: ((operation: Operation) => OperationWork) | undefined;
  switch (name) {
    case 'split':
    case 'merge': {
      const segment = stringField(body, 'segment', 'a segment name such as 0/1');
      planChange(layout, name === 'split' ? LayoutOperation.Split : LayoutOperation.Merge, segment);
      args = { segment, layoutVersion: layout.version };
      fingerprint = `${name}|${segment}|v${layout.version}`;
      const changeRequest: LayoutChangeRequest = { processor: processor.name, operation: name, segment };
      const executionName = changeExecutionName(processor.name, name, segment, layout.version);
      work = () => ({ kind: 'layout', request: changeRequest, executionName });
      break;
    }
    case 'scale': {
      const segments = body.segments;
      if (typeof segments !== 'number' || !Number.isInteger(segments)) {
        throw new AdminRequestError(
          'BadRequest',
          `"segments" must be a whole number of segments, got ${JSON.stringify(segments)}`,
        );
      }
      const step = planScaleStep(layout, segments);
      args = { segments, layoutVersion: layout.version };
      fingerprint = `scale|${segments}|v${layout.version}`;
      const executionName = changeExecutionName(processor.name, 'scale', String(segments), layout.version);
      work = step
        ? () => ({
            kind: 'layout',
            request: { processor: processor.name, operation: 'scale', segments },
            executionName,
          })
        : undefined;
      break;
    }
    case 'pause':
    case 'resume': {
      if (!backend.eventSources?.(processor.name)) {
        throw new AdminRequestError(
          'Unavailable',
          `the event source mappings of "${processor.name}" are not known to this API`,
        );
      }
      args = {};
      fingerprint = name;
      break;
    }
    case 'reset': {
      const resets = backend.resets;
      if (!resets)
        throw new AdminRequestError(
          'Unavailable',
          'reset is not available on this admin API: it needs Kafka access and a reset runner (TrackingProcessor deploys both, except for mTLS clusters; locally, run tidemark reset --endpoint <url> --brokers <host:port>)',
        );
      const reset = resetBody(body);
      const plan = await resets.plan(processor.name, reset);
      if (reset.dryRun !== false) return json(200, { dryRun: true, plan });
      args = {
        to: reset.to,
        partitions: reset.partitions ?? null,
        segments: reset.segments ?? null,
        clearParked: reset.clearParked ?? false,
      };
      fingerprint = `reset|${JSON.stringify(args)}`;
      work = (operation) => resets.work(operation, reset);
      break;
    }
  }
  const { operation, created } = await backend.operations.accept({
    processor: processor.name,
    command: name,
    args,
    fingerprint,
    principal: request.principal,
    ...(idempotencyKey ? { idempotencyKey } : {}),
  });
  const current = created ? await start(backend, operation, work) : operation;
  return json(202, { ...accepted(current), duplicate: !created });
}

/** Starts an accepted operation's work; pause and resume are done here and then followed. */
async function start(
  backend: AdminBackend,
  operation: Operation,
  work: ((operation: Operation) => OperationWork) | undefined,
): Promise<Operation> {
  try {
    if (operation.command === 'pause' || operation.command === 'resume') {
      await backend.eventSources!(operation.processor)!.setEnabled(operation.command === 'resume');
      return backend.operations.update(operation, ['accepted'], { status: 'running', run: operation.command });
    }
    if (!work) {
      return backend.operations.update(operation, ['accepted'], { status: 'succeeded', result: { unchanged: true } });
    }
    const run = await backend.runner.start(operation, work(operation));
    return backend.operations.update(operation, ['accepted'], { status: 'running', run });
  } catch (error) {
    return backend.operations.update(operation, ['accepted'], { status: 'failed', error: describeError(error) });
  }
}

/** Reads an operation and moves it on: an accepted one is started (a crash came between), a running one followed. */
async function followOperation(backend: AdminBackend, id: string): Promise<Operation> {
  const processor = processorOfOperation(id);
  const operation = processor === undefined ? undefined : await backend.operations.get(id);
  if (!operation) throw new AdminRequestError('NotFound', `no operation ${JSON.stringify(id)}`);
  if (operation.status === 'accepted') {
    const now = (backend.clock ?? Date.now)();
    // The request that accepted it may still be starting it; after a while it crashed, so start it here.
    if (now - operation.updatedAt < 30_000) return operation;
    const config = backend.processors.find((p) => p.name === operation.processor);
    if (!config) return operation;
    const work = await rebuildWork(backend, operation);
    return start(backend, operation, work);
  }
  if (operation.status !== 'running' || !operation.run) return operation;
  if (operation.command === 'pause' || operation.command === 'resume') {
    const target = operation.command === 'pause' ? 'Disabled' : 'Enabled';
    const mappings = (await backend.eventSources?.(operation.processor)?.describe()) ?? [];
    if (mappings.every((m) => m.state === target)) {
      return backend.operations.update(operation, ['running'], { status: 'succeeded', result: { mappings } });
    }
    return operation;
  }
  const state = await backend.runner.describe(operation.run);
  if (state.status === 'running') return operation;
  return backend.operations.update(operation, ['running'], {
    status: state.status,
    ...(state.result === undefined ? {} : { result: state.result }),
    ...(state.error ? { error: state.error } : {}),
  });
}

async function rebuildWork(
  backend: AdminBackend,
  operation: Operation,
): Promise<((operation: Operation) => OperationWork) | undefined> {
  const { processor, command, args } = operation;
  if (command === 'pause' || command === 'resume') return undefined;
  if (command === 'reset') {
    const resets = backend.resets!;
    return (op) => resets.work(op, args as unknown as ResetRequestBody);
  }
  // The layout may have moved on since: the execution name keeps the version the command was accepted at.
  const version = Number(args.layoutVersion);
  if (command === 'scale') {
    const segments = Number(args.segments);
    const executionName = changeExecutionName(processor, 'scale', String(segments), version);
    return () => ({ kind: 'layout', request: { processor, operation: 'scale', segments }, executionName });
  }
  const segment = String(args.segment);
  const executionName = changeExecutionName(processor, command, segment, version);
  return () => ({ kind: 'layout', request: { processor, operation: command, segment }, executionName });
}

/** The arguments a request names, before they are checked: what a repeat of it must match. */
function requestArgs(name: AdminCommand, body: Record<string, unknown>): Record<string, unknown> {
  switch (name) {
    case 'split':
    case 'merge':
      return { segment: body.segment };
    case 'scale':
      return { segments: body.segments };
    case 'pause':
    case 'resume':
      return {};
    case 'reset':
      return {
        to: body.to,
        partitions: body.partitions ?? null,
        segments: body.segments ?? null,
        clearParked: body.clearParked ?? false,
      };
  }
}

function accepted(operation: Operation) {
  return {
    operationId: operation.id,
    status: operation.status,
    statusUrl: `/api/operations/${encodeURIComponent(operation.id)}`,
    operation,
  };
}

function processorOf(backend: AdminBackend, name: string): AdminProcessor {
  const processor = backend.processors.find((p) => p.name === name);
  if (!processor) {
    throw new AdminRequestError(
      'UnknownProcessor',
      `unknown processor ${JSON.stringify(name)}; this API serves: ${backend.processors.map((p) => p.name).join(', ') || 'none'}`,
    );
  }
  return processor;
}

function allow(method: string, expected: string): void {
  if (method !== expected)
    throw new AdminRequestError('MethodNotAllowed', `${method} is not allowed here; use ${expected}`);
}

function parseBody(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AdminRequestError('BadRequest', 'the body is not JSON; send a JSON object, e.g. {"segment":"0/1"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AdminRequestError('BadRequest', `the body must be a JSON object, got ${JSON.stringify(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, field: string, what: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') {
    throw new AdminRequestError('BadRequest', `"${field}" must be ${what}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function resetBody(body: Record<string, unknown>): ResetRequestBody {
  const to = stringField(body, 'to', 'earliest, latest, an ISO datetime, offset:<n> or shift:<±n>');
  const list = (field: string): string[] | undefined => {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new AdminRequestError('BadRequest', `"${field}" must be a list of strings, got ${JSON.stringify(value)}`);
    }
    return value as string[];
  };
  const flag = (field: string): boolean | undefined => {
    const value = body[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      throw new AdminRequestError('BadRequest', `"${field}" must be true or false, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const partitions = list('partitions');
  const segments = list('segments');
  const clearParked = flag('clearParked');
  const dryRun = flag('dryRun');
  return {
    to,
    ...(partitions ? { partitions } : {}),
    ...(segments ? { segments } : {}),
    ...(clearParked === undefined ? {} : { clearParked }),
    ...(dryRun === undefined ? {} : { dryRun }),
  };
}

/** Typed errors a caller can fix, as HTTP refusals. */
function asRefusal(error: unknown): { status: number; code: string; message: string } | undefined {
  if (error instanceof AdminRequestError) return { status: error.status, code: error.code, message: error.message };
  if (error instanceof UnknownProcessorError)
    return { status: 404, code: 'UnknownProcessor', message: `${error.message}; initialise it with tidemark init` };
  if (error instanceof LayoutConflictError || error instanceof ResetConflictError)
    return { status: 409, code: 'Conflict', message: error.message };
  if (error instanceof ResetRequestError) return { status: 400, code: 'BadRequest', message: error.message };
  if (error instanceof LayoutError || error instanceof ConfigurationError)
    return { status: 400, code: 'BadRequest', message: error.message };
  return undefined;
}

function json(status: number, body: unknown): AdminResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(body) };
}
