import { createHash } from 'node:crypto';
import { TransactionCanceledException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { tokenKeys } from '../tokens/token-table.js';
import { AdminRequestError } from './admin-error.js';

/** The commands the admin API takes. */
export type AdminCommand = 'split' | 'merge' | 'scale' | 'reset' | 'pause' | 'resume';

export type OperationStatus = 'accepted' | 'running' | 'succeeded' | 'failed';

/** One accepted command, as `GET /api/operations/{id}` shows it. */
export interface Operation {
  /** `<processor>.<20 hex digits>`. */
  readonly id: string;
  readonly processor: string;
  readonly command: AdminCommand;
  readonly args: Readonly<Record<string, unknown>>;
  readonly status: OperationStatus;
  /** The caller's principal ARN (IAM), as the audit item keeps it. */
  readonly principal: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** What runs it: a Step Functions execution ARN, or a local run's id. */
  readonly run?: string;
  readonly result?: unknown;
  readonly error?: { readonly name: string; readonly message: string };
}

/** A command as the API checked it, to be accepted once. */
export interface OperationRequest {
  readonly processor: string;
  readonly command: AdminCommand;
  readonly args: Readonly<Record<string, unknown>>;
  /**
   * What makes two requests the same command: the command, its arguments and what they apply to (the layout version
   * for split, merge and scale). The same fingerprint as the processor's latest operation, within
   * {@link OPERATION_DEDUPE_MS}, is that operation.
   */
  readonly fingerprint: string;
  readonly principal: string;
  /** The caller's `Idempotency-Key`: the same key is the same operation, whenever it comes. */
  readonly idempotencyKey?: string;
}

/** A repeat of the processor's latest command within this window is answered with the same operation. */
export const OPERATION_DEDUPE_MS = 10 * 60_000;

/** Operation items are kept this long (DynamoDB's TTL on `expiresAt`). */
const OPERATION_RETENTION_S = 30 * 24 * 3600;

const TERMINAL: readonly OperationStatus[] = ['succeeded', 'failed'];

const operationsKey = (processor: string) => `PROCESSOR#${processor}#OPERATIONS`;

/** Reads the processor from an operation id; undefined when the id has not the form ids have. */
export function processorOfOperation(id: string): string | undefined {
  const match = /^(.+)\.([0-9a-f]{20})$/.exec(id);
  return match?.[1];
}

/**
 * Operations in the token table, one item each under the processor's operations key, with a head item naming the
 * latest: accepting writes the operation, moves the head and writes the audit item in one transaction, so a
 * command is accepted once (two racing copies compute the same id; one transaction wins, the other reads it).
 */
export class DynamoDbOperationStore {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { tableName: string; client: DynamoDBClient; clock?: () => number }) {
    this.documents = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
    });
  }

  private get now(): number {
    return (this.options.clock ?? Date.now)();
  }

  /** Accepts the command once: returns the operation, and whether this call created it. */
  async accept(request: OperationRequest): Promise<{ operation: Operation; created: boolean }> {
    const { processor } = request;
    if (request.idempotencyKey !== undefined) {
      const id = operationId(processor, `key|${request.idempotencyKey}`);
      const existing = await this.get(id);
      if (existing) return { operation: this.sameCommand(existing, request), created: false };
      return this.create(request, id, undefined);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const head = await this.head(processor);
      if (head && head.fingerprint === request.fingerprint && this.now - head.createdAt < OPERATION_DEDUPE_MS) {
        const latest = await this.get(head.id);
        if (latest) return { operation: latest, created: false };
      }
      const id = operationId(processor, `${request.fingerprint}|after|${head?.id ?? ''}`);
      try {
        return await this.create(request, id, head?.id ?? null);
      } catch (error) {
        if (!(error instanceof HeadMoved)) throw error;
        const raced = await this.get(id);
        if (raced) return { operation: raced, created: false };
      }
    }
    throw new AdminRequestError('Conflict', `commands for "${processor}" keep racing; try again`);
  }

  /**
   * The operation a request repeats, looked up before the request is checked against the current state (a split
   * retried while it runs finds its segment draining): the operation of the same `Idempotency-Key`, or the
   * processor's latest one when it is the same command with the same `args` (as far as they go) within
   * {@link OPERATION_DEDUPE_MS}.
   */
  async findRepeat(request: {
    processor: string;
    command: AdminCommand;
    args: Readonly<Record<string, unknown>>;
    idempotencyKey?: string;
  }): Promise<Operation | undefined> {
    if (request.idempotencyKey !== undefined) {
      const existing = await this.get(operationId(request.processor, `key|${request.idempotencyKey}`));
      return existing ? this.sameCommand(existing, { ...request, fingerprint: '', principal: '' }, false) : undefined;
    }
    const head = await this.head(request.processor);
    if (!head || this.now - head.createdAt >= OPERATION_DEDUPE_MS) return undefined;
    const latest = await this.get(head.id);
    if (!latest || latest.command !== request.command) return undefined;
    const same = Object.entries(request.args).every(([k, v]) => JSON.stringify(latest.args[k]) === JSON.stringify(v));
    return same ? latest : undefined;
  }

  async get(id: string): Promise<Operation | undefined> {
    const processor = processorOfOperation(id);
    if (processor === undefined) return undefined;
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: operationsKey(processor), sk: `OPERATION#${id}` },
        ConsistentRead: true,
      }),
    );
    return Item ? toOperation(Item) : undefined;
  }

  /**
   * Moves an operation on from one of `from`; a terminal operation never changes again. Returns the operation as
   * it stands after (unchanged when another caller moved it first).
   */
  async update(
    operation: Operation,
    from: readonly OperationStatus[],
    patch: { status: OperationStatus; run?: string; result?: unknown; error?: { name: string; message: string } },
  ): Promise<Operation> {
    const allowed = from.filter((s) => !TERMINAL.includes(s));
    const names: Record<string, string> = { '#status': 'status', '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':status': patch.status, ':now': this.now };
    const sets = ['#status = :status', '#updatedAt = :now'];
    for (const field of ['run', 'result', 'error'] as const) {
      if (patch[field] === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = field === 'result' ? JSON.stringify(patch.result) : patch[field];
      sets.push(`#${field} = :${field}`);
    }
    allowed.forEach((s, i) => (values[`:from${i}`] = s));
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: operationsKey(operation.processor), sk: `OPERATION#${operation.id}` },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: `#status IN (${allowed.map((_, i) => `:from${i}`).join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toOperation(Attributes!);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return (await this.get(operation.id)) ?? operation;
    }
  }

  private sameCommand(existing: Operation, request: OperationRequest, exact = true): Operation {
    const same =
      existing.command === request.command &&
      (exact
        ? JSON.stringify(existing.args) === JSON.stringify(request.args)
        : Object.entries(request.args).every(([k, v]) => JSON.stringify(existing.args[k]) === JSON.stringify(v)));
    if (same) return existing;
    throw new AdminRequestError(
      'Conflict',
      `Idempotency-Key ${JSON.stringify(request.idempotencyKey)} was used for ${existing.command} ${JSON.stringify(existing.args)} (operation ${existing.id}); use a new key for another command`,
    );
  }

  private async head(processor: string): Promise<{ id: string; fingerprint: string; createdAt: number } | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: operationsKey(processor), sk: 'HEAD' },
        ConsistentRead: true,
      }),
    );
    return Item
      ? { id: String(Item.id), fingerprint: String(Item.fingerprint), createdAt: Number(Item.createdAt) }
      : undefined;
  }

  /** Writes the operation, its audit item and (without an idempotency key) the head, in one transaction. */
  private async create(
    request: OperationRequest,
    id: string,
    expectedHead: string | null | undefined,
  ): Promise<{ operation: Operation; created: boolean }> {
    const now = this.now;
    const operation: Operation = {
      id,
      processor: request.processor,
      command: request.command,
      args: request.args,
      status: 'accepted',
      principal: request.principal,
      createdAt: now,
      updatedAt: now,
    };
    const table = this.options.tableName;
    const pk = operationsKey(request.processor);
    const items = [
      {
        Put: {
          TableName: table,
          Item: {
            pk,
            sk: `OPERATION#${id}`,
            kind: 'operation',
            ...operation,
            fingerprint: request.fingerprint,
            expiresAt: Math.floor(now / 1000) + OPERATION_RETENTION_S,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: table,
          Item: {
            pk: tokenKeys.audit(request.processor),
            sk: `${new Date(now).toISOString()}#${id}`,
            kind: 'audit',
            processor: request.processor,
            at: now,
            action: request.command,
            target: JSON.stringify(request.args),
            by: request.principal,
            reason: `admin API operation ${id}`,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...(expectedHead === undefined
        ? []
        : [
            {
              Put: {
                TableName: table,
                Item: { pk, sk: 'HEAD', id, fingerprint: request.fingerprint, createdAt: now },
                ...(expectedHead === null
                  ? { ConditionExpression: 'attribute_not_exists(pk)' }
                  : { ConditionExpression: 'id = :head', ExpressionAttributeValues: { ':head': expectedHead } }),
              },
            },
          ]),
    ];
    try {
      await this.documents.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        const existing = await this.get(id);
        if (existing) return { operation: this.sameCommand(existing, request), created: false };
        throw new HeadMoved();
      }
      throw error;
    }
    return { operation, created: true };
  }
}

/** Another command was accepted between reading the head and writing: read it again. */
class HeadMoved extends Error {}

function operationId(processor: string, seed: string): string {
  return `${processor}.${createHash('sha256').update(`${processor}|${seed}`).digest('hex').slice(0, 20)}`;
}

function toOperation(item: Record<string, unknown>): Operation {
  return {
    id: String(item.id),
    processor: String(item.processor),
    command: item.command as AdminCommand,
    args: (item.args ?? {}) as Record<string, unknown>,
    status: item.status as OperationStatus,
    principal: String(item.principal),
    createdAt: Number(item.createdAt),
    updatedAt: Number(item.updatedAt),
    ...(item.run === undefined ? {} : { run: String(item.run) }),
    ...(item.result === undefined ? {} : { result: JSON.parse(String(item.result)) as unknown }),
    ...(item.error === undefined ? {} : { error: item.error as { name: string; message: string } }),
  };
}
