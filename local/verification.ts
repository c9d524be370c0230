import type { HashFunction } from '../shared/routing/hash.js';
import { topicPartitionId, type KafkaRecord } from '../shared/kafka/kafka-record.js';
import type { HandlerContext } from '../shared/processing/processor.js';
import { segmentMatches } from '../shared/routing/segment.js';
import type { PartitionToken } from '../shared/tokens/token.js';
import type { DeadLetterStore, RedriveLease } from '../shared/dead-letters/dead-letter-store.js';
import { isParked } from '../shared/dead-letters/dead-letter.js';
import type { CheckpointChanges, Claim, TokenStore } from '../shared/tokens/token-store.js';
import type { ParkedBatch } from './event-source-simulator.js';

/** The verification summary the local stack and chaos runs print. */
export interface VerificationSummary {
  produced: number;
  handled: number;
  /** Records in the event source's on-failure destination (Lambda gave up on them). */
  parked: number;
  /** Records parked as dead letters by Tidemark (still parked, or redriven since). */
  deadLettered: number;
  /** Dead letters handled successfully by a redrive. */
  redriven: number;
  lost: number;
  reprocessedAfterCheckpoint: number;
  orderViolations: number;
  layoutErrors: number;
}

/** `<topic>-<partition>@<offset>`: how the verifier names a record. */
function recordId(topic: string, partition: number, offset: number): string {
  return `${topicPartitionId(topic, partition)}@${offset}`;
}

/** `<topic-partition>@<offset>` of every letter still parked for the processor (what `summary` counts as not lost). */
export async function stillParkedIds(deadLetters: DeadLetterStore, processor: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const entry of await deadLetters.listParkedKeys(processor)) {
    if (!isParked(entry)) continue;
    for (const letter of await deadLetters.readLetters({ processor, ...entry })) {
      ids.add(recordId(letter.topic, letter.partition, letter.offset));
    }
  }
  return ids;
}

/**
 * Watches a run from the outside: which records the handler started and finished, which checkpoints were written,
 * which batches were parked. A handler call that starts while the last checkpoint of its partition already covers
 * the record is a repeat after checkpoint; one that starts while a later record of the same key has already
 * succeeded under the same claim is an order violation; a record neither handled nor parked at the end is lost.
 * Calls by a holder whose claim was taken over are fenced: a store that checks the epoch rejects their effects.
 * Across live handling and redrive, the first success of each key's records must come in offset order: a record
 * parked as a dead letter holds its key's later records until it is redriven.
 */
export class Verifier {
  private readonly tokens = new Map<string, PartitionToken>();
  private readonly epochs = new Map<string, number>();
  /** Calls by a holder whose claim was already taken over: a store fencing on the epoch rejects their effects. */
  fencedCalls = 0;
  private readonly succeeded = new Set<string>();
  /** Per key: the highest offset whose first success was seen (live or redrive). */
  private readonly firstSuccessFront = new Map<string, number>();
  /** Records parked as dead letters, and those whose letter a redrive resolved. */
  private readonly parkedLetters = new Set<string>();
  private readonly resolvedLetters = new Set<string>();
  private readonly redrivenRecords = new Set<string>();
  /** Calls already counted out of order when they started: not counted again when they finish. */
  private readonly outOfOrder = new Set<string>();
  /** Per key: the highest offset done, and by which claim epoch. */
  private readonly highestDone = new Map<string, { offset: number; epoch: number }>();
  private repeats = 0;
  private orderViolations = 0;
  private layoutErrors = 0;
  readonly problems: string[] = [];
  /** Every call, when tracing (for replaying a failing chaos run). */
  readonly trace: string[] | undefined;

  constructor(
    private readonly hash: HashFunction,
    options: { trace?: boolean } = {},
  ) {
    this.trace = options.trace ? [] : undefined;
  }

