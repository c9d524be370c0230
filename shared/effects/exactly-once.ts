import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  type CancellationReason,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type NativeAttributeValue,
  type TransactWriteItem,
} from '@aws-sdk/lib-dynamodb';
import { ConfigurationError, TidemarkError } from '../errors.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import {
  EffectConditionFailedError,
  EffectRefusal,
  EffectRefusedError,
  TransactionConflictError,
} from './effect-errors.js';
import { countEffect, EffectMetric } from './effect-metrics.js';
import {
  canonical,
  digest,
  itemIdentity,
  positionAttribute,
  storedOffset,
  withPositionCondition,
  withPositionPlaceholders,
  withPositionUpdate,
  type RecordPosition,
} from './effect-position.js';

/** DynamoDB's limits on one TransactWriteItems. */
export const TRANSACTION_LIMITS = Object.freeze({ maxActions: 100, maxBytes: 4 * 1024 * 1024 });

/** The longest `ClientRequestToken` DynamoDB takes. */
const TOKEN_LENGTH = 36;

/**
 * The record an effect belongs to: `HandlerContext` is one. `deadline` (epoch ms) bounds the conflict retries;
 * `epoch`, `attempt` and `requestId` name the call in the transaction's token.
 */
export interface EffectContext extends RecordPosition {
  readonly deadline?: number;
  readonly epoch?: number;
  readonly attempt?: number;
  readonly requestId?: string;
}

type Item = Record<string, NativeAttributeValue>;

/** An update of one item of the team's table (document client form: plain values, any key schema). */
export interface EffectUpdate {
  readonly TableName: string;
  readonly Key: Item;
  readonly UpdateExpression: string;
  /** Checked together with the item's position: both must hold. */
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Item;
  /** On `update` only (a transaction returns nothing): what to return when the effect is applied. */
  readonly ReturnValues?: 'NONE' | 'ALL_OLD' | 'UPDATED_OLD' | 'ALL_NEW' | 'UPDATED_NEW';
}

/**
 * A put of a whole item. It replaces the item, positions of other sequencing keys included: put only items that one
 * key writes (an item per key), and update the items several keys share.
 */
export interface EffectPut {
  readonly TableName: string;
  readonly Item: Item;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Item;
}

/** A condition on an item the transaction does not write; it carries no position. */
export interface EffectConditionCheck {
  readonly TableName: string;
  readonly Key: Item;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Item;
}

/** One action of a transaction. A Delete cannot be made exactly-once (nothing would keep the position): refused. */
export type EffectAction =
  { readonly Update: EffectUpdate } | { readonly Put: EffectPut } | { readonly ConditionCheck: EffectConditionCheck };

/** What an effect did. */
export interface EffectResult {
  /** True when this call wrote the effect; false when an earlier run of the record had (nothing written now). */
  readonly applied: boolean;
  /** With `ReturnValues` on `update`: the attributes DynamoDB returned, when applied. */
  readonly attributes?: Item;
}

/** Counts of one helper since it was created (the same counts go to the processor's metrics). */
export interface EffectStats {
  readonly applied: number;
  readonly alreadyApplied: number;
  readonly transactionConflicts: number;
}

