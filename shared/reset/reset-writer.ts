import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store.js';
import { isParked } from '../dead-letters/dead-letter.js';
import { TidemarkError } from '../errors.js';
import { parseSegmentName } from '../routing/segment.js';
import { PartitionToken } from '../tokens/token.js';
import { PARTITION_ATTRIBUTES, tokenKeys } from '../tokens/token-table.js';
import type { Clock } from '../tokens/token-store.js';
import { ResetConflictError } from './reset-errors.js';
import { LAST_RESET_ID, readPartitionItem, type PartitionItem, type TokenTable } from './reset-items.js';
import { cellTargetOf, type PartitionResetPlan } from './reset-plan.js';
import { formatResetTarget, type ResetTarget } from './reset-spec.js';
import { joinTokens, neverProcessed, resetToken } from './reset-token.js';

/** What the reset writer writes with. */
export interface ResetWriteContext {
  readonly table: TokenTable;
  /** Parked letters are deleted through the dead-letter store's audited delete. */
  readonly deadLetters: Pick<DeadLetterStore, 'readLetters' | 'deleteLetters'>;
  readonly clock?: Clock;
}

/** The reset being written: its id, target and scope, the layout it was planned on, and who asked and why. */
export interface ResetWriteRequest {
  readonly processor: string;
  readonly resetId: string;
  readonly target: ResetTarget;
  readonly layoutVersion: number;
  readonly segments: readonly string[] | null;
  readonly clearParked: boolean;
  /** The principal (an IAM ARN, or a user name locally), kept on the audit items. */
  readonly by: string;
  readonly reason: string;
}

/** What happened to one partition. */
export interface PartitionResetOutcome {
  readonly id: string;
  /** `written` now, `already` by this reset before (skipped), or `unchanged` (nothing to write). */
  readonly outcome: 'written' | 'already' | 'unchanged';
  readonly epoch: number | null;
  readonly lettersCleared: number;
}

/** What the writer did over all partitions. */
export interface ResetWriteResult {
  readonly written: number;
  readonly already: number;
  readonly unchanged: number;
  readonly lettersCleared: number;
  readonly partitions: readonly PartitionResetOutcome[];
}

/** Attempts of one partition's write when a straggler's checkpoint or a transaction conflict got in between. */
const WRITE_ATTEMPTS = 5;
/** Partitions written at once. */
const CONCURRENCY = 8;

/**
 * Writes a planned reset: every pending partition in one conditional transaction each ({@link writePartitionReset}),
 * then one audit item for the reset (only when this run wrote or cleared something, so running the same reset again
 * records nothing new).
 */
export async function writeReset(
  context: ResetWriteContext,
  request: ResetWriteRequest,
  partitions: readonly PartitionResetPlan[],
): Promise<ResetWriteResult> {
  const pending = partitions.filter((p) => p.pending || p.done);
  const outcomes: PartitionResetOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const partition = pending[next++]!;
      outcomes.push(await writePartitionReset(context, request, partition));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pending.length) }, worker));
  outcomes.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  const result = {
    written: outcomes.filter((o) => o.outcome === 'written').length,
    already: outcomes.filter((o) => o.outcome === 'already').length,
    unchanged: outcomes.filter((o) => o.outcome === 'unchanged').length,
    lettersCleared: outcomes.reduce((n, o) => n + o.lettersCleared, 0),
    partitions: outcomes,
  };
  if (result.written > 0 || result.lettersCleared > 0) await writeAudit(context, request, result);
  return result;
}

/**
 * Resets one partition in ONE transaction: the partition item's update, conditional on the epoch the plan read (a
 * claim since then means an invocation is still running: {@link ResetConflictError}) and on the token as just read
 * (a straggler's checkpoint in between makes it read and recompute, so none of its progress is overwritten), with a
 * condition check that the layout is still the planned version with no change under way. The update moves the epoch
 * on and ends the claim (owner removed, lease 0), so a straggler holding the old epoch can no longer checkpoint; sets
 * the scoped cells to the target; keeps the token before the reset as `replayToken` (joined with a replay token
 * still there, so a reset during a replay keeps flagging what the first replay flagged) with `resetId`; and records
 * `lastResetId`, by which the same reset run again skips the partition. Letters are cleared after, when asked, through
 * the dead-letter store's audited delete; that part is repeated on a rerun, and deletes only what is still there.
 */
