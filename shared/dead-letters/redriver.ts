import { randomUUID } from 'node:crypto';
import { nextRedriveAt } from './dead-letter-policy.js';
import {
  RedriveRefusedError,
  type DeadLetterStore,
  type ParkedKeyRef,
  type RedriveLease,
} from './dead-letter-store.js';
import { isParked, letterError, SyntheticKey, type DeadLetter, type LetterError } from './dead-letter.js';
import { notifyObserver, type ProcessorObserver } from '../processing/observer.js';
import { ConfigurationError, FencedError, isRetriable } from '../errors.js';
import { parseKafkaRecord } from '../kafka/kafka-event.js';
import { KafkaRecord, topicPartitionId } from '../kafka/kafka-record.js';
import { SegmentRouter, type LayoutSegment } from '../routing/layout.js';
import type { Logger } from '../observability/logger.js';
import { routingKeyOf, type HandlerContext, type Processor } from '../processing/processor.js';
import { retryDelay } from '../processing/retry-policy.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';

/** Settings of a redrive run. */
export interface RedriveSettings {
  /** The redrive lease on a key; renewed with every letter resolved. @default 30000 */
  readonly leaseMs: number;
  /** Keys redriven per scheduled run, oldest due first. @default 50 */
  readonly keysPerRun: number;
  /** Letters read per query. @default 25 */
  readonly pageSize: number;
  /** Stop starting letters this long before the invocation ends. @default 5000 */
  readonly reserveMs: number;
}

export const DEFAULT_REDRIVE_SETTINGS: RedriveSettings = Object.freeze({
  leaseMs: 30_000,
  keysPerRun: 50,
  pageSize: 25,
  reserveMs: 5_000,
});

/** What one key's redrive did. */
export interface KeyRedrive {
  readonly topicPartition: string;
  readonly key: string;
  readonly digest: string;
  readonly redriven: number;
  /** drained: no letters left; failed: a letter failed (retried later); stopped: time or lease ran out. */
  readonly outcome: 'drained' | 'failed' | 'stopped' | 'refused';
  readonly detail?: string;
}

/** What a redrive run did; a scheduled run also has the processor's dead-letter gauges as it found them. */
export interface RedriveReport {
  readonly keys: readonly KeyRedrive[];
  readonly redriven: number;
  /** Parked keys over all partitions (a run on named keys does not count them). */
  readonly parkedKeys?: number;
  readonly oldestParkedAgeSeconds?: number;
}

/** Everything a redriver is built from. */
export interface RedriverDependencies {
  readonly processor: Processor;
  readonly store: TokenStore;
  readonly deadLetters: DeadLetterStore;
  readonly logger: Logger;
  readonly settings?: Partial<RedriveSettings>;
  readonly clock?: Clock;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Told of every failed attempt (`onRecordFailed`) and every letter resolved or failed (`onRedrive`). */
  readonly observer?: ProcessorObserver;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Handles parked letters again, each key's in offset order, with the processor's own handler, under a fenced lease
 * on the key. A letter that succeeds is deleted and counted resolved in one write; a failure ends the key's run and
 * schedules its next attempt with exponential backoff and jitter. While letters remain, live records of the key
 * keep being parked behind them; once all are resolved, the partition's next claim lets the key flow again.
 */
export class Redriver {
  private readonly processor: Processor;
  private readonly store: TokenStore;
  private readonly deadLetters: DeadLetterStore;
  private readonly logger: Logger;
  private readonly settings: RedriveSettings;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly observer: ProcessorObserver | undefined;

  constructor(dependencies: RedriverDependencies) {
    this.processor = dependencies.processor;
    this.store = dependencies.store;
    this.deadLetters = dependencies.deadLetters;
    this.logger = dependencies.logger;
    this.settings = resolveRedriveSettings(dependencies.settings);
    this.clock = dependencies.clock ?? Date.now;
    this.sleep = dependencies.sleep ?? defaultSleep;
    this.random = dependencies.random ?? Math.random;
    this.observer = dependencies.observer;
  }

