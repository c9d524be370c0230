import { ConfigurationError, LayoutConflictError, LayoutError } from '../errors.js';
import { DEFAULT_COORDINATOR_SETTINGS, type CoordinatorSettings } from '../settings.js';
import {
  LayoutOperation,
  MAX_SEGMENTS,
  SegmentState,
  sortSegments,
  tooManySegments,
  type Layout,
  type LayoutChange,
  type LayoutSegment,
} from '../routing/layout.js';
import {
  MAX_SEGMENT_DEPTH,
  mergeSegments,
  parseSegmentName,
  sameSegment,
  segmentContains,
  segmentDepth,
  segmentName,
  siblingOf,
  splitSegment,
  type Segment,
} from '../routing/segment.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';

/** The segments a split or merge replaces and the ones that replace them. */
export interface LayoutPlan {
  readonly operation: LayoutOperation;
  readonly segment: Segment;
  readonly from: readonly Segment[];
  readonly to: readonly Segment[];
}

/**
 * Plans a split or merge of `segmentText` ("id/mask") on a layout. Throws LayoutError naming what is wrong: an
 * unknown segment, one that is draining, splitting past the maximum depth, merging a segment whose sibling is
 * split further (merge those first) or the root.
 */
export function planChange(layout: Layout, operation: LayoutOperation, segmentText: string): LayoutPlan {
  const segment = parseSegmentName(segmentText);
  const live = findSegment(layout, segment);
  if (live.state !== SegmentState.Active) {
    throw new LayoutError(
      `segment ${segmentText} of "${layout.processor}" is ${live.state}: another change is under way`,
    );
  }
  if (operation === LayoutOperation.Split) {
    if (segmentDepth(segment) >= MAX_SEGMENT_DEPTH) {
      throw new LayoutError(
        `segment ${segmentText} is at the maximum depth ${MAX_SEGMENT_DEPTH} and cannot be split further`,
      );
    }
    if (layout.segments.length >= MAX_SEGMENTS) {
      throw tooManySegments(
        `cannot split ${segmentText} of "${layout.processor}": it already has ${layout.segments.length} segments`,
      );
    }
    return { operation, segment, from: [segment], to: splitSegment(segment) };
  }
  if (operation !== LayoutOperation.Merge) {
    throw new ConfigurationError(`operation must be "split" or "merge", got ${JSON.stringify(operation)}`);
  }
  if (segment.mask === 0) throw new LayoutError('the root segment 0/0 has no sibling to merge with');
  const sibling = siblingOf(segment);
  const partner = layout.segments.find((s) => sameSegment(s, sibling));
  if (!partner) {
    const finer = layout.segments.filter((s) => segmentContains(sibling, s)).map(segmentName);
    throw new LayoutError(
      `cannot merge ${segmentText}: its sibling ${segmentName(sibling)} is split further (${finer.join(', ')}); merge those first`,
    );
  }
  if (partner.state !== SegmentState.Active) {
    throw new LayoutError(`cannot merge ${segmentText}: its sibling ${segmentName(sibling)} is ${partner.state}`);
  }
  const [low, high] = segment.id < sibling.id ? [segment, sibling] : [sibling, segment];
  return { operation, segment, from: [low, high], to: [mergeSegments(low, high)] };
}

/**
 * The next step towards `target` segments, or undefined when there: split the widest segment first, merge the
 * narrowest sibling pair first (Axon's balanced approach), so the layout stays as even as it can.
 */
export function planScaleStep(
  layout: Layout,
  target: number,
): { operation: LayoutOperation; segment: string } | undefined {
  if (!Number.isInteger(target) || target < 1 || target > MAX_SEGMENTS) {
    throw new ConfigurationError(
      `segment count must be an integer from 1 to ${MAX_SEGMENTS} (MAX_SEGMENTS), got ${String(target)}`,
      { context: { maxSegments: MAX_SEGMENTS } },
    );
  }
  const count = layout.segments.length;
  if (count === target) return undefined;
  const ordered = sortSegments(layout.segments);
  if (count < target) return { operation: LayoutOperation.Split, segment: segmentName(ordered[0]!) };
  const pair = ordered.reverse().find((s) => s.mask > 0 && layout.segments.some((o) => sameSegment(o, siblingOf(s))));
  // A complete cover with more than one segment always has a sibling pair at its deepest level.
  return { operation: LayoutOperation.Merge, segment: segmentName(pair!) };
}

/** A Step Functions execution name for a change: processor, operation, segment and layout version. */
export function changeExecutionName(processor: string, operation: string, segment: string, version: number): string {
  const name = `${processor}-${operation}-${segment.replace('/', '-')}-v${version}`;
  return name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
}