  /** Wraps a store so every successful checkpoint (and the letters it parked) is remembered. */
  watch(store: TokenStore): TokenStore {
    const { tokens, epochs, parkedLetters } = this;
    return new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'checkpoint' && typeof value === 'function') {
          return async (
            claim: Claim,
            token: PartitionToken,
            options: { release: boolean; leaseMs: number; changes?: CheckpointChanges },
          ) => {
            const result = await (value as TokenStore['checkpoint']).call(target, claim, token, options);
            tokens.set(topicPartitionId(claim.topic, claim.partition), token);
            for (const letter of options.changes?.letters ?? []) {
              parkedLetters.add(recordId(letter.topic, letter.partition, letter.offset));
            }
            return result;
          };
        }
        if (property === 'claim' && typeof value === 'function') {
          return async (...args: Parameters<TokenStore['claim']>) => {
            const claim = await (value as TokenStore['claim']).apply(target, args);
            const id = topicPartitionId(claim.topic, claim.partition);
            epochs.set(id, Math.max(epochs.get(id) ?? 0, claim.epoch));
            return claim;
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** Wraps a dead-letter store so every letter a redrive resolved is remembered. */
  watchDeadLetters(store: DeadLetterStore): DeadLetterStore {
    const { resolvedLetters } = this;
    return new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'resolve' && typeof value === 'function') {
          return async (lease: RedriveLease, offset: number, options: { leaseMs: number }) => {
            const result = await (value as DeadLetterStore['resolve']).call(target, lease, offset, options);
            resolvedLetters.add(recordId(lease.topic, lease.partition, offset));
            return result;
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** Call when a handler call starts. Returns false for a fenced call (a newer claim exists): ignore its outcome. */
  started(record: KafkaRecord, context: HandlerContext): boolean {
    const id = `${record.topicPartition}@${record.offset}`;
    this.trace?.push(
      `start ${id} key=${context.sequencingKey} epoch=${context.epoch} attempt=${context.attempt} v${context.layoutVersion}${context.redrive ? ' redrive' : ''}`,
    );
    if (context.redrive) {
      // A letter is behind the token by design; handling it again after its redrive was recorded is the repeat.
      if (this.resolvedLetters.has(id)) {
        this.repeats++;
        this.note(`redriven again after its letter was resolved: ${id}`);
      }
      if (!this.parkedLetters.has(id)) {
        this.note(`redrive of ${id}, which no checkpoint parked`);
        this.repeats++;
      }
      return true;
    }
    if (context.epoch < (this.epochs.get(record.topicPartition) ?? 0)) {
      this.fencedCalls++;
      return false;
    }
    const hash = this.hash(context.sequencingKey);
    if (this.tokens.get(record.topicPartition)?.covers(hash, record.offset)) {
      this.repeats++;
      this.note(`handled again after checkpoint: ${id}`);
    }
    // Within one claim a key must go forward. A newer claim may replay what was handled but never checkpointed
    // (at-least-once); replaying what was checkpointed is counted above as a repeat.
    const key = `${record.topicPartition}/${context.sequencingKey}`;
    const done = this.highestDone.get(key);
    if (done && done.epoch === context.epoch && done.offset > record.offset) {
      this.orderViolations++;
      this.outOfOrder.add(id);
      this.note(`order: ${key} started ${record.offset} after ${done.offset} succeeded (epoch ${context.epoch})`);
    }
    if (!segmentMatches(context.segment, hash)) {
      this.layoutErrors++;
      this.note(
        `layout: ${id} ran in segment ${context.segment.id}/${context.segment.mask}, which its hash does not match`,
      );
    }
    return true;
  }

  /** Call when a handler call succeeded. */
  finished(record: KafkaRecord, context: HandlerContext): void {
    const id = `${record.topicPartition}@${record.offset}`;
    this.trace?.push(
      `done  ${id} key=${context.sequencingKey} epoch=${context.epoch}${context.redrive ? ' redrive' : ''}`,
    );
    if (context.redrive) this.redrivenRecords.add(id);
    if (!this.succeeded.has(id)) {
      const orderKey = `${record.topicPartition}/${context.sequencingKey}`;
      const front = this.firstSuccessFront.get(orderKey);
      if (front !== undefined && front > record.offset && !this.outOfOrder.has(id)) {
        this.orderViolations++;
        this.note(`order: ${orderKey} first succeeded at ${record.offset} after ${front} had`);
      }
      this.firstSuccessFront.set(orderKey, Math.max(front ?? record.offset, record.offset));
    }
    this.succeeded.add(id);
    if (context.redrive) return;
    const key = `${record.topicPartition}/${context.sequencingKey}`;
    const done = this.highestDone.get(key);
    if (!done || done.epoch !== context.epoch || done.offset < record.offset)
      this.highestDone.set(key, { offset: record.offset, epoch: context.epoch });
  }

  /** Counts a layout problem found elsewhere (e.g. a stored layout that does not cover the hash space). */
  layoutError(message: string): void {
    this.layoutErrors++;
    this.note(message);
  }

  /** `<topic-partition>@<offset>` of every record handled successfully at least once (live or by a redrive). */
  handledIds(): ReadonlySet<string> {
    return this.succeeded;
  }

  /** Keeps a problem found elsewhere (e.g. by {@link verifyEffects}) with the run's others. */
  problem(message: string): void {
    this.note(message);
  }

  /** Whether the record was handled successfully at least once. */
  wasHandled(topicPartition: string, offset: number): boolean {
    return this.succeeded.has(`${topicPartition}@${offset}`);
  }

  /**
   * The summary; a produced record is lost unless it was handled, is in the source's on-failure destination, or is
   * still a dead letter (`stillParked`: `<topic-partition>@<offset>` read from the store at the end).
   */
  summary(
    produced: ReadonlyArray<{ topicPartition: string; offset: number }>,
    parked: readonly ParkedBatch[],
    stillParked: ReadonlySet<string> = new Set(),
  ): VerificationSummary {
    const parkedIds = new Set(parked.flatMap((p) => p.records.map((r) => recordId(r.topic, r.partition, r.offset))));
    let lost = 0;
    for (const { topicPartition, offset } of produced) {
      const id = `${topicPartition}@${offset}`;
      if (!this.succeeded.has(id) && !parkedIds.has(id) && !stillParked.has(id)) {
        lost++;
        this.note(`lost: ${id}`);
      }
    }
    return {
      produced: produced.length,
      handled: this.succeeded.size,
      parked: parkedIds.size,
      deadLettered: this.parkedLetters.size,
      redriven: this.redrivenRecords.size,
      lost,
      reprocessedAfterCheckpoint: this.repeats,
      orderViolations: this.orderViolations,
      layoutErrors: this.layoutErrors,
    };
  }

  private note(problem: string): void {
    if (this.problems.length < 50) this.problems.push(problem);
  }
}

/** What an effects chaos run found: each record's effects must be in DynamoDB exactly once. */
export interface EffectsSummary {
  /** Item applications beyond the first: an item's count grew more than the set of records it holds. */
  effectsAppliedTwice: number;
  /**
   * Records handled (live or redriven) whose effect is not on an item it must be on, plus records on only one of the
   * two items of their transaction (half applied).
   */
  effectsMissing: number;
}

/**
 * One item of the chaos handler's effects as read back: `n` grows by one per application, `offsets` holds the
 * offset of every record applied (a set: a second application of a record adds nothing to it).
 */
export interface EffectItem {
  readonly n: number;
  readonly offsets: ReadonlySet<number>;
}

/** The items one record's effects go to: its key's counter (one write), its key's ledger and its partition's log (one transaction). */
export interface EffectTargets {
  readonly counter: string;
  readonly ledger: string;
  readonly log: string;
}

/**
 * Checks effects read back from DynamoDB against an independent count: `mustApply` are the records the verifier
 * saw handled successfully (live or by a redrive; not those still parked or in the event source's on-failure
 * destination, which may or may not have applied theirs before failing), `touched` every record any handler call
 * ran, each with the items its effects go to. A record is applied twice when an item's `n` exceeds its set;
 * missing when handled and absent from one of its items, or present on only one of its transaction's items.
 */
export function verifyEffects(
  mustApply: Iterable<string>,
  touched: ReadonlyMap<string, { offset: number; targets: EffectTargets }>,
  items: ReadonlyMap<string, EffectItem>,
  note: (problem: string) => void = () => {},
): EffectsSummary {
  let effectsAppliedTwice = 0;
  for (const [id, item] of items) {
    const extra = item.n - item.offsets.size;
    if (extra !== 0) note(`effects: item ${id} counts ${item.n} applications of ${item.offsets.size} records`);
    effectsAppliedTwice += Math.max(0, extra);
  }
  const holds = (itemId: string, offset: number) => items.get(itemId)?.offsets.has(offset) ?? false;
  let effectsMissing = 0;
  for (const id of mustApply) {
    const record = touched.get(id);
    if (!record) {
      effectsMissing++;
      note(`effects: ${id} was handled, but no call applied its effects`);
      continue;
    }
    for (const itemId of [record.targets.counter, record.targets.ledger, record.targets.log]) {
      if (holds(itemId, record.offset)) continue;
      effectsMissing++;
      note(`effects: ${id} was handled, but item ${itemId} does not hold it`);
    }
  }
  for (const [id, { offset, targets }] of touched) {
    const onLedger = holds(targets.ledger, offset);
    if (onLedger !== holds(targets.log, offset)) {
      effectsMissing++;
      note(
        `effects: ${id} is on ${onLedger ? 'its ledger but not its log' : 'its log but not its ledger'}: half applied`,
      );
    }
  }
  return { effectsAppliedTwice, effectsMissing };
}