  /**
   * Redrives every key that is due (oldest first, at most `keysPerRun`) within `remainingMs`. `requestId` (the
   * redrive invocation's Lambda request id) is handed to handlers as `HandlerContext.requestId`.
   */
  async redriveDue(options: { remainingMs: () => number; requestId?: string }): Promise<RedriveReport> {
    const now = this.clock();
    const requestId = options.requestId ?? randomUUID();
    const entries = await this.deadLetters.listParkedKeys(this.processor.name);
    const parked = entries.filter(isParked);
    const due = parked
      .filter((entry) => entry.nextAttemptAt <= now && entry.lease.until <= now)
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
      .slice(0, this.settings.keysPerRun);
    const keys: KeyRedrive[] = [];
    const deadline = now + options.remainingMs() - this.settings.reserveMs;
    for (const entry of due) {
      if (this.clock() >= deadline) break;
      const ref = {
        processor: this.processor.name,
        topic: entry.topic,
        partition: entry.partition,
        digest: entry.digest,
      };
      keys.push(await this.redriveKey(ref, { deadline, dueBy: now, requestId }));
    }
    const oldest = parked.reduce((min, entry) => Math.min(min, entry.since), Number.POSITIVE_INFINITY);
    return {
      keys,
      redriven: keys.reduce((total, key) => total + key.redriven, 0),
      parkedKeys: parked.length,
      oldestParkedAgeSeconds: parked.length ? Math.max(0, Math.round((now - oldest) / 1000)) : 0,
    };
  }

  /**
   * Redrives one key's letters in offset order until none is left, one fails, or time (`deadline`, epoch ms) runs
   * out. With `dueBy`, only a key due by then is taken. `requestId` is handed to handlers (default: a random UUID).
   */
  async redriveKey(
    ref: ParkedKeyRef,
    options: { deadline: number; dueBy?: number; requestId?: string },
  ): Promise<KeyRedrive> {
    const requestId = options.requestId ?? randomUUID();
    const topicPartition = topicPartitionId(ref.topic, ref.partition);
    let lease: RedriveLease;
    try {
      lease = await this.deadLetters.takeLease(ref, {
        owner: `redrive/${randomUUID()}`,
        leaseMs: this.settings.leaseMs,
        ...(options.dueBy === undefined ? {} : { dueBy: options.dueBy }),
      });
    } catch (error) {
      if (!(error instanceof RedriveRefusedError)) throw error;
      return { topicPartition, key: '?', digest: ref.digest, redriven: 0, outcome: 'refused', detail: error.message };
    }
    const result = (outcome: KeyRedrive['outcome'], redriven: number, detail?: string): KeyRedrive => ({
      topicPartition,
      key: lease.entry.key,
      digest: ref.digest,
      redriven,
      outcome,
      ...(detail ? { detail } : {}),
    });
    const layout = await this.store.readLayout(this.processor.name);
    const router = new SegmentRouter<LayoutSegment>(layout.segments);
    let redriven = 0;
    for (;;) {
      const letters = await this.deadLetters.readLetters(ref, { limit: this.settings.pageSize });
      if (letters.length === 0) {
        // Due again at once: letters parked meanwhile behind these are picked up by the next run.
        await this.deadLetters.release(lease, { nextAttemptAt: this.clock() });
        this.logger.info('parked key drained', { topicPartition, sequencingKey: lease.entry.key, redriven });
        return result('drained', redriven);
      }
      for (const letter of letters) {
        const now = this.clock();
        // A letter is only started with time left to finish and record it under the lease.
        if (now >= options.deadline || lease.until - now < this.settings.leaseMs / 2) {
          await this.deadLetters.release(lease, { nextAttemptAt: now });
          return result('stopped', redriven, 'out of time');
        }
        const failure = await this.handle(letter, lease, router, layout.version, options.deadline, requestId);
        if (failure) {
          const attempts = lease.entry.attempts + 1;
          const nextAttemptAt = nextRedriveAt(this.processor.deadLetter, attempts, this.clock(), this.random);
          try {
            await this.deadLetters.fail(lease, {
              offset: letter.offset,
              error: letterError(failure.error),
              attempts: letter.attempts + failure.attempts,
              nextAttemptAt,
            });
          } catch (error) {
            if (!(error instanceof FencedError)) throw error;
            return result('stopped', redriven, error.message);
          }
          this.observeRedrive(letter, lease, requestId, 'failed', letterError(failure.error));
          this.logger.warn('redrive of a parked key failed; retried later', {
            topicPartition,
            sequencingKey: letter.sequencingKey,
            offset: letter.offset,
            nextAttemptAt: new Date(nextAttemptAt).toISOString(),
            error: letterError(failure.error),
          });
          return result('failed', redriven, `${describe(failure.error)}`);
        }
        try {
          lease = await this.deadLetters.resolve(lease, letter.offset, { leaseMs: this.settings.leaseMs });
        } catch (error) {
          if (!(error instanceof FencedError)) throw error;
          // Handled but not recorded: a later redrive handles it again (at least once, as live records).
          return result('stopped', redriven, error.message);
        }
        this.observeRedrive(letter, lease, requestId, 'resolved');
        redriven++;
      }
    }
  }

