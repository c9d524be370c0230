/**
 * The JSON `GET /api/processors/{name}/status` answers, and the status page draws: what Axon Server's processor view
 * shows per segment, plus lag in records and seconds, stalled partitions, pending changes and parked keys.
 */

/** A processor as the status view shows it. */
export interface ProcessorStatus {
  readonly processor: string;
  /** When the view was read, ms since the epoch. */
  readonly at: number;
  readonly layout: {
    readonly version: number;
    readonly segments: readonly SegmentStatus[];
    /** A split or merge under way. */
    readonly change: PendingChange | null;
  };
  /** The event source mappings (one per topic); empty when they cannot be read. */
  readonly eventSource: {
    readonly paused: boolean;
    readonly mappings: ReadonlyArray<{ topic: string; id: string; state: string; lastModified: number }>;
  };
  readonly partitions: readonly PartitionStatus[];
  readonly parkedKeys: readonly ParkedKeyStatus[];
  /** Offsets the event source moved past although they were delivered and not done. */
  readonly skips: ReadonlyArray<{ topic: string; partition: number; from: number; to: number; at: number }>;
  /** The most recent handler errors (from parked letters), newest first. */
  readonly lastErrors: ReadonlyArray<{
    topic: string;
    partition: number;
    offset: number;
    key: string;
    at: number;
    error: { name: string; message: string };
  }>;
  /** Samples of the last hour, oldest first, for the lag charts. */
  readonly lagHistory: readonly LagSample[];
  /** Server-side warnings: stalled partitions, expired leases, an incomplete cover, a pending change, a pause. */
  readonly warnings: ReadonlyArray<{ kind: WarningKind; message: string; topic?: string; partition?: number }>;
  readonly totals: {
    /** Σ record lag; null when Kafka could not be read. */
    readonly recordLag: number | null;
    readonly maxTimeLagSeconds: number | null;
    readonly stalledPartitions: number;
    readonly parkedKeys: number;
  };
  /** Why lag in records is missing, when it is (no Kafka access configured, or the cluster did not answer). */
  readonly lagUnavailable: string | null;
}

export type WarningKind = 'stalled' | 'expiredLease' | 'coverage' | 'pendingChange' | 'paused' | 'lagUnavailable';

/** One live segment: a slice of the hash space. */
export interface SegmentStatus {
  /** `id/mask+1` as everywhere else, e.g. `2/3` … written as `segmentName` writes it. */
  readonly name: string;
  readonly id: number;
  readonly mask: number;
  /** Its share of the hash space: 1 / (mask + 1). */
  readonly fraction: number;
  /** `active`, or `draining` during a change. */
  readonly state: string;
  /** Where it starts in the bar of the hash space, 0 to 1 (segments sorted by their place in the hash space). */
  readonly start: number;
  /**
   * An estimate: Σ over partitions of the records after this segment's position, times its share of the hash space
   * (Kafka cannot count one segment's records without reading them); null without Kafka.
   */
  readonly recordLag: number | null;
}

export interface PendingChange {
  readonly id: string;
  readonly operation: string;
  readonly segment: string;
  readonly startedAt: number;
}

export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  /** `topic-partition`. */
  readonly id: string;
  readonly owner: string | null;
  readonly epoch: number;
  /** 0 once released. */
  readonly leaseUntil: number;
  readonly leaseLive: boolean;
  readonly layoutVersion: number;
  /** The last checkpoint, ms since the epoch. */
  readonly updatedAt: number;
  /** The lowest offset any segment still waits for (null before the first batch). */
  readonly position: number | null;
  /** Per live segment: the next offset of that slice of this partition. */
  readonly segments: ReadonlyArray<{ segment: string; next: number | null; outOfOrderRanges: number }>;
  /** The partition's end (the next offset to be written); null without Kafka. */
  readonly highWater: number | null;
  /** Records between the position and the end; null without Kafka. */
  readonly recordLag: number | null;
  /** Age of the newest record handled, while there is lag (0 when caught up); null when unknown. */
  readonly timeLagSeconds: number | null;
  /** Kafka timestamp of the newest record the last checkpoint covered. */
  readonly lastRecordAt: number | null;
  /** Position unchanged over the stall window while lag > 0 (Burrow's rule). */
  readonly stalled: boolean;
  /** During a replay after a reset. */
  readonly replay: { resetId: string; until: number | null } | null;
  readonly parkedKeys: number;
}

export interface ParkedKeyStatus {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly digest: string;
  readonly parked: number;
  readonly resolved: number;
  readonly since: number;
  readonly nextAttemptAt: number;
}

/** One lag sample: per partition id, the position, record lag and time lag at `at`. */
export interface LagSample {
  readonly at: number;
  readonly partitions: Readonly<
    Record<string, { position: number | null; recordLag: number | null; timeLagSeconds: number | null }>
  >;
}