/** What the scale state machine's planner answers: done, or the next split or merge towards `target`. */
export type ScalePlan =
  | {
      readonly processor: string;
      readonly target: number;
      readonly step: number;
      readonly done: true;
      readonly segments: number;
    }
  | {
      readonly processor: string;
      readonly target: number;
      readonly step: number;
      readonly done: false;
      readonly segments: number;
      readonly operation: LayoutOperation;
      readonly segment: string;
      /** The change's id: the scale execution's name and the step, `<executionName>-<step>`. */
      readonly changeId: string;
    };

/** What the begin step is given: the request, the execution's name as `changeId`, and scale's loop state. */
export interface BeginInput {
  readonly processor: string;
  readonly operation: LayoutOperation;
  readonly segment: string;
  readonly changeId: string;
  readonly target?: number;
  readonly step?: number;
}

/** The state a change carries from step to step of its state machine. */
export interface ChangeState {
  readonly processor: string;
  readonly operation: LayoutOperation;
  readonly segment: string;
  readonly changeId: string;
  /** The segments the change replaces, and those that replace them (as recorded by begin). */
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly drainVersion: number;
  readonly startedAt: number;
  readonly deadline: number;
  /** How long the state machine waits before checking again. */
  readonly waitSeconds: number;
  readonly drained: boolean;
  readonly timedOut: boolean;
  /** Claims still live under a layout older than the drain. */
  readonly liveClaims: number;
  /** Set once applied or rolled back. */
  readonly outcome?: 'applied' | 'rolledBack';
  readonly layoutVersion?: number;
  /** Carried through for the scale state machine's loop. */
  readonly target?: number;
  readonly step?: number;
}

/**
 * The steps of a split or merge, each called by one task of the state machine:
 * 1. begin: mark the segment(s) draining and record the change (one conditional write on the layout);
 * 2. check (repeated): drained once no dispatcher can still route with the old layout (its cache bound has passed)
 *    and no claim taken under it is still live;
 * 3. apply: replace the segments, clear the change and record it in the history (one transaction);
 *    or rollback: make the segments active again.
 * Each step is idempotent for its execution, so retries and repeated executions never corrupt the layout.
 */
export class LayoutCoordinator {
  private readonly settings: CoordinatorSettings;
  private readonly clock: Clock;

  constructor(
    private readonly store: TokenStore,
    options: { settings?: Partial<CoordinatorSettings>; clock?: Clock } = {},
  ) {
    this.settings = { ...DEFAULT_COORDINATOR_SETTINGS, ...options.settings };
    this.clock = options.clock ?? Date.now;
  }

  async begin(input: BeginInput): Promise<ChangeState> {
    let layout = await this.store.readLayout(input.processor);
    const carry = { target: input.target, step: input.step };
    if (layout.change?.id === input.changeId) return this.stateOf(layout, layout.change, carry);
    if (layout.change && this.clock() > layout.change.deadline + this.settings.staleChangeGraceMs) {
      await this.rollback(this.stateOf(layout, layout.change, {}));
      layout = await this.store.readLayout(input.processor);
    }
    const plan = planChange(layout, input.operation, input.segment);
    const startedAt = this.clock();
    const change: LayoutChange = {
      id: input.changeId,
      operation: plan.operation,
      segment: segmentName(plan.segment),
      from: plan.from.map(segmentName),
      to: plan.to.map(segmentName),
      drainVersion: layout.version + 1,
      startedAt,
      deadline: startedAt + this.settings.drainTimeoutMs,
    };
    const draining = layout.segments.map((s) =>
      plan.from.some((f) => sameSegment(f, s)) ? { ...s, state: SegmentState.Draining } : s,
    );
    try {
      const written = await this.store.beginLayoutChange(input.processor, layout.version, draining, change);
      return this.stateOf(written, change, carry);
    } catch (error) {
      // A twin of this very execution (same name) may have won the write a moment ago: that is our change too.
      const now = await this.store.readLayout(input.processor);
      if (error instanceof LayoutConflictError && now.change?.id === input.changeId)
        return this.stateOf(now, now.change, carry);
      throw error;
    }
  }

  async check(state: ChangeState): Promise<ChangeState> {
    const processorState = await this.store.readState(state.processor);
    if (processorState.layout.change?.id !== state.changeId) {
      // A twin of this execution finished the change: go on to Apply, which reports what happened.
      this.finishedOutcome(processorState.layout, state);
      return { ...state, drained: true, timedOut: false, liveClaims: 0 };
    }
    const change = processorState.layout.change;
    const now = this.clock();
    const settled = now >= change.startedAt + this.settings.layoutTtlMs + this.settings.clockSkewMs;
    const live = processorState.partitions.filter((p) => p.leaseUntil > now && p.layoutVersion < change.drainVersion);
    const drained = settled && live.length === 0;
    return { ...state, drained, timedOut: !drained && now >= change.deadline, liveClaims: live.length };
  }