/** Options of {@link exactlyOnce}. */
export interface ExactlyOnceOptions {
  /** A client of the team's tables (its region, credentials and retries apply). */
  readonly client: DynamoDBClient;
  /** Times a write DynamoDB cancels for a transaction conflict is tried again. @default 5 */
  readonly conflictRetries?: number;
  /** The first conflict retry waits up to this long (full jitter), doubling each time. @default 20 */
  readonly conflictBaseDelayMs?: number;
  /** The longest wait between conflict retries. @default 500 */
  readonly conflictMaxDelayMs?: number;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/**
 * Writes a record's effects into DynamoDB exactly once, whatever is redelivered, retried, run by a zombie or run
 * twice between checkpoints. See {@link exactlyOnce}.
 */
export interface ExactlyOnce {
  /** Updates one item, conditional on its position for the record's key (one write, 1 WCU per KB). */
  update(context: EffectContext, effect: EffectUpdate): Promise<EffectResult>;
  /** Puts one item, conditional on its position for the record's key (one write). */
  put(context: EffectContext, effect: EffectPut): Promise<EffectResult>;
  /**
   * Applies every action or none, in one `TransactWriteItems` (2 WCU per KB per item): each Update and Put
   * conditional on its item's position, with a `ClientRequestToken` of the record, the call and the effect
   * ({@link requestToken}), so an SDK retry within DynamoDB's 10 minutes is answered as the first request was. At
   * most 100 actions, 4 MB, one per item, else an {@link EffectRefusedError} and nothing written.
   */
  transact(context: EffectContext, actions: readonly EffectAction[]): Promise<EffectResult>;
  stats(): EffectStats;
}

/**
 * An exactly-once writer of effects into the team's own DynamoDB tables (any key schema).
 *
 * Every item an effect writes carries the offset of the last record applied to it for the record's sequencing key
 * ({@link positionAttribute}: `tidemark:<processor>:<topic>-<partition>:<key digest>`), and the write is conditional
 * on it: the item never saw the key, or only its earlier records. A key's records come in one partition in offset
 * order, so a record applied before (by an earlier attempt, delivery, zombie or replay) is refused by the
 * condition and counts as applied (`applied: false`, metric `EffectsAlreadyApplied`), not as an error. Several
 * items go in one transaction: all of them or none. Nothing is written to the token table per record.
 *
 * @example
 * const effects = exactlyOnce({ client: new DynamoDBClient({}) });
 * export const processor = defineProcessor({
 *   name: 'order-totals',
 *   topics: ['orders'],
 *   handler: async (record, context) => {
 *     const order = record.json<{ customer: string; amount: number }>()!;
 *     await effects.transact(context, [
 *       { Update: { TableName: 'totals', Key: { pk: order.customer }, UpdateExpression: 'ADD total :a', ExpressionAttributeValues: { ':a': order.amount } } },
 *       { Update: { TableName: 'totals', Key: { pk: 'ALL' }, UpdateExpression: 'ADD total :a', ExpressionAttributeValues: { ':a': order.amount } } },
 *     ]);
 *   },
 * });
 */
export function exactlyOnce(options: ExactlyOnceOptions): ExactlyOnce {
  return new ExactlyOnceWriter(options);
}

/** Items each handler call wrote, so one record writing an item twice is caught (the second would be refused). */
const written = new WeakMap<object, Set<string>>();

class ExactlyOnceWriter implements ExactlyOnce {
  private readonly documents: DynamoDBDocumentClient;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly counts = { applied: 0, alreadyApplied: 0, transactionConflicts: 0 };

  constructor(options: ExactlyOnceOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError('exactlyOnce needs a DynamoDBClient as `client`');
    }
    this.retries = wholeAtLeast('conflictRetries', options.conflictRetries ?? 5, 0);
    this.baseDelayMs = wholeAtLeast('conflictBaseDelayMs', options.conflictBaseDelayMs ?? 20, 1);
    this.maxDelayMs = wholeAtLeast('conflictMaxDelayMs', options.conflictMaxDelayMs ?? 500, this.baseDelayMs);
    this.documents = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  stats(): EffectStats {
    return { ...this.counts };
  }

