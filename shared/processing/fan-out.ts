import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { randomUUID } from 'node:crypto';
import { letterError } from '../dead-letters/dead-letter.js';
import { FencedError, isRetriable, TidemarkError } from '../errors.js';
import { parseKafkaRecord, type RawKafkaRecord } from '../kafka/kafka-event.js';
import { topicPartitionId, type KafkaRecord } from '../kafka/kafka-record.js';
import type { RecordOutcome } from './key-scheduler.js';
import { SegmentState } from '../routing/layout.js';
import { LeaseKeeper } from '../tokens/lease.js';
import { describeError, type Logger } from '../observability/logger.js';
import type { ProcessorObserver } from './observer.js';
import type { Processor } from './processor.js';
import { InlineRunner, type RunContext, type SegmentRunner, type WorkItem } from './segment-runner.js';
import { segmentName, type Segment } from '../routing/segment.js';
import type { ClaimRef, Clock, TokenStore } from '../tokens/token-store.js';

/** What the dispatcher sends a segment worker: one segment's records of this batch and the claims they run under. */
export interface SegmentWorkerRequest {
  readonly processor: string;
  readonly layoutVersion: number;
  readonly segment: Segment;
  /** Epoch ms: the worker starts nothing after this. */
  readonly deadline: number;
  readonly claims: readonly ClaimRef[];
  readonly records: ReadonlyArray<{
    readonly record: RawKafkaRecord;
    readonly sequencingKey: string;
    readonly hash: number;
    /** Attempts in earlier deliveries. @default 0 */
    readonly priorAttempts?: number;
    /** A reset brings the record again (`HandlerContext.replay`). @default false */
    readonly replay?: boolean;
  }>;
}

/** One record's outcome as a worker reports it. */
export interface WorkerOutcome {
  readonly topicPartition: string;
  readonly offset: number;
  readonly status: RecordOutcome['status'];
  readonly attempts?: number;
  readonly blockedBy?: number;
  /** The error as the worker saw it; `retriable` decides whether the dispatcher parks the record at once. */
  readonly error?: { name: string; message: string; stack?: string; retriable?: boolean };
}

/** What a segment worker answers. */
export interface SegmentWorkerResponse {
  readonly outcomes: readonly WorkerOutcome[];
}

/** Turns a parsed record back into the event's raw shape, to hand it to a worker. */
export function toRawRecord(record: KafkaRecord): RawKafkaRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    ...(record.key === undefined ? {} : { key: record.key.toString('base64') }),
    value: record.value === null ? null : record.value.toString('base64'),
    headers: record.headers.map((h) => ({ [h.name]: [...h.value] })),
  };
}

/**
 * Lambda's synchronous invocation limit is 6 MB each way; requests are cut well below it, leaving room for the
 * envelope and the claims.
 */
export const WORKER_REQUEST_LIMIT_BYTES = 5_000_000;

/** A worker keeps its answer below this, so it never passes Lambda's 6 MB response limit. */
export const WORKER_RESPONSE_LIMIT_BYTES = 5_000_000;

/**
 * Fan-out mode: one synchronous Lambda invocation of the segment worker per segment of the batch, all at once. A
 * segment whose records would pass Lambda's payload limit is cut into several invocations, each holding whole
 * keys (a key's records never run in two workers); a key too large for one invocation runs inline. A worker that
 * fails or cannot be reached leaves its records unfinished: they are reported back, never lost. An invocation is
 * sent once: it is tried again only when Lambda refused it for throttling, before the worker started.
 */