export async function writePartitionReset(
  context: ResetWriteContext,
  request: ResetWriteRequest,
  plan: PartitionResetPlan,
): Promise<PartitionResetOutcome> {
  const clock = context.clock ?? Date.now;
  const where = `${plan.id} of "${request.processor}"`;
  const scope = request.segments === null ? null : request.segments.map((s) => parseSegmentName(s));
  for (let attempt = 1; ; attempt++) {
    const item = await readPartitionItem(context.table, request.processor, plan.topic, plan.partition);
    if (item?.lastResetId === request.resetId) {
      return {
        id: plan.id,
        outcome: 'already',
        epoch: item.epoch,
        lettersCleared: await clearLetters(context, request, item),
      };
    }
    if ((item?.epoch ?? null) !== plan.epoch) {
      throw new ResetConflictError(
        `${where} was claimed since the reset was planned (epoch ${String(plan.epoch)}, now ${String(item?.epoch ?? null)}): an invocation is still running; nothing of this partition was written, run the reset again`,
        { context: { processor: request.processor, partition: plan.id } },
      );
    }
    const token = item?.token;
    const reset = token ? resetToken(token, scope, cellTargetOf(plan, request.target)) : undefined;
    const fresh = item === undefined;
    if (!fresh && !reset!.changed && !(request.clearParked && item.parked.some(isParked))) {
      return { id: plan.id, outcome: 'unchanged', epoch: item.epoch, lettersCleared: 0 };
    }
    // Never claimed: the dispatcher's first claim keeps the token written here.
    const newToken = fresh
      ? resetToken(PartitionToken.initial(), scope, cellTargetOf(plan, request.target)).token
      : reset!.token;
    const replay =
      token && !neverProcessed(token) ? (item!.replay ? joinTokens(item!.replay.token, token) : token) : null;
    try {
      await context.table.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: partitionUpdate(
                context,
                request,
                plan,
                item,
                newToken.encode(),
                replay?.encode() ?? null,
                clock(),
              ),
            },
            {
              ConditionCheck: {
                TableName: context.table.tableName,
                Key: tokenKeys.layout(request.processor),
                ConditionExpression: '#version = :version AND attribute_not_exists(#change)',
                ExpressionAttributeNames: { '#version': 'version', '#change': 'change' },
                ExpressionAttributeValues: { ':version': request.layoutVersion },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [partitionReason, layoutReason] = error.CancellationReasons ?? [];
      if (layoutReason?.Code === 'ConditionalCheckFailed') {
        throw new ResetConflictError(
          `the layout of "${request.processor}" changed since the reset was planned on v${request.layoutVersion} (or a split, merge or scale began): ${plan.id} was not written; run the reset again`,
          { context: { processor: request.processor, partition: plan.id, layoutVersion: request.layoutVersion } },
        );
      }
      const raced =
        partitionReason?.Code === 'ConditionalCheckFailed' ||
        [partitionReason, layoutReason].some((r) => r?.Code === 'TransactionConflict');
      if (!raced) throw error;
      if (attempt >= WRITE_ATTEMPTS) {
        throw new TidemarkError(`${where} kept changing while the reset was written (${attempt} attempts)`, {
          retriable: true,
          cause: error,
        });
      }
      // A checkpoint landed in between (its token is read again, and kept where out of scope) or a write raced ours.
      await sleep(20 * attempt);
      continue;
    }
    const written = await readPartitionItem(context.table, request.processor, plan.topic, plan.partition);
    return {
      id: plan.id,
      outcome: 'written',
      epoch: written?.epoch ?? null,
      lettersCleared: written ? await clearLetters(context, request, written) : 0,
    };
  }
}

/** The fenced update of one partition item (see {@link writePartitionReset}). */
function partitionUpdate(
  context: ResetWriteContext,
  request: ResetWriteRequest,
  plan: PartitionResetPlan,
  item: PartitionItem | undefined,
  token: Uint8Array,
  replayToken: Uint8Array | null,
  now: number,
) {
  const names: Record<string, string> = {
    '#token': 'token',
    '#leaseUntil': 'leaseUntil',
    '#updatedAt': 'updatedAt',
    '#lastResetId': LAST_RESET_ID,
    '#epoch': 'epoch',
  };
  const values: Record<string, unknown> = {
    ':token': token,
    ':zero': 0,
    ':now': now,
    ':resetId': request.resetId,
    ':one': 1,
  };
  const sets = ['#token = :token', '#leaseUntil = :zero', '#updatedAt = :now', '#lastResetId = :resetId'];
  const removes: string[] = [];
  let condition: string;
  if (item === undefined) {
    // A partition never claimed: the item is created; the first claim registers the partition.
    Object.assign(names, { '#processor': 'processor', '#topic': 'topic', '#partition': 'partition' });
    Object.assign(values, { ':processor': request.processor, ':topic': plan.topic, ':partition': plan.partition });
    sets.push('#processor = :processor', '#topic = :topic', '#partition = :partition');
    condition = 'attribute_not_exists(pk)';
  } else {
    names['#owner'] = 'owner';
    removes.push('#owner');
    values[':epoch'] = item.epoch;
    if (item.storedToken === undefined) {
      condition = '#epoch = :epoch AND attribute_not_exists(#token)';
    } else {
      values[':stored'] = item.storedToken;
      condition = '#epoch = :epoch AND #token = :stored';
    }
    if (replayToken) {
      Object.assign(names, {
        '#replayToken': PARTITION_ATTRIBUTES.replayToken,
        '#resetId': PARTITION_ATTRIBUTES.resetId,
      });
      values[':replay'] = replayToken;
      sets.push('#replayToken = :replay', '#resetId = :resetId');
    }
  }
  return {
    TableName: context.table.tableName,
    Key: tokenKeys.partition(request.processor, plan.topic, plan.partition),
    UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''} ADD #epoch :one`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** Deletes the letters of the partition's parked keys, when the reset clears them; how many were deleted. */
async function clearLetters(
  context: ResetWriteContext,
  request: ResetWriteRequest,
  item: PartitionItem,
): Promise<number> {
  if (!request.clearParked) return 0;
  let deleted = 0;
  for (const entry of item.parked.filter(isParked)) {
    const ref = { processor: request.processor, topic: item.topic, partition: item.partition, digest: entry.digest };
    const letters = await context.deadLetters.readLetters(ref);
    deleted += await context.deadLetters.deleteLetters(
      ref,
      letters.map((letter) => letter.offset),
      { by: request.by, reason: `reset ${request.resetId}: ${request.reason}` },
    );
  }
  return deleted;
}

/** The reset's audit item, beside the dead-letter deletes' and the admin commands' in the processor's audit key. */
async function writeAudit(
  context: ResetWriteContext,
  request: ResetWriteRequest,
  result: ResetWriteResult,
): Promise<void> {
  const now = (context.clock ?? Date.now)();
  const scope = request.segments === null ? '' : ` segments ${request.segments.join(',')}`;
  const partitions = result.partitions.filter((p) => p.outcome === 'written').map((p) => p.id);
  await context.table.documents.send(
    new PutCommand({
      TableName: context.table.tableName,
      Item: {
        pk: tokenKeys.audit(request.processor),
        sk: `${new Date(now).toISOString()}#${randomUUID()}`,
        kind: 'audit',
        processor: request.processor,
        at: now,
        action: 'reset',
        target:
          `${formatResetTarget(request.target)}${scope} on ${partitions.length} partition(s): ${partitions.join(',')}`.slice(
            0,
            2_000,
          ),
        by: request.by,
        reason: request.reason,
        resetId: request.resetId,
        clearParked: request.clearParked,
        lettersCleared: result.lettersCleared,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}