  async update(context: EffectContext, effect: EffectUpdate): Promise<EffectResult> {
    checkContext(context);
    checkTarget(effect, 'update', ['Key', 'UpdateExpression']);
    const identity = itemIdentity(effect.TableName, effect.Key);
    refuseRewrite(context, [identity]);
    const { names, values } = withPositionPlaceholders(
      context,
      effect.ExpressionAttributeNames,
      effect.ExpressionAttributeValues,
    );
    const command = new UpdateCommand({
      TableName: effect.TableName,
      Key: effect.Key,
      UpdateExpression: withPositionUpdate(effect.UpdateExpression),
      ConditionExpression: withPositionCondition(effect.ConditionExpression),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ...(effect.ReturnValues ? { ReturnValues: effect.ReturnValues } : {}),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    const result = await this.single(context, () => this.documents.send(command));
    remember(context, [identity]);
    return result.applied && result.attributes ? result : { applied: result.applied };
  }

  async put(context: EffectContext, effect: EffectPut): Promise<EffectResult> {
    checkContext(context);
    checkTarget(effect, 'put', ['Item']);
    const command = new PutCommand(positionedPut(context, effect));
    return this.single(context, () => this.documents.send(command));
  }

  async transact(context: EffectContext, actions: readonly EffectAction[]): Promise<EffectResult> {
    checkContext(context);
    const plan = planTransaction(context, actions);
    refuseRewrite(context, plan.identities);
    if (plan.items.length === 1 && plan.single) {
      // One write and nothing to check beside it: a conditional write does the same for half the cost.
      const result = await this.single(context, () => plan.single!(this.documents));
      remember(context, plan.identities);
      return { applied: result.applied };
    }
    const attribute = positionAttribute(context);
    const command = new TransactWriteCommand({
      TransactItems: plan.items,
      ClientRequestToken: requestToken(context, plan.items),
    });
    const applied = await this.withConflictRetry(context, async () => {
      try {
        await this.documents.send(command);
        return true;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw refusal(error) ?? error;
        return cancelled(error, plan.writes, attribute, context);
      }
    });
    remember(context, plan.identities);
    return { applied: this.counted(context, applied) };
  }

  /** One conditional write: refused by the position means applied before. */
  private async single(
    context: EffectContext,
    send: () => Promise<{ Attributes?: Item }>,
  ): Promise<{ applied: boolean; attributes?: Item }> {
    const attribute = positionAttribute(context);
    const outcome = await this.withConflictRetry(context, async () => {
      try {
        const output = await send();
        return { applied: true, ...(output.Attributes ? { attributes: output.Attributes } : {}) };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw refusal(error) ?? error;
        const stored = storedOffset(error.Item, attribute);
        if (stored !== undefined && stored >= context.offset) return { applied: false };
        throw new EffectConditionFailedError(
          `the effect's own condition is false for record ${describe(context)}; nothing was written`,
          0,
          { cause: error, context: positionContext(context) },
        );
      }
    });
    this.counted(context, outcome.applied);
    return outcome;
  }

  private counted(context: EffectContext, applied: boolean): boolean {
    if (applied) this.counts.applied++;
    else this.counts.alreadyApplied++;
    countEffect(context.processor, applied ? EffectMetric.Applied : EffectMetric.AlreadyApplied);
    return applied;
  }

  /** Runs `send`, trying it again with full jitter while DynamoDB reports a transaction conflict. */
  private async withConflictRetry<T>(context: EffectContext, send: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (!isConflict(error)) throw error;
        this.counts.transactionConflicts++;
        countEffect(context.processor, EffectMetric.TransactionConflicts);
        const delay = Math.floor(this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt));
        const pastDeadline = context.deadline !== undefined && this.clock() + delay >= context.deadline;
        if (attempt >= this.retries || pastDeadline) {
          throw new TransactionConflictError(
            `the effect of record ${describe(context)} met a transaction conflict ${attempt + 1} time(s); nothing was written`,
            { cause: error, context: positionContext(context) },
          );
        }
        await this.sleep(delay);
      }
    }
  }
}

/** What a transaction sends, checked against DynamoDB's limits before anything is sent. */
interface TransactionPlan {
  readonly items: TransactWriteItem[];
  /** Indexes of the actions that write (and carry the position). */
  readonly writes: ReadonlySet<number>;
  /** Items named by key (updates and condition checks). */
  readonly identities: readonly string[];
  /** For one Update or Put alone: the same write as a single conditional request. */
  readonly single?: (documents: DynamoDBDocumentClient) => Promise<{ Attributes?: Item }>;
}

