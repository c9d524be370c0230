import { handleAdminRequest, type AdminBackend, type AdminRequest } from '../../shared/admin/admin-api.js';
import { adminStores } from '../../shared/admin/admin-stores.js';
import { InProcessOperationRunner } from '../../shared/admin/local-operation-runner.js';
import type { Operation } from '../../shared/admin/operation-store.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from '../../shared/admin/status-page.js';
import { localDynamoDb, freshTokenTable } from './dynamodb.js';

/** An admin backend on a fresh token table, running operations in process; override what a test needs. */
export async function testAdminBackend(
  overrides: Partial<AdminBackend> = {},
): Promise<AdminBackend & { tableName: string }> {
  const tableName = await freshTokenTable();
  const stores = adminStores(tableName, localDynamoDb());
  return {
    tableName,
    processors: [{ name: 'orders-view', topics: ['orders'] }],
    ...stores,
    runner: new InProcessOperationRunner({ tokens: stores.tokens, layoutTtlMs: 200 }),
    page: { html: STATUS_PAGE_HTML, headers: STATUS_PAGE_HEADERS },
    ...overrides,
  };
}

/** Calls the API as `principal` and parses the JSON answer. */
export async function call(
  backend: AdminBackend,
  method: string,
  path: string,
  body?: unknown,
  options: { principal?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const request: AdminRequest = {
    method,
    path,
    headers: options.headers ?? {},
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    principal: options.principal ?? 'arn:aws:iam::123456789012:role/operator',
  };
  const response = await handleAdminRequest(request, backend);
  return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
}

/** Follows an operation until it ends (or `timeoutMs` passes). */
export async function untilDone(backend: AdminBackend, id: string, timeoutMs = 20_000): Promise<Operation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call(backend, 'GET', `/api/operations/${id}`);
    const operation = body as unknown as Operation;
    if (operation.status === 'succeeded' || operation.status === 'failed') return operation;
    if (Date.now() > deadline) throw new Error(`operation ${id} still ${operation.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