  async apply(state: ChangeState): Promise<ChangeState> {
    const result = await this.finish(state, 'applied');
    if (result.outcome !== 'applied') {
      throw new LayoutConflictError(
        `change ${state.changeId} of "${state.processor}" was rolled back by a twin execution`,
      );
    }
    return result;
  }

  async rollback(state: ChangeState): Promise<ChangeState> {
    return this.finish(state, 'rolledBack');
  }

  /** The scale state machine's planner: the next change towards `target`, or done. */
  async planScale(input: {
    processor: string;
    target: number;
    step?: number;
    executionName: string;
  }): Promise<ScalePlan> {
    const layout = await this.store.readLayout(input.processor);
    const step = (input.step ?? 0) + 1;
    const next = planScaleStep(layout, input.target);
    if (!next)
      return { processor: input.processor, target: input.target, step, done: true, segments: layout.segments.length };
    if (layout.change) {
      throw new LayoutConflictError(
        `layout of "${input.processor}" has a change under way (${layout.change.id}); scale waits for none`,
      );
    }
    return {
      processor: input.processor,
      target: input.target,
      step,
      done: false,
      segments: layout.segments.length,
      operation: next.operation,
      segment: next.segment,
      changeId: `${input.executionName}-${step}`.slice(0, 80),
    };
  }

  private async finish(state: ChangeState, outcome: 'applied' | 'rolledBack'): Promise<ChangeState> {
    const layout = await this.store.readLayout(state.processor);
    if (!layout.change || layout.change.id !== state.changeId) {
      // A repeat after the change finished: answer with what happened, never write twice.
      const done = state.outcome ?? this.finishedOutcome(layout, state);
      return { ...state, outcome: done, layoutVersion: layout.version };
    }
    const change = layout.change;
    const segments: LayoutSegment[] =
      outcome === 'applied'
        ? [
            ...layout.segments.filter((s) => !change.from.includes(segmentName(s))),
            ...change.to.map((name) => ({ ...parseSegmentName(name), state: SegmentState.Active })),
          ]
        : layout.segments.map((s) => (change.from.includes(segmentName(s)) ? { ...s, state: SegmentState.Active } : s));
    try {
      const written = await this.store.finishLayoutChange(
        state.processor,
        change.id,
        layout.version,
        sortSegments(segments),
        outcome,
      );
      return { ...state, outcome, layoutVersion: written.version };
    } catch (error) {
      // A twin of this execution finished it first: report what it did.
      const now = await this.store.readLayout(state.processor);
      if (!(error instanceof LayoutConflictError) || now.change?.id === state.changeId) throw error;
      return { ...state, outcome: this.finishedOutcome(now, state), layoutVersion: now.version };
    }
  }

  private finishedOutcome(layout: Layout, state: ChangeState): 'applied' | 'rolledBack' {
    const names = new Set(layout.segments.map(segmentName));
    if (state.to.every((s) => names.has(s)) && layout.version > state.drainVersion) return 'applied';
    if (state.from.every((s) => names.has(s)) && layout.version > state.drainVersion) return 'rolledBack';
    throw new LayoutConflictError(
      `change ${state.changeId} of "${state.processor}" is no longer under way and left no trace`,
    );
  }

  private stateOf(layout: Layout, change: LayoutChange, carry: { target?: number; step?: number }): ChangeState {
    return {
      processor: layout.processor,
      operation: change.operation,
      segment: change.segment,
      changeId: change.id,
      from: change.from,
      to: change.to,
      drainVersion: change.drainVersion,
      startedAt: change.startedAt,
      deadline: change.deadline,
      waitSeconds: this.settings.pollSeconds,
      drained: false,
      timedOut: false,
      liveClaims: 0,
      ...(carry.target === undefined ? {} : { target: carry.target }),
      ...(carry.step === undefined ? {} : { step: carry.step }),
    };
  }
}

function findSegment(layout: Layout, segment: Segment): LayoutSegment {
  const live = layout.segments.find((s) => sameSegment(s, segment));
  if (!live) {
    throw new LayoutError(
      `processor "${layout.processor}" has no segment ${segmentName(segment)}; its segments are ${layout.segments.map(segmentName).join(', ')}`,
    );
  }
  return live;
}