function planTransaction(context: EffectContext, actions: readonly EffectAction[]): TransactionPlan {
  if (!Array.isArray(actions) || actions.length === 0) {
    throw new EffectRefusedError(EffectRefusal.Invalid, 'a transaction needs at least one action');
  }
  if (actions.length > TRANSACTION_LIMITS.maxActions) {
    throw new EffectRefusedError(
      EffectRefusal.TooManyItems,
      `the effect of record ${describe(context)} has ${actions.length} actions; a transaction takes at most ${TRANSACTION_LIMITS.maxActions}, so nothing was written`,
      { context: { ...positionContext(context), actions: actions.length } },
    );
  }
  actions.forEach(checkAction);
  // A Put names no key: its item's key is read with the key attributes the table's updates and checks name.
  const keyNames = new Map<string, string[]>();
  for (const action of actions) {
    const target = 'Update' in action ? action.Update : 'ConditionCheck' in action ? action.ConditionCheck : undefined;
    if (target) keyNames.set(target.TableName, Object.keys(target.Key).sort());
  }
  const items: TransactWriteItem[] = [];
  const writes = new Set<number>();
  const identities: string[] = [];
  const seen = new Map<string, number>();
  let single: TransactionPlan['single'];
  actions.forEach((action, index) => {
    if ('Update' in action) {
      identities.push(noteItem(seen, action.Update.TableName, action.Update.Key, index));
      const update = positionedUpdate(context, action.Update);
      items.push({ Update: update });
      writes.add(index);
      single = (documents) => documents.send(new UpdateCommand(update));
    } else if ('Put' in action) {
      const names = keyNames.get(action.Put.TableName);
      if (names?.every((name) => action.Put.Item[name] !== undefined)) {
        const key = Object.fromEntries(names.map((name) => [name, action.Put.Item[name]]));
        identities.push(noteItem(seen, action.Put.TableName, key, index));
      }
      const put = positionedPut(context, action.Put);
      items.push({ Put: put });
      writes.add(index);
      single = (documents) => documents.send(new PutCommand(put));
    } else {
      const check = action.ConditionCheck;
      noteItem(seen, check.TableName, check.Key, index);
      items.push({ ConditionCheck: { ...check, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } });
    }
  });
  if (writes.size === 0) {
    throw new EffectRefusedError(EffectRefusal.Invalid, 'a transaction of condition checks only writes nothing');
  }
  const bytes = Buffer.byteLength(canonical(items));
  if (bytes > TRANSACTION_LIMITS.maxBytes) {
    throw new EffectRefusedError(
      EffectRefusal.TooLarge,
      `the effect of record ${describe(context)} is about ${(bytes / 1024 / 1024).toFixed(2)} MB; a transaction takes at most 4 MB, so nothing was written`,
      { context: { ...positionContext(context), bytes } },
    );
  }
  return { items, writes, identities, ...(items.length === 1 ? { single } : {}) };
}

/** One action of exactly one supported kind, with its table and the fields its kind needs. */
function checkAction(action: EffectAction, index: number): void {
  const kinds = Object.keys(action ?? {}).filter((k) => (action as Record<string, unknown>)[k] !== undefined);
  if (kinds.length !== 1 || !['Update', 'Put', 'ConditionCheck'].includes(kinds[0]!)) {
    const unsupported = kinds.includes('Delete');
    throw new EffectRefusedError(
      unsupported ? EffectRefusal.Unsupported : EffectRefusal.Invalid,
      unsupported
        ? `action ${index} is a Delete: a deleted item keeps no position, so an earlier record of its key would be applied again; remove its attributes with an Update instead`
        : `action ${index} must have exactly one of Update, Put or ConditionCheck, got ${kinds.join(', ') || 'none'}`,
      { context: { index } },
    );
  }
  if ('Update' in action) checkTarget(action.Update, `action ${index} (Update)`, ['Key', 'UpdateExpression']);
  else if ('Put' in action) checkTarget(action.Put, `action ${index} (Put)`, ['Item']);
  else checkTarget(action.ConditionCheck, `action ${index} (ConditionCheck)`, ['Key', 'ConditionExpression']);
}