export class LambdaFanOutRunner implements SegmentRunner {
  private readonly inline: SegmentRunner;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly options: {
      client: LambdaClient;
      functionName: string;
      logger: Logger;
      /** Runs what is too large for one invocation. @default an InlineRunner */
      inline?: SegmentRunner;
      clock?: Clock;
      sleep?: (ms: number) => Promise<void>;
      /** @default WORKER_REQUEST_LIMIT_BYTES */
      requestLimitBytes?: number;
    },
  ) {
    this.inline = options.inline ?? new InlineRunner({ clock: options.clock ?? Date.now });
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async run(items: readonly WorkItem[], context: RunContext): Promise<RecordOutcome[]> {
    const groups = new Map<string, WorkItem[]>();
    for (const item of items) {
      const name = segmentName(item.segment);
      const group = groups.get(name);
      if (group) group.push(item);
      else groups.set(name, [item]);
    }
    const outcomes = new Map<WorkItem, RecordOutcome>();
    const tooLarge: WorkItem[] = [];
    const requests: Array<Promise<void>> = [];
    for (const group of groups.values()) {
      const { chunks, inline } = this.cut(group);
      tooLarge.push(...inline);
      for (const chunk of chunks) {
        requests.push(
          this.invoke(chunk, context).then((result) => {
            for (const [item, outcome] of result) outcomes.set(item, outcome);
          }),
        );
      }
    }
    if (tooLarge.length > 0) {
      context.logger.warn('records of keys too large for one worker invocation run in the dispatcher', {
        records: tooLarge.length,
      });
      requests.push(
        this.inline.run(tooLarge, context).then((result) => {
          tooLarge.forEach((item, i) => outcomes.set(item, result[i]!));
        }),
      );
    }
    await Promise.all(requests);
    return items.map((item) => outcomes.get(item) ?? { status: 'notStarted' });
  }

  /** Cuts a segment's records into requests under the limit, whole keys each, in offset order within a key. */
  private cut(group: WorkItem[]): { chunks: Array<Array<{ item: WorkItem; json: string }>>; inline: WorkItem[] } {
    const limit = this.options.requestLimitBytes ?? WORKER_REQUEST_LIMIT_BYTES;
    const byKey = new Map<string, { entries: Array<{ item: WorkItem; json: string }>; bytes: number }>();
    for (const item of group) {
      const json = JSON.stringify({
        record: toRawRecord(item.record),
        sequencingKey: item.sequencingKey,
        hash: item.hash,
        ...(item.priorAttempts > 0 ? { priorAttempts: item.priorAttempts } : {}),
        ...(item.replay ? { replay: true } : {}),
      });
      const id = `${item.scope}\u0000${item.key}`;
      const key = byKey.get(id);
      if (key) {
        key.entries.push({ item, json });
        key.bytes += json.length + 1;
      } else byKey.set(id, { entries: [{ item, json }], bytes: json.length + 1 });
    }
    const chunks: Array<Array<{ item: WorkItem; json: string }>> = [];
    const inline: WorkItem[] = [];
    let current: Array<{ item: WorkItem; json: string }> = [];
    let bytes = 0;
    for (const key of byKey.values()) {
      // JSON text of base64 and numbers is ASCII but for key text: length is a close lower bound of the bytes.
      if (key.bytes > limit) {
        inline.push(...key.entries.map((e) => e.item));
        continue;
      }
      if (bytes + key.bytes > limit && current.length > 0) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(...key.entries);
      bytes += key.bytes;
    }
    if (current.length > 0) chunks.push(current);
    return { chunks, inline };
  }

  private async invoke(
    entries: Array<{ item: WorkItem; json: string }>,
    context: RunContext,
  ): Promise<Map<WorkItem, RecordOutcome>> {
    const group = entries.map((e) => e.item);
    const segment = group[0]!.segment;
    const claims = new Map(group.map((item) => [item.record.topicPartition, item.claim]));
    const head: Omit<SegmentWorkerRequest, 'records'> = {
      processor: context.processor.name,
      // Every record of a group was routed to this segment; the newest layout any of them was routed with.
      layoutVersion: Math.max(...group.map((item) => item.layoutVersion)),
      segment: { id: segment.id, mask: segment.mask },
      deadline: context.deadline,
      claims: [...claims.values()].map(({ processor, topic, partition, owner, epoch, leaseUntil }) => ({
        processor,
        topic,
        partition,
        owner,
        epoch,
        leaseUntil,
      })),
    };
    // The records were serialised once, to size the request: they are spliced in as they are.
    const payload = `${JSON.stringify(head).slice(0, -1)},"records":[${entries.map((e) => e.json).join(',')}]}`;
    const result = new Map<WorkItem, RecordOutcome>();
    const clock = this.options.clock ?? Date.now;
    try {
      let response;
      for (let attempt = 1; ; attempt++) {
        try {
          response = await this.options.client.send(
            new InvokeCommand({
              FunctionName: this.options.functionName,
              InvocationType: 'RequestResponse',
              Payload: Buffer.from(payload),
            }),
          );
          break;
        } catch (error) {
          // Throttling is answered before the worker runs: only then is sending again safe.
          const delay = Math.floor((50 * 2 ** attempt) / 2 + Math.random() * 25 * 2 ** attempt);
          const throttled = (error as { name?: string }).name === 'TooManyRequestsException';
          if (!throttled || attempt >= 6 || clock() + delay >= context.deadline) throw error;
          await this.sleep(delay);
        }
      }
      const body = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
      if (response.FunctionError)
        throw new Error(`segment worker failed (${response.FunctionError}): ${body.slice(0, 500)}`);
      const parsed = JSON.parse(body) as SegmentWorkerResponse;
      const byId = new Map(parsed.outcomes.map((o) => [`${o.topicPartition}@${o.offset}`, o]));
      for (const item of group) {
        const outcome = byId.get(`${item.record.topicPartition}@${item.offset}`);
        if (outcome) result.set(item, fromWorkerOutcome(outcome));
      }
    } catch (error) {
      context.logger.error('segment worker invocation failed; its records are handed back', {
        segment: segmentName(segment),
        records: group.length,
        error: describeError(error),
      });
    }
    return result;
  }
}