  /** Runs one letter with the processor's retry policy; returns the failure, if it did not succeed. */
  private async handle(
    letter: DeadLetter,
    lease: RedriveLease,
    router: SegmentRouter<LayoutSegment>,
    layoutVersion: number,
    deadline: number,
    requestId: string,
  ): Promise<{ error: unknown; attempts: number } | undefined> {
    let record: KafkaRecord;
    try {
      record = this.recordOf(letter);
    } catch (error) {
      return { error, attempts: 0 };
    }
    const segment = router.segmentFor(this.processor.hash(letter.sequencingKey));
    for (let attempt = 1; ; attempt++) {
      const context: HandlerContext = {
        processor: this.processor.name,
        segment: { id: segment.id, mask: segment.mask },
        layoutVersion,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        sequencingKey: letter.sequencingKey,
        attempt,
        redrive: true,
        // A redrive is never a replay: its letter's record is redriven for its own sake.
        replay: false,
        epoch: lease.epoch,
        deadline,
        requestId,
        logger: this.logger,
      };
      try {
        await this.processor.handler(record, context);
        return undefined;
      } catch (error) {
        notifyObserver(this.observer, this.logger, 'onRecordFailed', () => ({
          processor: this.processor.name,
          topic: record.topic,
          partition: record.partition,
          topicPartition: record.topicPartition,
          requestId,
          offset: record.offset,
          sequencingKey: letter.sequencingKey,
          segment: { id: segment.id, mask: segment.mask },
          layoutVersion,
          attempt,
          epoch: lease.epoch,
          redrive: true,
          error,
        }));
        const delay = retryDelay(this.processor.retry, attempt, this.random);
        if (attempt >= this.processor.retry.maxAttempts || !isRetriable(error) || this.clock() + delay >= deadline) {
          return { error, attempts: attempt };
        }
        await this.sleep(delay);
      }
    }
  }

  /** Tells the observer that a letter was resolved, or that its failure was recorded. */
  private observeRedrive(
    letter: DeadLetter,
    lease: RedriveLease,
    requestId: string,
    outcome: 'resolved' | 'failed',
    error?: LetterError,
  ): void {
    notifyObserver(this.observer, this.logger, 'onRedrive', () => ({
      processor: this.processor.name,
      topic: letter.topic,
      partition: letter.partition,
      topicPartition: topicPartitionId(letter.topic, letter.partition),
      requestId,
      digest: letter.digest,
      sequencingKey: letter.sequencingKey,
      offset: letter.offset,
      outcome,
      epoch: lease.epoch,
      reason: letter.reason,
      ...(error ? { error } : {}),
    }));
  }

  /** The record a letter keeps; one parked because it could not be read or routed must pass that check now. */
  private recordOf(letter: DeadLetter): KafkaRecord {
    const topicPartition = topicPartitionId(letter.topic, letter.partition);
    if (letter.raw !== undefined) return parseKafkaRecord(JSON.parse(letter.raw), topicPartition, 0);
    const record = new KafkaRecord({
      topic: letter.topic,
      partition: letter.partition,
      offset: letter.offset,
      timestamp: letter.timestamp,
      timestampType: letter.timestampType,
      key: letter.key,
      value: letter.value,
      headers: letter.headers,
    });
    if (letter.synthetic && letter.sequencingKey === SyntheticKey.Unroutable) routingKeyOf(this.processor, record);
    return record;
  }
}

/** Checks redrive settings; a ConfigurationError names the bad value. */
export function resolveRedriveSettings(partial: Partial<RedriveSettings> = {}): RedriveSettings {
  const settings = { ...DEFAULT_REDRIVE_SETTINGS, ...partial };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigurationError(`redrive ${name} must be a whole number >= 1, got ${String(value)}`);
    }
  }
  if (settings.leaseMs < 1_000)
    throw new ConfigurationError(`redrive leaseMs must be >= 1000, got ${settings.leaseMs}`);
  return Object.freeze(settings);
}

function describe(error: unknown): string {
  const { name, message } = letterError(error);
  return `${name}: ${message}`;
}
