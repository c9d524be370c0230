import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keyDigest } from '../dead-letters/dead-letter.js';
import { ConfigurationError } from '../errors.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import { ENV, TABLE_NAME } from '../settings.js';
import { IdempotencyFencedError, IdempotencyInProgressError, IdempotencyResultError } from './effect-errors.js';
import { countEffect, EffectMetric } from './effect-metrics.js';
import { digest } from './effect-position.js';

/** The two states of an idempotency record. */
export const IdempotencyStatus = {
  /** A run took it and has not completed: `owner`, `epoch`, `fence` and `until` name that run. */
  InProgress: 'in-progress',
  /** The effect ran and its result is kept: later runs return it without running the effect. */
  Completed: 'completed',
} as const;
export type IdempotencyStatus = (typeof IdempotencyStatus)[keyof typeof IdempotencyStatus];

/** The parts of `HandlerContext` an idempotent effect reads: the record, and the claim (or redrive lease) it runs under. */
export interface IdempotencyContext {
  readonly processor: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly sequencingKey: string;
  /** The claim's fencing epoch (the redrive lease's, in a redrive). */
  readonly epoch: number;
  /** The invocation that runs the handler: the record's owner while it runs. */
  readonly requestId: string;
  readonly redrive: boolean;
  /** Epoch ms after which this run's work can no longer be checkpointed. */
  readonly deadline: number;
}

/** Options of one idempotent call. */
export interface IdempotentCallOptions {
  /**
   * What makes two runs the same effect. By default the record (its topic, partition and offset); give a key of the
   * business (a payment id) to run the effect once across records too.
   */
  readonly key?: string;
  /** Tells apart the effects of one record (`'charge'`, `'mail'`): each runs once. @default 'effect' */
  readonly name?: string;
}

/** Options of {@link idempotency}. */
export interface IdempotencyOptions {
  /** A client of the table that holds the idempotency records. */
  readonly client: DynamoDBClient;
  /**
   * The table: the processor's token table (the construct's functions may write `PROCESSOR#<name>#…` items there),
   * or one of the team's with the same string keys `pk` and `sk` (and TTL on `expiresAt`, to drop old records).
   * @default TIDEMARK_TABLE_NAME (the token table the construct gives every function)
   */
  readonly tableName?: string;
  /**
   * How long a record is kept once taken: a completed effect is not run again within it, so it should outlast the
   * longest a record can come again (Lambda's retries, redrives of parked keys, a replay after a reset).
   * @default 604800 (7 days, Kafka's default retention)
   */
  readonly ttlSeconds?: number;
  /**
   * Added to the run's deadline to give the time a run may still be running (the Lambda's end after the checkpoint
   * reserve): until then only a newer claim of the same partition takes an in-progress record over. @default 10000
   */
  readonly inProgressGraceMs?: number;
  readonly clock?: () => number;
}

/** Runs effects outside DynamoDB (a payment, a mail, a call) once per record or key. See {@link idempotency}. */
export interface Idempotency {
  /**
   * Runs `effect` unless a run of the same key completed before, in which case its stored result is returned
   * (a JSON round trip of what the effect returned). The result must be JSON and at most 350 KB.
   */
  run<T>(context: IdempotencyContext, effect: () => Promise<T> | T, options?: IdempotentCallOptions): Promise<T>;
}

/** The largest result kept, in bytes of JSON: the item's other attributes take the rest of DynamoDB's 400 KB. */
export const MAX_RESULT_BYTES = 350 * 1024;

const DEFAULT_TTL_SECONDS = 7 * 24 * 3600;

/** The key of an idempotency record: a partition key of its own, under the processor's prefix. */
export function idempotencyKey(processor: string, id: string): { pk: string; sk: string } {
  return { pk: `PROCESSOR#${processor}#EFFECT#${digest(id).slice(0, 32)}`, sk: 'IDEMPOTENCY' };
}