function fromWorkerOutcome(outcome: WorkerOutcome): RecordOutcome {
  switch (outcome.status) {
    case 'done':
      return { status: 'done', attempts: outcome.attempts ?? 1 };
    case 'failed':
      return { status: 'failed', attempts: outcome.attempts ?? 1, error: workerError(outcome.error) };
    case 'blocked':
      return { status: 'blocked', blockedBy: outcome.blockedBy ?? -1 };
    default:
      return { status: 'notStarted' };
  }
}

/** The worker's error as an error again, keeping its name, stack and whether it may be retried. */
function workerError(described: WorkerOutcome['error']): Error {
  const error = new TidemarkError(described?.message ?? 'failed in worker', {
    retriable: described?.retriable ?? true,
  });
  if (described?.name) error.name = described.name;
  if (described?.stack) error.stack = described.stack;
  return error;
}

/**
 * Runs a segment worker request: the same key-ordered runner as inline mode, under the dispatcher's claims. The
 * worker does not renew them: it follows the lease the dispatcher renews while it waits, so a worker outliving a
 * crashed dispatcher stops starting records once that lease ends, whatever its own deadline.
 */
export async function runSegmentWorker(
  request: SegmentWorkerRequest,
  dependencies: {
    processor: Processor;
    store: TokenStore;
    clock: Clock;
    logger: Logger;
    leaseMs: number;
    leaseSafetyMs: number;
    /** The worker invocation's own time left. */
    remainingMs: () => number;
    checkpointReserveMs: number;
    /** The worker invocation's Lambda request id, handed to handlers as `HandlerContext.requestId`. @default a random UUID */
    requestId?: string;
    /** Told of every failed attempt the worker runs (`onRecordFailed`). */
    observer?: ProcessorObserver;
    /** Told how long each handler call took, in ms (the `HandlerDuration` metric). */
    onHandlerDuration?: (ms: number) => void;
  },
): Promise<SegmentWorkerResponse> {
  const { processor, clock } = dependencies;
  const keepers = new Map(
    request.claims.map((claim) => [
      topicPartitionId(claim.topic, claim.partition),
      new LeaseKeeper(dependencies.store, claim, {
        leaseMs: dependencies.leaseMs,
        safetyMs: dependencies.leaseSafetyMs,
        clock,
        // The dispatcher renews the claim while it waits for us; if it died, its lease ends and so does our work.
        follow: true,
        onRenewError: (error) => dependencies.logger.warn('reading the dispatcher lease failed; will retry', { error }),
      }).start(),
    ]),
  );
  const outcomes: WorkerOutcome[] = [];
  const items: WorkItem[] = [];
  request.records.forEach((entry, index) => {
    const topicPartition = topicPartitionId(entry.record.topic, entry.record.partition);
    const claim = keepers.get(topicPartition)?.claim;
    try {
      if (!claim) throw new FencedError(`no claim was sent for ${topicPartition}`);
      const record = parseKafkaRecord(entry.record, topicPartition, index);
      items.push({
        scope: topicPartition,
        key: entry.sequencingKey,
        offset: record.offset,
        record,
        sequencingKey: entry.sequencingKey,
        hash: entry.hash,
        segment: { ...request.segment, state: SegmentState.Active },
        layoutVersion: request.layoutVersion,
        claim,
        priorAttempts: entry.priorAttempts ?? 0,
        replay: entry.replay === true,
      });
    } catch (error) {
      outcomes.push({
        topicPartition,
        offset: Number(entry.record.offset),
        status: 'notStarted',
        error: describeError(error),
      });
    }
  });
  const deadline = Math.min(request.deadline, clock() + dependencies.remainingMs() - dependencies.checkpointReserveMs);
  try {
    const results = await new InlineRunner({ clock }).run(items, {
      processor,
      deadline,
      logger: dependencies.logger,
      requestId: dependencies.requestId ?? randomUUID(),
      ...(dependencies.observer ? { observer: dependencies.observer } : {}),
      ...(dependencies.onHandlerDuration ? { onHandlerDuration: dependencies.onHandlerDuration } : {}),
      canStart: (item) => keepers.get(item.record.topicPartition)!.keepAlive(),
    });
    items.forEach((item, i) => {
      const outcome = results[i]!;
      outcomes.push({
        topicPartition: item.record.topicPartition,
        offset: item.offset,
        status: outcome.status,
        ...(outcome.status === 'done' || outcome.status === 'failed' ? { attempts: outcome.attempts } : {}),
        ...(outcome.status === 'blocked' ? { blockedBy: outcome.blockedBy } : {}),
        ...(outcome.status === 'failed'
          ? { error: { ...letterError(outcome.error), retriable: isRetriable(outcome.error) } }
          : {}),
      });
    });
  } finally {
    for (const keeper of keepers.values()) keeper.stop();
  }
  return { outcomes: withinResponseLimit(outcomes) };
}

/**
 * Outcomes whose JSON stays under {@link WORKER_RESPONSE_LIMIT_BYTES}: past it, stacks are dropped, then messages
 * cut short. Lambda fails an answer over 6 MB, and every record of the worker would then run again.
 */
export function withinResponseLimit(
  outcomes: readonly WorkerOutcome[],
  limit = WORKER_RESPONSE_LIMIT_BYTES,
): WorkerOutcome[] {
  const size = (list: readonly WorkerOutcome[]) => Buffer.byteLength(JSON.stringify({ outcomes: list }));
  if (size(outcomes) <= limit) return [...outcomes];
  const trimmed = (messageLength: number) =>
    outcomes.map((o) => {
      if (!o.error) return o;
      const { stack: _stack, ...error } = o.error;
      return { ...o, error: { ...error, message: error.message.slice(0, messageLength) } };
    });
  for (const messageLength of [2_048, 200, 0]) {
    const list = trimmed(messageLength);
    if (size(list) <= limit || messageLength === 0) return list;
  }
  return trimmed(0);
}
