import { ConfigurationError, FencedError, UnknownProcessorError } from './errors.js';
import {
  assertLayout,
  balancedSegments,
  SegmentState,
  type Layout,
  type LayoutChange,
  type LayoutSegment,
} from './layout.js';
import { PartitionToken } from './token.js';
import {
  assertProcessorName,
  claimRefusal,
  fenced,
  layoutConflict,
  type Claim,
  type ClaimRef,
  type ClaimRequest,
  type Clock,
  type PartitionState,
  type ProcessorState,
  type TokenStore,
} from './token-store.js';

type StoredPartition = Omit<PartitionState, 'owner'> & { owner: string };

/**
 * A token store in memory with the same conditions as the DynamoDB one: for the local demo's fast paths,
 * benchmarks of the engine's own overhead and property tests of the core. Not shared between processes.
 */
export class MemoryTokenStore implements TokenStore {
  private readonly layouts = new Map<string, Layout>();
  private readonly partitions = new Map<string, StoredPartition>();
  private readonly clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async initialise(processor: string, segmentCount: number): Promise<Layout> {
    assertProcessorName(processor);
    const existing = this.layouts.get(processor);
    if (existing) {
      if (existing.segments.length !== segmentCount) {
        throw new ConfigurationError(
          `processor "${processor}" is already initialised with ${existing.segments.length} segments (layout v${existing.version}), not ${segmentCount}; change it with split, merge or scale`,
        );
      }
      return existing;
    }
    const segments = balancedSegments(segmentCount).map((s) => ({ ...s, state: SegmentState.Active }));
    const layout = { processor, version: 1, segments };
    this.layouts.set(processor, layout);
    return layout;
  }

  async readLayout(processor: string): Promise<Layout> {
    const layout = this.layouts.get(processor);
    if (!layout)
      throw new UnknownProcessorError(`processor "${processor}" has no layout in the token store: initialise it first`);
    return layout;
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
  ): Promise<Layout> {
    const current = await this.readLayout(processor);
    const layout: Layout = { processor, version: expectedVersion + 1, segments: [...segments] };
    assertLayout(layout);
    if (current.version !== expectedVersion || current.change?.id !== changeId) {
      throw layoutConflict(current, expectedVersion, changeId);
    }
    this.layouts.set(processor, layout);
    return layout;
  }

  private async writeLayout(
    processor: string,
    expectedVersion: number,
    segments: readonly LayoutSegment[],
    change: LayoutChange | undefined,
  ): Promise<Layout> {
    const current = await this.readLayout(processor);
    const layout: Layout = {
      processor,
      version: expectedVersion + 1,
      segments: [...segments],
      ...(change ? { change } : {}),
    };
    assertLayout(layout);
    if (current.version !== expectedVersion || current.change)
      throw layoutConflict(current, expectedVersion, change?.id);
    this.layouts.set(processor, layout);
    return layout;
  }

  async claim(request: ClaimRequest): Promise<Claim> {
    const now = this.clock();
    const key = partitionKey(request.processor, request.topic, request.partition);
    const current = this.partitions.get(key);
    const free = !current || current.leaseUntil <= now || current.owner === request.owner;
    const fresh = !current || current.layoutVersion <= request.layoutVersion;
    if (!free || !fresh) throw claimRefusal(request, current!, now);
    const stored: StoredPartition = {
      topic: request.topic,
      partition: request.partition,
      owner: request.owner,
      epoch: (current?.epoch ?? 0) + 1,
      leaseUntil: now + request.leaseMs,
      layoutVersion: request.layoutVersion,
      token: current?.token ?? PartitionToken.initial(),
      updatedAt: now,
    };
    this.partitions.set(key, stored);
    const { updatedAt: _updatedAt, ...claim } = stored;
    return { ...claim, processor: request.processor };
  }

  async renew<C extends ClaimRef>(claim: C, leaseMs: number): Promise<C> {
    const now = this.clock();
    const stored = this.fencedItem(claim, now);
    stored.leaseUntil = now + leaseMs;
    stored.updatedAt = now;
    return { ...claim, leaseUntil: stored.leaseUntil };
  }

  async checkpoint(
    claim: Claim,
    token: PartitionToken,
    options: { release: boolean; leaseMs: number },
  ): Promise<Claim> {
    const now = this.clock();
    const stored = this.fencedItem(claim, now);
    stored.token = token;
    stored.leaseUntil = options.release ? 0 : now + options.leaseMs;
    stored.updatedAt = now;
    return { ...claim, token, leaseUntil: stored.leaseUntil };
  }

  async release(claim: ClaimRef): Promise<void> {
    try {
      this.fencedItem(claim, this.clock()).leaseUntil = 0;
    } catch (error) {
      if (!(error instanceof FencedError)) throw error;
    }
  }

  async readState(processor: string): Promise<ProcessorState> {
    const layout = await this.readLayout(processor);
    const prefix = `${processor}\u0000`;
    const partitions = [...this.partitions]
      .filter(([key]) => key.startsWith(prefix))
      .map(([, stored]) => ({ ...stored }))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { layout, partitions };
  }

  private fencedItem(claim: ClaimRef, now: number): { -readonly [K in keyof StoredPartition]: StoredPartition[K] } {
    const stored = this.partitions.get(partitionKey(claim.processor, claim.topic, claim.partition));
    if (!stored || stored.owner !== claim.owner || stored.epoch !== claim.epoch || stored.leaseUntil <= now) {
      throw fenced(claim, stored, now);
    }
    return stored as { -readonly [K in keyof StoredPartition]: StoredPartition[K] };
  }
}

function partitionKey(processor: string, topic: string, partition: number): string {
  return `${processor}\u0000${topic}\u0000${partition}`;
}