function noteItem(seen: Map<string, number>, table: string, key: Item, index: number): string {
  const identity = itemIdentity(table, key);
  const earlier = seen.get(identity);
  if (earlier !== undefined) {
    throw new EffectRefusedError(
      EffectRefusal.SameItemTwice,
      `actions ${earlier} and ${index} both act on item ${canonical(key)} of ${table}; DynamoDB takes one action per item in a transaction: combine them`,
      { context: { indexes: [earlier, index], table } },
    );
  }
  seen.set(identity, index);
  return identity;
}

function positionedUpdate(context: EffectContext, effect: EffectUpdate) {
  const { names, values } = withPositionPlaceholders(
    context,
    effect.ExpressionAttributeNames,
    effect.ExpressionAttributeValues,
  );
  return {
    TableName: effect.TableName,
    Key: effect.Key,
    UpdateExpression: withPositionUpdate(effect.UpdateExpression),
    ConditionExpression: withPositionCondition(effect.ConditionExpression),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

function positionedPut(context: EffectContext, effect: EffectPut) {
  const { names, values } = withPositionPlaceholders(
    context,
    effect.ExpressionAttributeNames,
    effect.ExpressionAttributeValues,
  );
  return {
    TableName: effect.TableName,
    Item: { ...effect.Item, [positionAttribute(context)]: context.offset },
    ConditionExpression: withPositionCondition(effect.ConditionExpression),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/**
 * What a cancelled transaction means. If any written item's position shows the record, the transaction landed
 * before (it is atomic: all its items moved together): applied. Otherwise a failed condition is the effect's own;
 * a conflict is retried; anything else is refused or thrown as it came.
 */
function cancelled(
  error: TransactionCanceledException,
  writes: ReadonlySet<number>,
  attribute: string,
  context: EffectContext,
): boolean {
  const reasons: CancellationReason[] = error.CancellationReasons ?? [];
  const appliedBefore = reasons.some((reason, index) => {
    if (!writes.has(index) || reason.Code !== 'ConditionalCheckFailed') return false;
    const stored = storedOffset(reason.Item as Record<string, unknown> | undefined, attribute);
    return stored !== undefined && stored >= context.offset;
  });
  if (appliedBefore) return false;
  const failed = reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
  if (failed >= 0) {
    throw new EffectConditionFailedError(
      `the condition of action ${failed} is false for record ${describe(context)}; nothing was written`,
      failed,
      { cause: error, context: positionContext(context) },
    );
  }
  if (reasons.some((reason) => reason.Code === 'TransactionConflict')) throw error;
  const invalid = reasons.find((reason) => reason.Code === 'ValidationError');
  if (invalid) throw refusal(error, invalid.Message) ?? error;
  if (reasons.some((reason) => reason.Code === 'ItemCollectionSizeLimitExceeded')) {
    throw new EffectRefusedError(EffectRefusal.TooLarge, `an item collection of the effect is full: ${error.message}`, {
      cause: error,
    });
  }
  const codes = reasons.map((reason, index) => `${index}: ${reason.Code ?? '?'}`).join('; ');
  throw new TidemarkError(`the effect's transaction was cancelled (${codes})`, {
    retriable: true,
    cause: error,
    context: positionContext(context),
  });
}

function isConflict(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TransactionConflictException' || error.name === 'TransactionInProgressException') return true;
  return (
    error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((reason) => reason.Code === 'TransactionConflict')
  );
}

/** DynamoDB's ValidationException as a refusal: the request can never succeed as it is. */
function refusal(error: unknown, message = (error as Error)?.message): EffectRefusedError | undefined {
  const name = (error as Error)?.name;
  if (name !== 'ValidationException' && !(error instanceof TransactionCanceledException)) return undefined;
  const text = message ?? '';
  const reason = /multiple operations on one item/i.test(text)
    ? EffectRefusal.SameItemTwice
    : /size|too large|exceed/i.test(text)
      ? EffectRefusal.TooLarge
      : EffectRefusal.Invalid;
  return new EffectRefusedError(reason, `DynamoDB refused the effect: ${text}`, { cause: error });
}

/**
 * The transaction's idempotency token, at most 36 characters: a hash of the record (processor, partition, offset),
 * of this call (epoch, attempt and invocation, when the context has them) and of the effect as sent. The SDK's
 * retries of a request reuse its token, so DynamoDB answers a retry within 10 minutes as it answered the first
 * request (applied). Any other run of the record (a redelivery, a zombie, a replay) sends another token, and the
 * positions decide: already applied. A different effect never meets an equal token, so no
 * `IdempotentParameterMismatch`.
 */
export function requestToken(context: EffectContext, items: readonly TransactWriteItem[]): string {
  const record = `${context.processor}\u0000${topicPartitionId(context.topic, context.partition)}\u0000${context.offset}`;
  const call = `${context.epoch ?? ''}/${context.attempt ?? ''}/${context.requestId ?? ''}`;
  return digest(`${record}\u0000${call}\u0000${digest(canonical(items))}`).slice(0, TOKEN_LENGTH);
}

function checkContext(context: EffectContext): void {
  const ok =
    context !== null &&
    typeof context === 'object' &&
    typeof context.processor === 'string' &&
    typeof context.topic === 'string' &&
    Number.isInteger(context.partition) &&
    Number.isInteger(context.offset) &&
    typeof context.sequencingKey === 'string';
  if (!ok) {
    throw new ConfigurationError(
      "an effect needs the handler's context (processor, topic, partition, offset and sequencingKey)",
    );
  }
}

function checkTarget(effect: object | undefined, what: string, fields: readonly string[]): void {
  const given = effect as Record<string, unknown> | undefined;
  if (!given || typeof given.TableName !== 'string' || given.TableName === '') {
    throw new EffectRefusedError(EffectRefusal.Invalid, `${what} needs a TableName`);
  }
  for (const field of fields) {
    const value = given[field];
    const ok = typeof value === 'string' ? value.trim() !== '' : value !== null && typeof value === 'object';
    if (!ok) throw new EffectRefusedError(EffectRefusal.Invalid, `${what} on ${given.TableName} needs ${field}`);
  }
}

/** One handler call writing an item twice: the second write would be refused as applied, and silently lost. */
function refuseRewrite(context: EffectContext, identities: readonly string[]): void {
  const before = written.get(context);
  const again = before && identities.find((identity) => before.has(identity));
  if (again) {
    throw new EffectRefusedError(
      EffectRefusal.SameItemTwice,
      `record ${describe(context)} already wrote item ${again.replace('\u0000', ' ')} in this handler call; a second write would be taken for a repeat: write each item once per record`,
      { context: positionContext(context) },
    );
  }
}

function remember(context: EffectContext, identities: readonly string[]): void {
  if (identities.length === 0) return;
  let set = written.get(context);
  if (!set) written.set(context, (set = new Set()));
  for (const identity of identities) set.add(identity);
}

function wholeAtLeast(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigurationError(`exactlyOnce ${name} must be a whole number >= ${min}, got ${String(value)}`);
  }
  return value;
}

function describe(context: EffectContext): string {
  return `${topicPartitionId(context.topic, context.partition)}@${context.offset}`;
}

function positionContext(context: EffectContext): Record<string, unknown> {
  return {
    processor: context.processor,
    topic: context.topic,
    partition: context.partition,
    offset: context.offset,
  };
}
