import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { letterFrom, parkedKeysOf, skipFrom } from './dead-letter-item.js';
import {
  RedriveRefusedError,
  type AuditEntry,
  type AuditNote,
  type DeadLetterStore,
  type ParkedKeyRef,
  type ParkedKeyState,
  type RedriveLease,
} from './dead-letter-store.js';
import { PARKED_ERROR_CHARS, type DeadLetter, type LetterError, type SourceSkip } from './dead-letter.js';
import { ConfigurationError, FencedError } from '../errors.js';
import { topicPartitionId } from '../kafka/kafka-record.js';
import { DynamoDbTokenStore } from '../tokens/dynamodb-token-store.js';
import { tokenKeys } from '../tokens/token-table.js';
import type { Clock } from '../tokens/token-store.js';

/** Settings of the DynamoDB dead-letter store (the token table). */
export interface DynamoDbDeadLetterStoreOptions {
  readonly tableName: string;
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
  /** @default Date.now */
  readonly clock?: Clock;
}

/** A redrive's writes: only under its own live lease (owner and epoch). */
const FENCED = '#parked.#d.#lo = :owner AND #parked.#d.#le = :epoch AND #parked.#d.#lu > :now';

/** Map paths of a parked key's entry: `#parked.#d.<field>`. */
const NAMES = {
  '#parked': 'parked',
  '#c': 'c',
  '#r': 'r',
  '#a': 'a',
  '#n': 'n',
  '#e': 'e',
  '#lo': 'lo',
  '#le': 'le',
  '#lu': 'lu',
} as const;

/**
 * Dead letters in the token table (see docs/decisions/0009). Parked keys live on the partition items; a redrive's
 * writes name only its key's entry and are conditional on its lease's owner and epoch, so they never overwrite what
 * the partition's claim holder writes.
 */