/**
 * Idempotency records for effects outside DynamoDB, with fenced completion.
 *
 * A run takes the record (`PROCESSOR#<processor>#EFFECT#<digest of the id>`, status `in-progress`, with the
 * invocation as `owner`, the claim's `epoch`, its `fence` — the partition claim, or in a redrive the key's
 * redrive lease — and `until`, its deadline plus `inProgressGraceMs`) in one conditional put, runs the effect and
 * marks the record `completed` with its result in an update **conditional on the same owner, epoch and fence**: a
 * zombie whose record was taken over cannot mark it complete (Powertools' completion is unconditional). Taking is
 * refused while another run may hold it: it is taken when absent or expired, by the same run again, by a newer
 * epoch of the same fence (the older claim is gone), or by anyone once `until` passed (never by an older epoch of
 * the same fence). A completed record is never taken: its result is returned. A run whose effect throws releases
 * the record (`until` = 0) so the retry runs it.
 *
 * What this gives: an effect that completed never runs again within `ttlSeconds`. What it cannot: an effect whose
 * run crashed (or was taken over) after it acted and before it completed runs again; make the external call itself
 * idempotent where it can be (pass the record's id as the provider's idempotency key).
 *
 * @example
 * const once = idempotency({ client: new DynamoDBClient({}) });
 * handler: async (record, context) => {
 *   const receipt = await once.run(context, () => payments.charge(record.json()), { name: 'charge' });
 * }
 */
export function idempotency(options: IdempotencyOptions): Idempotency {
  return new IdempotencyRecords(options);
}

/** Ids each handler call ran, so two effects of one record under one id are caught (the second would replay the first). */
const ran = new WeakMap<object, Set<string>>();

class IdempotencyRecords implements Idempotency {
  private readonly documents: DynamoDBDocumentClient;
  private tableName: string | undefined;
  private readonly ttlSeconds: number;
  private readonly graceMs: number;
  private readonly clock: () => number;

