import { nextRedriveAt, type DeadLetterPolicy } from './dead-letter-policy.js';
import {
  isParked,
  keyDigest,
  letterOf,
  letterSize,
  MAX_LETTER_BYTES,
  PARKED_MAP_MAX_BYTES,
  parkedEntrySize,
  ParkReason,
  entryText,
  type DeadLetter,
  type LetterError,
} from './dead-letter.js';
import type { KafkaRecord } from '../kafka/kafka-record.js';
import type { CheckpointChanges, Claim } from '../tokens/token-store.js';

/** A record a batch wants to park. */
export interface ParkCandidate {
  readonly offset: number;
  /** Undefined for records without a hash (malformed, unroutable): they hold every cell while not parked. */
  readonly hash: number | undefined;
  readonly key: string;
  readonly synthetic: boolean;
  readonly reason: ParkReason;
  readonly error: LetterError;
  readonly attempts: number;
  readonly firstFailureAt?: number;
  /** The readable record, or what is known of one that could not be read. */
  readonly record: KafkaRecord | { readonly unreadable: unknown; readonly topic: string; readonly partition: number };
}

/** What one checkpoint parks, and what it cannot park now. */
export interface ParkingPlan {
  readonly letters: readonly DeadLetter[];
  readonly park: CheckpointChanges['park'];
  readonly unpark: CheckpointChanges['unpark'];
  /** Past the transaction's size: left unfinished, parked on the next delivery. */
  readonly deferred: readonly ParkCandidate[];
  /**
   * Past the parked-key bound (`maxParkedKeys`, or {@link PARKED_MAP_MAX_BYTES} of entries), or too large for an
   * item: left unfinished (alarmed), never dropped.
   */
  readonly unparkable: readonly ParkCandidate[];
}

/** What one checkpoint transaction may carry besides the partition item (DynamoDB allows 100 items and 4 MB). */
export const PARKING_BUDGET = { letters: 90, bytes: 3_000_000 } as const;

/** Longest raw entry kept for a record that could not be read. */
const RAW_LIMIT = 300_000;

/**
 * Decides what a checkpoint parks: candidates in offset order, each key's letters in order, within the parked-key
 * bound and the transaction's budget. A key that cannot park a record parks none of its later ones (they stay
 * unfinished behind it), so a key's letters always form an unbroken run of its records.
 */
export function planParking(input: {
  readonly claim: Claim;
  readonly candidates: readonly ParkCandidate[];
  readonly policy: DeadLetterPolicy;
  readonly processor: string;
  readonly now: number;
  readonly budget?: { readonly letters: number; readonly bytes: number };
  readonly random?: () => number;
}): ParkingPlan {
  const { claim, policy, now } = input;
  const budget = input.budget ?? PARKING_BUDGET;
  const letters: DeadLetter[] = [];
  const deferred: ParkCandidate[] = [];
  const unparkable: ParkCandidate[] = [];
  const added = new Map<string, { key: string; synthetic: boolean; count: number }>();
  const stopped = new Set<string>();
  let activeKeys = 0;
  let mapBytes = 0;
  for (const entry of claim.parked.values()) {
    if (!isParked(entry)) continue;
    activeKeys++;
    mapBytes += parkedEntrySize(entry);
  }
  let bytes = 0;
  let full = false;
  const sorted = [...input.candidates].sort((a, b) => a.offset - b.offset);
  for (const candidate of sorted) {
    const digest = keyDigest(candidate.key, candidate.synthetic);
    if (full || stopped.has(digest)) {
      deferred.push(candidate);
      continue;
    }
    const existing = claim.parked.get(digest);
    const isNew = !(existing && isParked(existing)) && !added.has(digest);
    const entryBytes = isNew
      ? parkedEntrySize({ key: candidate.key, lease: { owner: undefined, epoch: 0, until: 0 } })
      : 0;
    if (isNew && (activeKeys >= policy.maxParkedKeys || mapBytes + entryBytes > PARKED_MAP_MAX_BYTES)) {
      stopped.add(digest);
      unparkable.push(candidate);
      continue;
    }
    const letter = letterFor(candidate, input.processor, claim.epoch, now);
    const size = letterSize(letter);
    if (size > MAX_LETTER_BYTES) {
      stopped.add(digest);
      unparkable.push(candidate);
      continue;
    }
    if (letters.length >= budget.letters || bytes + size > budget.bytes) {
      full = true;
      deferred.push(candidate);
      continue;
    }
    letters.push(letter);
    bytes += size;
    if (isNew) {
      activeKeys++;
      mapBytes += entryBytes;
    }
    const tally = added.get(digest);
    if (tally) tally.count++;
    else added.set(digest, { key: candidate.key, synthetic: candidate.synthetic, count: 1 });
  }
  const park = [...added].map(([digest, { key, synthetic, count }]) => {
    const existing = claim.parked.get(digest);
    const extends_ = existing !== undefined && isParked(existing);
    return {
      digest,
      key,
      synthetic,
      count,
      fresh: !extends_,
      since: extends_ ? existing.since : now,
      nextAttemptAt: extends_ ? existing.nextAttemptAt : nextRedriveAt(policy, 1, now, input.random),
      // A fresh entry replacing a resolved one fences that entry's redriver.
      leaseEpoch: existing ? existing.lease.epoch + 1 : 0,
    };
  });
  const unpark = [...claim.parked.values()]
    .filter((entry) => !isParked(entry) && !added.has(entry.digest))
    .map((entry) => entry.digest);
  return { letters, park, unpark, deferred, unparkable };
}

function letterFor(candidate: ParkCandidate, processor: string, epoch: number, now: number): DeadLetter {
  const fields = {
    processor,
    sequencingKey: candidate.key,
    synthetic: candidate.synthetic,
    reason: candidate.reason,
    error: candidate.error,
    attempts: candidate.attempts,
    epoch,
    firstFailureAt: candidate.firstFailureAt,
    now,
  };
  const { record } = candidate;
  if (!('unreadable' in record)) return letterOf(record, fields);
  // A record that could not be read keeps its entry as delivered, to be read again once the cause is fixed.
  const raw = entryText(record.unreadable);
  return {
    ...letterOf(
      {
        topic: record.topic,
        partition: record.partition,
        offset: candidate.offset,
        timestamp: 0,
        timestampType: 'CREATE_TIME',
        key: undefined,
        value: null,
        headers: [],
      },
      fields,
    ),
    raw: raw.slice(0, RAW_LIMIT),
  };
}
