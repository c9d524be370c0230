import { assertProcessorName } from '../settings.js';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  TransactWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  failuresItem,
  failuresOf,
  letterItem,
  parkedEntryItem,
  parkedKeysOf,
  skipItem,
} from '../dead-letters/dead-letter-item.js';
import { ConfigurationError, FencedError, TidemarkError, UnknownProcessorError } from '../errors.js';
import {
  assertLayout,
  balancedSegments,
  decodeSegmentTree,
  encodeSegmentTree,
  SegmentState,
  type Layout,
  type LayoutChange,
  type LayoutSegment,
} from '../routing/layout.js';
import { parseTopicPartition, topicPartitionId } from '../kafka/kafka-record.js';
import { PartitionToken, TOKEN_MAX_BYTES } from './token.js';
import { readReplay, replayPassed } from './replay.js';
import { LAYOUT_REPLICAS, PARTITION_ATTRIBUTES, tokenKeys } from './token-table.js';
import {
  claimRefusal,
  fenced,
  layoutConflict,
  type CheckpointChanges,
  type CheckpointResult,
  type Claim,
  type ClaimRef,
  type ClaimRequest,
  type Clock,
  type PartitionState,
  type ProcessorState,
  type TokenStore,
} from './token-store.js';

/** Settings of the DynamoDB token store. */
export interface DynamoDbTokenStoreOptions {
  readonly tableName: string;
  /** A client to reuse; otherwise one is made from `clientConfig`. */
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
  /** @default Date.now */
  readonly clock?: Clock;
  /** Which copy of the layout (0 to LAYOUT_REPLICAS - 1) this store reads. @default one at random */
  readonly layoutReplica?: number;
}

type Item = Record<string, unknown>;

/** DynamoDB's item size limit. */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * Kept free on a partition item besides what a checkpoint knows of it: what redrives may add to its parked keys
 * between the claim and the checkpoint (an error text and a lease owner each), and the rounding of the estimate.
 */
const PARTITION_ITEM_MARGIN_BYTES = 16 * 1024;

/**
 * The token store on DynamoDB. One item per processor layout, one registry item listing the partitions seen, and
 * one item per partition holding its claim and token: a batch costs two writes per partition (claim, then
 * checkpoint-and-release), whatever the number of segments. Every write is conditional; see
 * docs/architecture.md for the expressions.
 */
export class DynamoDbTokenStore implements TokenStore {
  private readonly documents: DynamoDBDocumentClient;
  /** The token table this store reads and writes. */
  readonly tableName: string;
  private readonly clock: Clock;
  private readonly replica: number;