  constructor(options: IdempotencyOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError('idempotency needs a DynamoDBClient as `client`');
    }
    // Without a name the table is read from the environment at the first run, not here: the processor's module is
    // also loaded where there is none (the construct reads it at synth, unit tests run it in memory).
    if (options.tableName !== undefined) this.tableName = checkedTable(options.tableName);
    this.ttlSeconds = whole('ttlSeconds', options.ttlSeconds ?? DEFAULT_TTL_SECONDS, 60);
    this.graceMs = whole('inProgressGraceMs', options.inProgressGraceMs ?? 10_000, 0);
    this.documents = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.clock = options.clock ?? Date.now;
  }

  async run<T>(
    context: IdempotencyContext,
    effect: () => Promise<T> | T,
    options: IdempotentCallOptions = {},
  ): Promise<T> {
    checkContext(context);
    if (typeof effect !== 'function') throw new ConfigurationError('idempotency.run needs the effect as a function');
    const id = effectId(context, options);
    refuseRerun(context, id);
    const key = idempotencyKey(context.processor, id);
    const run = {
      owner: context.requestId,
      epoch: context.epoch,
      fence: fenceOf(context),
    };
    const stored = await this.take(key, id, context, run);
    if (stored) {
      countEffect(context.processor, EffectMetric.AlreadyApplied);
      return replay<T>(stored, id);
    }
    let result: T;
    try {
      result = await effect();
    } catch (error) {
      await this.release(key, run);
      throw error;
    }
    await this.complete(key, id, run, result);
    countEffect(context.processor, EffectMetric.Applied);
    return result;
  }

  /** The table, from the options or (the first time it is needed) `TIDEMARK_TABLE_NAME`. */
  private table(): string {
    this.tableName ??= checkedTable(process.env[ENV.tableName]);
    return this.tableName;
  }

  /** Takes the record for this run; returns the stored record instead when the effect completed before. */
  private async take(
    key: { pk: string; sk: string },
    id: string,
    context: IdempotencyContext,
    run: Run,
  ): Promise<Record<string, unknown> | undefined> {
    const now = this.clock();
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.table(),
          Item: {
            ...key,
            id,
            status: IdempotencyStatus.InProgress,
            ...run,
            until: context.deadline + this.graceMs,
            processor: context.processor,
            topic: context.topic,
            partition: context.partition,
            offset: context.offset,
            startedAt: now,
            expiresAt: Math.floor(now / 1000) + this.ttlSeconds,
          },
          ConditionExpression: [
            'attribute_not_exists(pk)',
            'expiresAt <= :nowSeconds',
            '(#status = :inProgress AND (' +
              '(fence = :fence AND (epoch < :epoch OR (epoch = :epoch AND #owner = :owner))) OR ' +
              '(#until <= :now AND (fence <> :fence OR epoch <= :epoch))))',
          ].join(' OR '),
          ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner', '#until': 'until' },
          ExpressionAttributeValues: {
            ':nowSeconds': Math.floor(now / 1000),
            ':now': now,
            ':inProgress': IdempotencyStatus.InProgress,
            ':fence': run.fence,
            ':epoch': run.epoch,
            ':owner': run.owner,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || !error.Item) throw error;
      const item = raw(error.Item);
      if (item.status === IdempotencyStatus.Completed) return item;
      const holder = { owner: String(item.owner), epoch: Number(item.epoch), until: Number(item.until) };
      throw new IdempotencyInProgressError(
        `effect "${id}" is in progress in ${holder.owner} (${String(item.fence)}, epoch ${holder.epoch}) for ${Math.max(0, holder.until - now)} ms more; try again later`,
        holder,
        { id, processor: context.processor },
      );
    }
  }

  /** Marks the record complete with the result, if this run still holds it. */
  private async complete(key: { pk: string; sk: string }, id: string, run: Run, result: unknown): Promise<void> {
    const text = result === undefined ? undefined : jsonOf(result);
    const tooLarge = text !== undefined && (text === null || Buffer.byteLength(text) > MAX_RESULT_BYTES);
    const now = this.clock();
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.table(),
          Key: key,
          UpdateExpression: `SET #status = :completed, completedAt = :now, expiresAt = :expires${
            tooLarge ? ', resultOmitted = :true' : text === undefined ? '' : ', #result = :result'
          } REMOVE #until`,
          ConditionExpression: '#status = :inProgress AND #owner = :owner AND epoch = :epoch AND fence = :fence',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#owner': 'owner',
            '#until': 'until',
            ...(tooLarge || text === undefined ? {} : { '#result': 'result' }),
          },
          ExpressionAttributeValues: {
            ':completed': IdempotencyStatus.Completed,
            ':inProgress': IdempotencyStatus.InProgress,
            ':now': now,
            ':expires': Math.floor(now / 1000) + this.ttlSeconds,
            ':owner': run.owner,
            ':epoch': run.epoch,
            ':fence': run.fence,
            ...(tooLarge ? { ':true': true } : text === undefined ? {} : { ':result': text }),
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw new IdempotencyFencedError(
        `effect "${id}" ran, but a newer run took its record over: this run (${run.owner}, epoch ${run.epoch}) may not mark it complete`,
        { id, ...run },
      );
    }
    if (tooLarge) throw resultError(id);
  }

  /** Gives the record back after the effect failed, so the retry runs it; a record taken over meanwhile is left. */
  private async release(key: { pk: string; sk: string }, run: Run): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.table(),
          Key: key,
          UpdateExpression: 'SET #until = :zero',
          ConditionExpression: '#status = :inProgress AND #owner = :owner AND epoch = :epoch AND fence = :fence',
          ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner', '#until': 'until' },
          ExpressionAttributeValues: {
            ':zero': 0,
            ':inProgress': IdempotencyStatus.InProgress,
            ':owner': run.owner,
            ':epoch': run.epoch,
            ':fence': run.fence,
          },
        }),
      );
    } catch {
      // Not released: taken over, or the write failed. Its `until` still frees it; the effect's error is what counts.
    }
  }
}