export class DynamoDbDeadLetterStore implements DeadLetterStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tokens: DynamoDbTokenStore;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(options: DynamoDbDeadLetterStoreOptions) {
    if (!options.tableName) throw new ConfigurationError('DynamoDbDeadLetterStore needs a tableName, got none');
    this.tableName = options.tableName;
    this.clock = options.clock ?? Date.now;
    const client = options.client ?? new DynamoDBClient(options.clientConfig ?? {});
    this.documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.tokens = new DynamoDbTokenStore({ tableName: this.tableName, client, clock: this.clock });
  }

  async listParkedKeys(processor: string): Promise<ParkedKeyState[]> {
    const state = await this.tokens.readState(processor);
    return state.partitions.flatMap((p) =>
      p.parked.map((entry) => ({ ...entry, topic: p.topic, partition: p.partition })),
    );
  }

  async readLetters(ref: ParkedKeyRef, options: { limit?: number; fromOffset?: number } = {}): Promise<DeadLetter[]> {
    // Records without an offset are parked at negative positions: from the first letter of all unless told.
    const from =
      options.fromOffset === undefined
        ? 'LETTER#'
        : tokenKeys.letter(ref.processor, topicPartition(ref), ref.digest, options.fromOffset).sk;
    const letters: DeadLetter[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk >= :from',
          ExpressionAttributeValues: {
            ':pk': tokenKeys.letters(ref.processor, topicPartition(ref), ref.digest),
            ':from': from,
          },
          ConsistentRead: true,
          ...(options.limit ? { Limit: options.limit - letters.length } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) letters.push(letterFrom(item));
      start = page.LastEvaluatedKey;
    } while (start && (options.limit === undefined || letters.length < options.limit));
    return letters;
  }

  async takeLease(
    ref: ParkedKeyRef,
    options: { owner: string; leaseMs: number; dueBy?: number },
  ): Promise<RedriveLease> {
    const now = this.clock();
    const until = now + options.leaseMs;
    const update = 'SET #parked.#d.#lo = :owner, #parked.#d.#lu = :until, #parked.#d.#le = #parked.#d.#le + :one';
    const condition =
      'attribute_exists(#parked.#d) AND #parked.#d.#c > #parked.#d.#r AND #parked.#d.#lu <= :now' +
      (options.dueBy === undefined ? '' : ' AND #parked.#d.#n <= :due');
    try {
      const result = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: partitionKey(ref),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: entryNames(ref.digest, update, condition),
          ExpressionAttributeValues: {
            ':owner': options.owner,
            ':until': until,
            ':one': 1,
            ':now': now,
            ...(options.dueBy === undefined ? {} : { ':due': options.dueBy }),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const entry = parkedKeysOf(result.Attributes?.parked).get(ref.digest)!;
      return { ...ref, owner: options.owner, epoch: entry.lease.epoch, until, entry };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw this.refusal(ref, error, now, options.dueBy);
    }
  }

  async resolve(lease: RedriveLease, offset: number, options: { leaseMs: number }): Promise<RedriveLease> {
    const now = this.clock();
    const until = now + options.leaseMs;
    await this.fencedTransaction(lease, [
      {
        Delete: {
          TableName: this.tableName,
          Key: tokenKeys.letter(lease.processor, topicPartition(lease), lease.digest, offset),
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
      this.fencedEntryUpdate(lease, now, 'SET #parked.#d.#r = #parked.#d.#r + :one, #parked.#d.#lu = :until', {
        ':one': 1,
        ':until': until,
      }),
    ]);
    return { ...lease, until, entry: { ...lease.entry, resolved: lease.entry.resolved + 1 } };
  }

  async fail(
    lease: RedriveLease,
    failure: { offset: number; error: LetterError; attempts: number; nextAttemptAt: number },
  ): Promise<void> {
    const now = this.clock();
    await this.fencedTransaction(lease, [
      this.fencedEntryUpdate(
        lease,
        now,
        'SET #parked.#d.#a = #parked.#d.#a + :one, #parked.#d.#n = :next, #parked.#d.#e = :error, #parked.#d.#lu = :zero',
        {
          ':one': 1,
          ':next': failure.nextAttemptAt,
          ':error': `${failure.error.name}: ${failure.error.message}`.slice(0, PARKED_ERROR_CHARS),
          ':zero': 0,
        },
      ),
      {
        Update: {
          TableName: this.tableName,
          Key: tokenKeys.letter(lease.processor, topicPartition(lease), lease.digest, failure.offset),
          UpdateExpression: 'SET #attempts = :attempts, #lastFailureAt = :now, #error = :error',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#attempts': 'attempts', '#lastFailureAt': 'lastFailureAt', '#error': 'error' },
          ExpressionAttributeValues: { ':attempts': failure.attempts, ':now': now, ':error': { ...failure.error } },
        },
      },
    ]);
  }

  async release(lease: RedriveLease, options: { nextAttemptAt: number }): Promise<void> {
    const now = this.clock();
    try {
      await this.documents.send(
        new UpdateCommand({
          ...this.fencedEntryUpdate(lease, now, 'SET #parked.#d.#lu = :zero, #parked.#d.#n = :next', {
            ':zero': 0,
            ':next': options.nextAttemptAt,
          }).Update,
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async makeDue(ref: ParkedKeyRef, at: number): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: partitionKey(ref),
          UpdateExpression: 'SET #parked.#d.#n = :at',
          ConditionExpression: 'attribute_exists(#parked.#d) AND #parked.#d.#c > #parked.#d.#r',
          ExpressionAttributeNames: entryNames(ref.digest, '#parked #n #c #r'),
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  async deleteLetters(ref: ParkedKeyRef, offsets: readonly number[], note: AuditNote): Promise<number> {
    let deleted = 0;
    for (const offset of offsets) {
      const now = this.clock();
      try {
        await this.documents.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: this.tableName,
                  Key: tokenKeys.letter(ref.processor, topicPartition(ref), ref.digest, offset),
                  ConditionExpression: 'attribute_exists(pk)',
                },
              },
              {
                // Never under a live redrive: it may be handling this very letter.
                Update: {
                  TableName: this.tableName,
                  Key: partitionKey(ref),
                  UpdateExpression: 'SET #parked.#d.#r = #parked.#d.#r + :one',
                  ConditionExpression:
                    'attribute_exists(#parked.#d) AND #parked.#d.#c > #parked.#d.#r AND #parked.#d.#lu <= :now',
                  ExpressionAttributeNames: entryNames(ref.digest, '#parked #c #r #lu'),
                  ExpressionAttributeValues: { ':one': 1, ':now': now },
                },
              },
              {
                Put: {
                  TableName: this.tableName,
                  Item: {
                    pk: tokenKeys.audit(ref.processor),
                    sk: `${new Date(now).toISOString()}#${randomUUID()}`,
                    kind: 'audit',
                    processor: ref.processor,
                    at: now,
                    action: 'delete-letter',
                    target: `${topicPartition(ref)}/${ref.digest}@${offset}`,
                    by: note.by,
                    reason: note.reason,
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
          }),
        );
        deleted++;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [letter, entry] = error.CancellationReasons ?? [];
        if (letter?.Code === 'ConditionalCheckFailed') continue;
        if (entry?.Code === 'ConditionalCheckFailed') {
          throw new RedriveRefusedError(
            `letters of ${topicPartition(ref)}/${ref.digest} cannot be deleted now: a redrive holds the key (or it is not parked); try again in a moment`,
            'leased',
            { ...ref },
          );
        }
        throw error;
      }
    }
    return deleted;
  }

  async listSkips(processor: string): Promise<SourceSkip[]> {
    const skips: SourceSkip[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': tokenKeys.skips(processor) },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) skips.push(skipFrom(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return skips.sort((a, b) => a.at - b.at);
  }

  async listAudit(processor: string, limit = 50): Promise<AuditEntry[]> {
    const page = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': tokenKeys.audit(processor) },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (page.Items ?? []).map((item) => ({
      processor: String(item.processor),
      at: Number(item.at),
      action: String(item.action),
      target: String(item.target),
      by: String(item.by),
      reason: String(item.reason),
    }));
  }

  /** An update of the lease holder's entry, conditional on its owner, epoch and live lease. */
  private fencedEntryUpdate(lease: RedriveLease, now: number, update: string, values: Record<string, unknown>) {
    return {
      Update: {
        TableName: this.tableName,
        Key: partitionKey(lease),
        UpdateExpression: update,
        ConditionExpression: FENCED,
        ExpressionAttributeNames: entryNames(lease.digest, update, FENCED),
        ExpressionAttributeValues: { ...values, ':owner': lease.owner, ':epoch': lease.epoch, ':now': now },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  private async fencedTransaction(
    lease: RedriveLease,
    items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>,
  ): Promise<void> {
    try {
      await this.documents.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const entryIndex = items.findIndex((item) => item.Update?.Key?.sk === 'TOKEN');
      if (reasons[entryIndex]?.Code === 'ConditionalCheckFailed') {
        throw new FencedError(
          `redrive lease epoch ${lease.epoch} on ${topicPartition(lease)}/${lease.digest} of "${lease.processor}" can no longer write: it expired or was taken over`,
          { context: { ...lease, entry: undefined }, cause: error },
        );
      }
      throw new FencedError(
        `redrive write on ${topicPartition(lease)}/${lease.digest} was cancelled (${reasons.map((r) => r.Code ?? '?').join(', ')}); the letter changed under the lease`,
        { cause: error },
      );
    }
  }

  private refusal(
    ref: ParkedKeyRef,
    error: ConditionalCheckFailedException,
    now: number,
    dueBy: number | undefined,
  ): RedriveRefusedError {
    const where = `${topicPartition(ref)}/${ref.digest} of "${ref.processor}"`;
    const entry = error.Item ? parkedKeysOfRaw(error.Item, ref.digest) : undefined;
    if (!entry || entry.c <= entry.r)
      return new RedriveRefusedError(`${where} has no letters to redrive`, 'not parked', { ...ref });
    if (entry.lu > now) {
      return new RedriveRefusedError(
        `${where} is being redriven by another holder for ${entry.lu - now} ms`,
        'leased',
        { ...ref },
      );
    }
    return new RedriveRefusedError(
      `${where} is not due before ${new Date(entry.n).toISOString()} (asked for ${new Date(dueBy ?? now).toISOString()})`,
      'not due',
      { ...ref },
    );
  }
}

function topicPartition(ref: Pick<ParkedKeyRef, 'topic' | 'partition'>): string {
  return topicPartitionId(ref.topic, ref.partition);
}

function partitionKey(ref: ParkedKeyRef) {
  return tokenKeys.partition(ref.processor, ref.topic, ref.partition);
}

/** The names a parked key's expressions use: its entry (`#d`, the digest) and the entry fields they mention. */
function entryNames(digest: string, ...expressions: string[]): Record<string, string> {
  const used = new Set([...expressions.join(' ').matchAll(/#\w+/g)].map((m) => m[0]));
  const names: Record<string, string> = { '#d': digest };
  for (const [placeholder, name] of Object.entries(NAMES)) if (used.has(placeholder)) names[placeholder] = name;
  return names;
}

/** The few numbers a refusal needs, from the raw (marshalled) item a failed condition returns. */
function parkedKeysOfRaw(item: Record<string, unknown>, digest: string) {
  const parked = (item.parked as { M?: Record<string, { M?: Record<string, { N?: string }> }> } | undefined)?.M;
  const entry = parked?.[digest]?.M;
  if (!entry) return undefined;
  const n = (name: string) => Number(entry[name]?.N ?? 0);
  return { c: n('c'), r: n('r'), lu: n('lu'), n: n('n') };
}