  constructor(options: DynamoDbTokenStoreOptions) {
    if (!options.tableName) throw new ConfigurationError('DynamoDbTokenStore needs a tableName, got none');
    this.tableName = options.tableName;
    this.clock = options.clock ?? Date.now;
    const replica = options.layoutReplica ?? Math.floor(Math.random() * LAYOUT_REPLICAS);
    if (!Number.isInteger(replica) || replica < 0 || replica >= LAYOUT_REPLICAS) {
      throw new ConfigurationError(`layoutReplica must be an integer from 0 to ${LAYOUT_REPLICAS - 1}, got ${replica}`);
    }
    this.replica = replica;
    const client = options.client ?? new DynamoDBClient(options.clientConfig ?? {});
    this.documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async initialise(processor: string, segmentCount: number): Promise<Layout> {
    assertProcessorName(processor);
    const segments = balancedSegments(segmentCount).map((s) => ({ ...s, state: SegmentState.Active }));
    const layout: Layout = { processor, version: 1, segments };
    for (let attempt = 0; ; attempt++) {
      const now = this.clock();
      try {
        await this.documents.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: { ...tokenKeys.layout(processor), ...layoutAttributes(layout), createdAt: now, updatedAt: now },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              ...this.replicaPuts(layout, now),
            ],
          }),
        );
        return layout;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const codes = (error.CancellationReasons ?? []).map((r) => r.Code);
        if (codes[0] === 'ConditionalCheckFailed') break;
        // Racing containers initialising at once: one wins, the others read its layout.
        if (!codes.includes('TransactionConflict') || attempt >= 4) throw error;
        await sleep(20 * 2 ** attempt);
      }
    }
    const existing = await this.readPrimaryLayout(processor);
    if (existing.segments.length !== segmentCount) {
      throw new ConfigurationError(
        `processor "${processor}" is already initialised with ${existing.segments.length} segments (layout v${existing.version}), not ${segmentCount}; change it with split, merge or scale`,
      );
    }
    return existing;
  }

  /**
   * Reads this store's copy of the layout (one strongly consistent read of a small item, on a key of its own). A
   * processor whose layout was written before the copies existed is read from the layout item, and the copy written
   * then, unless a layout write got there first: every layout write writes every copy in the same transaction, so a
   * copy is never older than the layout item once it exists.
   */
  async readLayout(processor: string): Promise<Layout> {
    const key = tokenKeys.layoutReplica(processor, this.replica);
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    if (Item) return toLayout(Item);
    const layout = await this.readPrimaryLayout(processor);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, ...layoutAttributes(layout), updatedAt: this.clock() },
          ConditionExpression: 'attribute_not_exists(pk) OR #version < :version',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':version': layout.version },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    return layout;
  }

  /** The layout item itself (strongly consistent): what every layout write is conditional on. */
  private async readPrimaryLayout(processor: string): Promise<Layout> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: tokenKeys.layout(processor), ConsistentRead: true }),
    );
    if (!Item) throw unknownProcessor(processor);
    return toLayout(Item);
  }

  /** The copies of the layout dispatchers read, written with every layout write. */
  private replicaPuts(layout: Layout, now: number) {
    return Array.from({ length: LAYOUT_REPLICAS }, (_, replica) => ({
      Put: {
        TableName: this.tableName,
        Item: { ...tokenKeys.layoutReplica(layout.processor, replica), ...layoutAttributes(layout), updatedAt: now },
      },
    }));
  }

  async changeLayout(processor: string, expectedVersion: number, segments: readonly LayoutSegment[]): Promise<Layout> {
    return this.writeLayout(processor, expectedVersion, segments, undefined);
  }

  async beginLayoutChange(
    processor: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    change: LayoutChange,
  ): Promise<Layout> {
    return this.writeLayout(processor, expectedVersion, segments, change);
  }

  async finishLayoutChange(
    processor: string,
    changeId: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    outcome: 'applied' | 'rolledBack',
  ): Promise<Layout> {
    const layout: Layout = { processor, version: expectedVersion + 1, segments: [...segments] };
    assertLayout(layout);
    const tree = encodeSegmentTree(layout.segments);
    const now = this.clock();
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: tokenKeys.layout(processor),
                UpdateExpression:
                  'SET #segments = :segments, #draining = :draining, #version = :next, #updatedAt = :now REMOVE #change',
                ConditionExpression: '#version = :expected AND #change.#id = :changeId',
                ExpressionAttributeNames: names('segments', 'draining', 'version', 'updatedAt', 'change', 'id'),
                ExpressionAttributeValues: {
                  ':segments': tree.tree,
                  ':draining': tree.draining,
                  ':next': layout.version,
                  ':now': now,
                  ':expected': expectedVersion,
                  ':changeId': changeId,
                },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...tokenKeys.history(processor, layout.version),
                  processor,
                  version: layout.version,
                  changeId,
                  outcome,
                  segments: tree.tree,
                  draining: tree.draining,
                  at: now,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            ...this.replicaPuts(layout, now),
          ],
        }),
      );
      return layout;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const current = await this.readPrimaryLayout(processor);
      throw layoutConflict(current, expectedVersion, changeId);
    }
  }

  private async writeLayout(
    processor: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    change: LayoutChange | undefined,
  ): Promise<Layout> {
    const layout: Layout = {
      processor,
      version: expectedVersion + 1,
      segments: [...segments],
      ...(change ? { change } : {}),
    };
    assertLayout(layout);
    const tree = encodeSegmentTree(layout.segments);
    const now = this.clock();
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: tokenKeys.layout(processor),
                UpdateExpression: `SET #segments = :segments, #draining = :draining, #version = :next, #updatedAt = :now${change ? ', #change = :change' : ''}`,
                ConditionExpression: '#version = :expected AND attribute_not_exists(#change)',
                ExpressionAttributeNames: names('segments', 'draining', 'version', 'updatedAt', 'change'),
                ExpressionAttributeValues: {
                  ':segments': tree.tree,
                  ':draining': tree.draining,
                  ':next': layout.version,
                  ':expected': expectedVersion,
                  ':now': now,
                  ...(change ? { ':change': change } : {}),
                },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...this.replicaPuts(layout, now),
          ],
        }),
      );
      return layout;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const first = error.CancellationReasons?.[0];
      if (first?.Code === 'ConditionalCheckFailed' && !first.Item) throw unknownProcessor(processor);
      const current = await this.readPrimaryLayout(processor);
      // A write that raced ours (TransactionConflict) and left the layout as we expected: let the caller retry.
      if (first?.Code !== 'ConditionalCheckFailed' && current.version === expectedVersion && !current.change)
        throw error;
      throw layoutConflict(current, expectedVersion, change?.id);
    }
  }

  async claim(request: ClaimRequest): Promise<Claim> {
    const now = this.clock();
    const key = tokenKeys.partition(request.processor, request.topic, request.partition);
    let item: Item;
    try {
      const result = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression:
            'SET #owner = :owner, #leaseUntil = :until, #layoutVersion = :layoutVersion, #processor = :processor, ' +
            '#topic = :topic, #partition = :partition, #updatedAt = :now, #token = if_not_exists(#token, :initial), ' +
            '#parked = if_not_exists(#parked, :noParked)' +
            (request.batch ? ', #prevBatch = if_not_exists(#batch, :noBatch), #batch = :batch ' : ' ') +
            'ADD #epoch :one',
          ConditionExpression:
            '(attribute_not_exists(#epoch) OR #leaseUntil <= :now OR #owner = :owner) AND ' +
            '(attribute_not_exists(#layoutVersion) OR #layoutVersion <= :layoutVersion)',
          ExpressionAttributeNames: names(
            'owner',
            'leaseUntil',
            'layoutVersion',
            'processor',
            'topic',
            'partition',
            'updatedAt',
            'token',
            'epoch',
            'parked',
            ...(request.batch ? ['prevBatch', 'batch'] : []),
          ),
          ExpressionAttributeValues: {
            ':owner': request.owner,
            ':until': now + request.leaseMs,
            ':layoutVersion': request.layoutVersion,
            ':processor': request.processor,
            ':topic': request.topic,
            ':partition': request.partition,
            ':now': now,
            ':initial': PartitionToken.initial().encode(),
            ':noParked': {},
            ':one': 1,
            ...(request.batch ? { ':noBatch': [], ':batch': [request.batch.first, request.batch.last] } : {}),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      item = result.Attributes!;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || !error.Item) throw error;
      throw claimRefusal(request, rawNumbers(error.Item), now);
    }
    if (item.registered !== true) await this.register(request);
    const { updatedAt: _updatedAt, parked: _parked, ...state } = toPartitionState(item);
    // The batch this claim replaced (one abandoned before its checkpoint) was delivered too; the same batch again
    // tells nothing new.
    const previous = Array.isArray(item.prevBatch) && item.prevBatch.length === 2 ? Number(item.prevBatch[1]) : null;
    const repeated =
      request.batch !== undefined &&
      Array.isArray(item.prevBatch) &&
      Number(item.prevBatch[0]) === request.batch.first &&
      previous === request.batch.last;
    const seen = item.seen === undefined ? null : Number(item.seen);
    const candidates = [seen, repeated ? null : previous].filter((v): v is number => v !== null);
    return {
      ...state,
      processor: request.processor,
      owner: request.owner,
      parked: parkedKeysOf(item.parked),
      failures: failuresOf(item.failures),
      seenThrough: candidates.length ? Math.max(...candidates) : null,
    };
  }

  async readLease<C extends ClaimRef>(claim: C): Promise<C> {
    const now = this.clock();
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: tokenKeys.partition(claim.processor, claim.topic, claim.partition),
        ConsistentRead: true,
        ProjectionExpression: '#owner, #epoch, #leaseUntil',
        ExpressionAttributeNames: names('owner', 'epoch', 'leaseUntil'),
      }),
    );
    const current = Item && {
      owner: String(Item.owner),
      epoch: Number(Item.epoch),
      leaseUntil: Number(Item.leaseUntil ?? 0),
    };
    if (!current || current.owner !== claim.owner || current.epoch !== claim.epoch || current.leaseUntil <= now) {
      throw fenced(claim, current, now);
    }
    return { ...claim, leaseUntil: current.leaseUntil };
  }

  async renew<C extends ClaimRef>(claim: C, leaseMs: number): Promise<C> {
    const now = this.clock();
    const leaseUntil = now + leaseMs;
    await this.fencedUpdate(
      claim,
      'SET #leaseUntil = :until, #updatedAt = :now',
      { ':until': leaseUntil },
      now,
      {},
      'live',
    );
    return { ...claim, leaseUntil };
  }

  async checkpoint(
    claim: Claim,
    token: PartitionToken,
    options: { release: boolean; leaseMs: number; changes?: CheckpointChanges },
  ): Promise<Claim & CheckpointResult> {
    const now = this.clock();
    const leaseUntil = options.release ? 0 : now + options.leaseMs;
    const sets = ['#token = :token', '#leaseUntil = :until', '#updatedAt = :now', '#registered = :registered'];
    const removes: string[] = [];
    // The item must never pass DynamoDB's limit: the token gets what the item's other attributes leave, at most its
    // own budget (advance already keeps it there; a token cut here only covers less, so nothing is lost).
    const room = DYNAMODB_ITEM_LIMIT_BYTES - PARTITION_ITEM_MARGIN_BYTES - bytesBesideToken(claim, options.changes);
    const stored =
      token.encodedSize() > Math.min(TOKEN_MAX_BYTES, room)
        ? token.bounded(Math.min(TOKEN_MAX_BYTES, room)).token
        : token;
    const values: Record<string, unknown> = { ':token': stored.encode(), ':until': leaseUntil, ':registered': true };
    const paths: Record<string, string> = {};
    const changes = options.changes;
    if (changes?.lastRecordAt !== undefined && changes.lastRecordAt !== null) {
      sets.push(`#${PARTITION_ATTRIBUTES.lastRecordAt} = :lastRecordAt`);
      values[':lastRecordAt'] = changes.lastRecordAt;
    }
    // The replay is over once the token covers all its replay token covered; a reset in between bumped the epoch, so
    // this write would be fenced rather than remove a newer replay.
    const endsReplay = claim.replay !== null && replayPassed(stored, claim.replay.token);
    if (endsReplay) removes.push(`#${PARTITION_ATTRIBUTES.replayToken}`, `#${PARTITION_ATTRIBUTES.resetId}`);
    if (changes) {
      sets.push('#failures = :failures');
      values[':failures'] = failuresItem(changes.failures);
      if (changes.seenThrough !== null) {
        sets.push('#seen = :seen');
        values[':seen'] = changes.seenThrough;
      }
      changes.park.forEach((entry, i) => {
        paths[`#p${i}`] = entry.digest;
        if (entry.fresh) {
          sets.push(`#parked.#p${i} = :p${i}`);
          values[`:p${i}`] = parkedEntryItem(entry);
        } else {
          sets.push(`#parked.#p${i}.#c = #parked.#p${i}.#c + :p${i}`);
          values[`:p${i}`] = entry.count;
        }
      });
      changes.unpark.forEach((digest, i) => {
        paths[`#u${i}`] = digest;
        removes.push(`#parked.#u${i}`);
      });
    }
    const update = `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`;
    const puts = changes ? [...changes.letters.map(letterItem), ...changes.skips.map(skipItem)] : [];
    if (puts.length === 0) {
      await this.fencedUpdate(claim, update, values, now, paths, 'owned');
    } else {
      try {
        await this.fencedTransaction(claim, update, values, now, paths, puts);
      } catch (error) {
        // A letter that exists was parked by an earlier checkpoint (a record without an offset, which no token can
        // cover, delivered again): write the rest, without counting it twice.
        if (!(error instanceof LettersExistError) || !changes) throw error;
        return this.checkpoint(claim, token, { ...options, changes: withoutLetters(changes, error.sortKeys) });
      }
    }
    return {
      ...claim,
      leaseUntil,
      token: stored,
      lettersParked: changes?.letters.length ?? 0,
      lastRecordAt: changes?.lastRecordAt ?? claim.lastRecordAt,
      replay: endsReplay ? null : claim.replay,
    };
  }

  async release(claim: ClaimRef): Promise<void> {
    try {
      await this.fencedUpdate(
        claim,
        'SET #leaseUntil = :zero, #updatedAt = :now',
        { ':zero': 0 },
        this.clock(),
        {},
        'owned',
      );
    } catch (error) {
      if (!(error instanceof FencedError)) throw error;
    }
  }

  async readState(processor: string): Promise<ProcessorState> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        // LAYOUT and PARTITIONS sort after HISTORY#…: skip the history.
        KeyConditionExpression: 'pk = :pk AND sk >= :layout',
        ExpressionAttributeValues: { ':pk': tokenKeys.layout(processor).pk, ':layout': 'LAYOUT' },
        ConsistentRead: true,
      }),
    );
    const layoutItem = Items.find((i) => i.sk === 'LAYOUT');
    if (!layoutItem) throw unknownProcessor(processor);
    const registered = [...((Items.find((i) => i.sk === 'PARTITIONS')?.partitions as Set<string> | undefined) ?? [])];
    const keys = registered.map((id) => {
      const { topic, partition } = parseTopicPartition(id)!;
      return tokenKeys.partition(processor, topic, partition);
    });
    const partitions: PartitionState[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Array<Record<string, string>> = keys.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        const result = await this.documents.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) partitions.push(toPartitionState(item));
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys as typeof pending | undefined) ?? [];
        if (pending.length > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
      }
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { layout: toLayout(layoutItem), partitions };
  }

  private async register(ref: ClaimRequest): Promise<void> {
    // A set add is idempotent; the checkpoint marks the item registered so this happens once per partition.
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: tokenKeys.registry(ref.processor),
        UpdateExpression: 'ADD #partitions :partition',
        ExpressionAttributeNames: { '#partitions': 'partitions' },
        ExpressionAttributeValues: { ':partition': new Set([topicPartitionId(ref.topic, ref.partition)]) },
      }),
    );
  }

  /**
   * A partition item update conditional on the claim's owner and epoch, and with `live` on its lease too. A renewal
   * needs a live lease: past it, a claimer may take over at any moment. A checkpoint or release needs only the
   * epoch: a takeover raises it, so an unchanged epoch proves nobody else worked under a newer claim.
   */
  private fencedParams(
    claim: ClaimRef,
    update: string,
    values: Record<string, unknown>,
    now: number,
    paths: Record<string, string>,
    fence: Fence,
  ) {
    const condition = `#owner = :owner AND #epoch = :epoch${fence === 'live' ? ' AND #leaseUntil > :now' : ''}`;
    return {
      TableName: this.tableName,
      Key: tokenKeys.partition(claim.processor, claim.topic, claim.partition),
      UpdateExpression: update,
      ConditionExpression: condition,
      // Only the names the expressions use: DynamoDB rejects unused ones. Map paths name parked keys' digests.
      ExpressionAttributeNames: {
        ...names(...new Set([...`${update} ${condition}`.matchAll(/#(\w+)/g)].map((m) => m[1]!))),
        ...paths,
      },
      ExpressionAttributeValues: { ...values, ':owner': claim.owner, ':epoch': claim.epoch, ':now': now },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  private async fencedUpdate(
    claim: ClaimRef,
    update: string,
    values: Record<string, unknown>,
    now: number,
    paths: Record<string, string>,
    fence: Fence,
  ): Promise<void> {
    try {
      await this.documents.send(new UpdateCommand(this.fencedParams(claim, update, values, now, paths, fence)));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw fenced(claim, error.Item ? rawNumbers(error.Item) : undefined, now);
    }
  }

  /** The fenced update and new items (letters, skips) in one transaction: all of them are written, or none. */
  private async fencedTransaction(
    claim: ClaimRef,
    update: string,
    values: Record<string, unknown>,
    now: number,
    paths: Record<string, string>,
    puts: readonly Item[],
  ): Promise<void> {
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: this.fencedParams(claim, update, values, now, paths, 'owned') },
            ...puts.map((Item) => ({
              Put: { TableName: this.tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' },
            })),
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const first = reasons[0];
      if (first?.Code === 'ConditionalCheckFailed') {
        throw fenced(
          claim,
          first.Item ? rawNumbers(first.Item as Record<string, { N?: string; S?: string }>) : undefined,
          now,
        );
      }
      const existing = puts.filter((put, i) => reasons[i + 1]?.Code === 'ConditionalCheckFailed');
      const others = reasons.filter((r, i) => i > 0 && r.Code !== 'None' && r.Code !== 'ConditionalCheckFailed');
      if (existing.length > 0 && others.length === 0 && existing.every((put) => put.kind === 'letter')) {
        throw new LettersExistError(existing.map((put) => String(put.sk)));
      }
      const codes = reasons.map((r, i) => `${i === 0 ? 'partition item' : String(puts[i - 1]?.sk)}: ${r.Code ?? '?'}`);
      throw new TidemarkError(`checkpoint with ${puts.length} new item(s) was cancelled (${codes.join('; ')})`, {
        retriable: true,
        cause: error,
        context: { processor: claim.processor, topic: claim.topic, partition: claim.partition },
      });
    }
  }
}

/** Letters a checkpoint meant to park already exist (their sort keys). */
class LettersExistError extends TidemarkError {
  constructor(readonly sortKeys: readonly string[]) {
    super(`${sortKeys.length} letter(s) already parked`, { retriable: true });
  }
}

/** The changes without the letters already parked, and their keys' counts lowered to match. */
function withoutLetters(changes: CheckpointChanges, sortKeys: readonly string[]): CheckpointChanges {
  const existing = new Set(sortKeys);
  const dropped = changes.letters.filter((letter) => existing.has(String(letterItem(letter).sk)));
  const fewer = new Map<string, number>();
  for (const letter of dropped) fewer.set(letter.digest, (fewer.get(letter.digest) ?? 0) + 1);
  return {
    ...changes,
    letters: changes.letters.filter((letter) => !dropped.includes(letter)),
    park: changes.park
      .map((entry) => ({ ...entry, count: entry.count - (fewer.get(entry.digest) ?? 0) }))
      .filter((entry) => entry.count > 0 || entry.fresh),
  };
}

/** What a fenced write requires: the claim's owner and epoch (`owned`), and a lease not yet ended (`live`). */
type Fence = 'owned' | 'live';

/** `#name` placeholders for attribute names: several of ours (owner, partition, token, ...) are reserved words. */
function names(...attributes: string[]): Record<string, string> {
  return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
}

function rawNumbers(item: Record<string, { N?: string; S?: string }>) {
  const number = (name: string) => (item[name]?.N === undefined ? undefined : Number(item[name]!.N));
  return {
    owner: item.owner?.S,
    epoch: number('epoch'),
    leaseUntil: number('leaseUntil'),
    layoutVersion: number('layoutVersion'),
  };
}

/**
 * A layout as stored on the layout item and its copies: `segments` is one character per segment
 * ({@link encodeSegmentTree}) and `draining` names the draining ones, so 1,024 segments take about 1 KB.
 */
function layoutAttributes(layout: Layout): Item {
  const { tree, draining } = encodeSegmentTree(layout.segments);
  return {
    processor: layout.processor,
    version: layout.version,
    segments: tree,
    draining,
    ...(layout.change ? { change: layout.change } : {}),
  };
}

function toLayout(item: Item): Layout {
  const processor = String(item.processor);
  const segments =
    typeof item.segments === 'string'
      ? decodeSegmentTree(item.segments, ((item.draining ?? []) as unknown[]).map(String), `layout of "${processor}"`)
      : // Written before the compact form: a list of {id, mask, state}.
        ((item.segments ?? []) as Array<Record<string, unknown>>).map((s) => ({
          id: Number(s.id),
          mask: Number(s.mask),
          state: s.state as LayoutSegment['state'],
        }));
  const layout: Layout = {
    processor,
    version: Number(item.version),
    segments,
    ...(item.change ? { change: item.change as LayoutChange } : {}),
  };
  assertLayout(layout);
  return layout;
}

function toPartitionState(item: Item): PartitionState {
  return {
    topic: String(item.topic),
    partition: Number(item.partition),
    owner: item.owner === undefined ? undefined : String(item.owner),
    epoch: Number(item.epoch ?? 0),
    leaseUntil: Number(item.leaseUntil ?? 0),
    layoutVersion: Number(item.layoutVersion ?? 0),
    token: PartitionToken.read(item.token),
    updatedAt: Number(item.updatedAt ?? 0),
    parked: [...parkedKeysOf(item.parked).values()],
    lastRecordAt:
      item[PARTITION_ATTRIBUTES.lastRecordAt] === undefined ? null : Number(item[PARTITION_ATTRIBUTES.lastRecordAt]),
    replay: readReplay(
      item[PARTITION_ATTRIBUTES.replayToken],
      item[PARTITION_ATTRIBUTES.resetId],
      `${topicPartitionId(String(item.topic), Number(item.partition))} of "${String(item.processor)}"`,
    ),
  };
}

/**
 * What a partition item holds besides its token after a checkpoint, in DynamoDB's size terms (names and values):
 * keys, claim and bookkeeping attributes, the attempt counts and the parked keys as they will stand.
 */
function bytesBesideToken(claim: Claim, changes: CheckpointChanges | undefined): number {
  const text = (value: string | undefined) => (value === undefined ? 0 : Buffer.byteLength(value, 'utf8'));
  // pk, sk, processor, topic, owner; then ~20 numbers and flags (epoch, leases, versions, seen, batches, ...).
  let bytes = 2 * text(claim.processor) + 2 * text(claim.topic) + text(claim.owner) + 80 + 300;
  // A replay token stays on the item until the checkpoint that passes it, which may be this one.
  if (claim.replay) bytes += claim.replay.token.encodedSize() + text(claim.replay.resetId) + 20;
  bytes += changes ? text(failuresItem(changes.failures)) : 40 * claim.failures.size;
  const parked = new Map<string, { key: string; error?: string; owner?: string }>();
  for (const [digest, entry] of claim.parked) {
    parked.set(digest, { key: entry.key, error: entry.lastError, owner: entry.lease.owner });
  }
  for (const digest of changes?.unpark ?? []) parked.delete(digest);
  for (const entry of changes?.park ?? []) if (!parked.has(entry.digest)) parked.set(entry.digest, { key: entry.key });
  for (const [digest, entry] of parked) {
    // The digest names the entry; k, y, c, r, t, a, n, le, lu with their values; e and lo when present.
    bytes +=
      text(digest) + 3 + text(entry.key) + 90 + (text(entry.error) && 1 + text(entry.error)) + text(entry.owner) + 2;
  }
  return bytes;
}

function unknownProcessor(processor: string): UnknownProcessorError {
  return new UnknownProcessorError(`processor "${processor}" has no layout in the token store: initialise it first`, {
    context: { processor },
  });
}