interface Run {
  readonly owner: string;
  readonly epoch: number;
  readonly fence: string;
}

/**
 * Which epochs a run's can be compared with: the partition's claims (live and fan-out runs), or a parked key's
 * redrive leases. Epochs of two fences are counters of their own, so across fences only `until` decides.
 */
function fenceOf(context: IdempotencyContext): string {
  const partition = topicPartitionId(context.topic, context.partition);
  return context.redrive ? `redrive:${partition}:${keyDigest(context.sequencingKey)}` : `claim:${partition}`;
}

/** The record's id: the user's key, else the record's position; with the effect's name. */
function effectId(context: IdempotencyContext, options: IdempotentCallOptions): string {
  const name = options.name ?? 'effect';
  if (typeof name !== 'string' || name === '') throw new ConfigurationError('an idempotent effect name must be text');
  if (options.key !== undefined) {
    if (typeof options.key !== 'string' || options.key === '') {
      throw new ConfigurationError(`an idempotency key must be non-empty text, got ${JSON.stringify(options.key)}`);
    }
    return `key:${options.key}#${name}`;
  }
  return `${topicPartitionId(context.topic, context.partition)}@${context.offset}#${name}`;
}

function refuseRerun(context: IdempotencyContext, id: string): void {
  let ids = ran.get(context);
  if (!ids) ran.set(context, (ids = new Set()));
  if (ids.has(id)) {
    throw new ConfigurationError(
      `effect "${id}" already ran in this handler call: give each effect of a record its own name ({ name: 'charge' })`,
    );
  }
  ids.add(id);
}

function replay<T>(item: Record<string, unknown>, id: string): T {
  if (item.resultOmitted === true) throw resultError(id);
  return (typeof item.result === 'string' ? JSON.parse(item.result) : undefined) as T;
}

/** JSON of a result; null when it is not JSON (a cycle, a bigint). */
function jsonOf(result: unknown): string | null {
  try {
    return JSON.stringify(result) ?? null;
  } catch {
    return null;
  }
}

function resultError(id: string): IdempotencyResultError {
  return new IdempotencyResultError(
    `effect "${id}" ran and is recorded complete, but its result is not JSON of at most ${MAX_RESULT_BYTES} bytes, so it was not kept`,
    { id },
  );
}

/** A raw item's plain values (strings, numbers, booleans): enough to read a record's status and holder. */
function raw(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    const v = value as { S?: string; N?: string; BOOL?: boolean };
    out[name] = v.S ?? (v.N === undefined ? v.BOOL : Number(v.N));
  }
  return out;
}

function checkContext(context: IdempotencyContext): void {
  const ok =
    context !== null &&
    typeof context === 'object' &&
    typeof context.processor === 'string' &&
    typeof context.topic === 'string' &&
    Number.isInteger(context.partition) &&
    Number.isInteger(context.offset) &&
    Number.isInteger(context.epoch) &&
    typeof context.requestId === 'string' &&
    typeof context.deadline === 'number';
  if (!ok) {
    throw new ConfigurationError(
      "an idempotent effect needs the handler's context (processor, topic, partition, offset, epoch, requestId, deadline)",
    );
  }
}

function checkedTable(tableName: string | undefined): string {
  if (tableName === undefined || !TABLE_NAME.pattern.test(tableName)) {
    throw new ConfigurationError(
      `idempotency needs a table: give tableName or set ${ENV.tableName} (${TABLE_NAME.allowed}), got ${JSON.stringify(tableName)}`,
    );
  }
  return tableName;
}

function whole(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigurationError(`idempotency ${name} must be a whole number >= ${min}, got ${String(value)}`);
  }
  return value;
}
