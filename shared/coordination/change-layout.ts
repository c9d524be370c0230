import { ConfigurationError } from '../errors.js';
import { LayoutOperation, sortSegments, type Layout } from '../routing/layout.js';
import { segmentName } from '../routing/segment.js';
import {
  resolveCoordinatorSettings,
  resolveDispatcherSettings,
  type CoordinatorSettings,
  type DispatcherSettings,
} from '../settings.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';
import { changeExecutionName, LayoutCoordinator, type ChangeState, type ScalePlan } from './layout-change.js';

/** A layout change to run: split or merge one segment, or scale to a number of segments. */
export type LayoutChangeRequest =
  | {
      readonly processor: string;
      readonly operation: 'split' | 'merge';
      /** The segment, as `"<id>/<mask>"`, e.g. `"0/1"`. */
      readonly segment: string;
    }
  | {
      readonly processor: string;
      readonly operation: 'scale';
      /** How many segments the processor should have. */
      readonly segments: number;
    };

/** A step of a change as it happens, for a tool to print; `state` is what the step answered. */
export type LayoutChangeProgress =
  | { readonly step: 'plan'; readonly plan: ScalePlan }
  | { readonly step: 'begin' | 'check' | 'apply' | 'rollback'; readonly state: ChangeState }
  | {
      /** A step failed with a transient error (throttling, a transaction conflict) and is tried again. */
      readonly step: 'retry';
      /** The step tried again; `read` is a read of the layout before the first step or after the last. */
      readonly of: CoordinatorStep | 'read';
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: unknown;
    };

/** The coordinator steps a change runs, as the state machines' task states call them. */
export type CoordinatorStep = 'plan' | 'begin' | 'check' | 'apply' | 'rollback';

/** How {@link changeLayout} runs. */
export interface ChangeLayoutOptions {
  /**
   * The coordinator's settings (drain timeout, poll interval, clock allowance, stale-change grace), checked by
   * `resolveCoordinatorSettings`; each one missing is its default. `layoutTtlMs` is better given through
   * `dispatcherSettings` or `layoutTtlMs` below.
   */
  readonly settings?: Partial<CoordinatorSettings>;
  /**
   * The settings the processor's dispatchers run with: the drain waits out their `layoutTtlMs` (how long a
   * dispatcher may route with a layout it read). Pass the very object the dispatchers get, so the two cannot
   * disagree.
   */
  readonly dispatcherSettings?: Partial<DispatcherSettings>;
  /** The dispatchers' `layoutTtlMs`, when `dispatcherSettings` is not at hand. @default DEFAULT_DISPATCHER_SETTINGS.layoutTtlMs */
  readonly layoutTtlMs?: number;
  /**
   * Names the change (the split or merge), or the scale run (whose steps are `<changeId>-<step>`). A second call
   * with the same name while the change is under way joins it instead of starting another.
   * @default `changeExecutionName(processor, operation, segment or count, layout version)`, as the CLI names executions
   */
  readonly changeId?: string;
  /** Told of every step; what it throws is ignored. */
  readonly onProgress?: (progress: LayoutChangeProgress) => void;
  /** @default Date.now */
  readonly clock?: Clock;
  /** Waits between drain checks and before retries. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** One split or merge a call made, and how it ended. */
export interface AppliedChange {
  readonly changeId: string;
  readonly operation: LayoutOperation;
  readonly segment: string;
  /** The segments the change replaced (or, rolled back, kept), and those that replaced them. */
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly outcome: 'applied' | 'rolledBack';
  /** The layout version the change's last write produced. */
  readonly layoutVersion: number;
}

/** How a {@link changeLayout} call ended. */
export interface LayoutChangeResult {
  readonly processor: string;
  readonly operation: LayoutChangeRequest['operation'];
  /**
   * applied: every change was applied; rolledBack: the (last) change was rolled back, the layout is as before it
   * (a scale keeps the steps it applied before); unchanged: a scale found the processor at its count already.
   */
  readonly outcome: 'applied' | 'rolledBack' | 'unchanged';
  /** Why the change was rolled back: claims under the old layout did not end in time, or a step failed. */
  readonly rollbackReason?: 'drainTimeout' | 'failed';
  /** The error of the step that failed, when `rollbackReason` is `failed`. */
  readonly error?: unknown;
  /** The layout as it is at the end. */
  readonly layout: Layout;
  readonly layoutVersion: number;
  /** The resulting segments' names, widest first, then by id (as `sortSegments` orders them). */
  readonly segments: readonly string[];
  /** Each split or merge the call ran, in order (a scale runs several). */
  readonly changes: readonly AppliedChange[];
}

/**
 * The errors a step is tried again for, after 1 s, then 2 s, then 4 s (three more tries, six for a roll back):
 * the retry policy of the split, merge and scale state machines' task states.
 */
export const TRANSIENT_COORDINATOR_ERRORS: readonly string[] = Object.freeze([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'TransactionConflictException',
]);

const RETRIES = { interval: 1_000, backoff: 2, attempts: 3, rollbackAttempts: 6 } as const;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs a whole split, merge or scale in this process, as the state machines do: begin (mark the segments draining),
 * wait `pollSeconds` and check until no dispatcher can still route with the old layout and no claim taken under it
 * is live, then apply; on a drain timeout, or when a check or apply fails, roll back. A scale plans one split or
 * merge at a time (`planScaleStep`: widest first up, narrowest first down) and runs each that way until the count is
 * reached. Transient errors are retried as the state machines retry them.
 *
 * A request the layout refuses (an unknown or draining segment, a merge whose sibling is split further, another
 * change under way) throws before anything is written, as does a failed roll back; a change that was rolled back
 * is an answer, not an error: see `outcome`.
 *
 * **The layout bound must be the dispatchers'.** No change is applied sooner than `layoutTtlMs` (plus
 * `clockSkewMs`) after it began, because a dispatcher may route with a layout that old. The default is the
 * dispatchers' default (`DEFAULT_DISPATCHER_SETTINGS.layoutTtlMs`, 5 s). Dispatchers given another `layoutTtlMs`
 * (`TIDEMARK_LAYOUT_TTL_MS`, the construct's `runtime.layoutTtlMs`) need the same value here: pass their settings
 * as `dispatcherSettings`, or the value as `layoutTtlMs`. Values given more than one way must agree.
 *
 * @example
 * const result = await changeLayout(store, { processor: 'order-projection', operation: 'split', segment: '0/1' }, {
 *   dispatcherSettings,
 *   onProgress: (p) => console.log(p.step),
 * });
 * if (result.outcome === 'rolledBack') console.error(`rolled back (${result.rollbackReason})`);
 */
export async function changeLayout(
  store: TokenStore,
  request: LayoutChangeRequest,
  options: ChangeLayoutOptions = {},
): Promise<LayoutChangeResult> {
  const settings = resolveCoordinatorSettings({ ...options.settings, layoutTtlMs: layoutTtlOf(options) });
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const coordinator = new LayoutCoordinator(store, { settings, clock });
  const progress = (event: LayoutChangeProgress) => {
    try {
      options.onProgress?.(event);
    } catch {
      // Printing progress must not leave a change half done.
    }
  };
  const step = async <T>(name: CoordinatorStep | 'read', run: () => Promise<T>): Promise<T> => {
    const retries = name === 'rollback' ? RETRIES.rollbackAttempts : RETRIES.attempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (attempt > retries || !isTransient(error)) throw error;
        const delayMs = RETRIES.interval * RETRIES.backoff ** (attempt - 1);
        progress({ step: 'retry', of: name, attempt, delayMs, error });
        await sleep(delayMs);
      }
    }
  };
  const { processor } = request;
  checkRequest(request);
  const changes: AppliedChange[] = [];
  const finish = async (
    outcome: LayoutChangeResult['outcome'],
    rollback?: { reason: 'drainTimeout' | 'failed'; error?: unknown },
  ): Promise<LayoutChangeResult> => {
    const layout = await step('read', () => store.readLayout(processor));
    return {
      processor,
      operation: request.operation,
      outcome,
      ...(rollback ? { rollbackReason: rollback.reason } : {}),
      ...(rollback?.error === undefined ? {} : { error: rollback.error }),
      layout,
      layoutVersion: layout.version,
      segments: sortSegments(layout.segments).map(segmentName),
      changes,
    };
  };

  /** Wait → check → drained: apply | timed out: roll back | wait again; a failed check or apply rolls back. */
  const drain = async (begun: ChangeState) => {
    let state = begun;
    let failure: unknown;
    let failed = false;
    for (;;) {
      await sleep(state.waitSeconds * 1_000);
      try {
        state = await step('check', () => coordinator.check(state));
      } catch (error) {
        failure = error;
        failed = true;
        break;
      }
      progress({ step: 'check', state });
      if (state.drained) {
        try {
          state = await step('apply', () => coordinator.apply(state));
        } catch (error) {
          failure = error;
          failed = true;
          break;
        }
        progress({ step: 'apply', state });
        return { state, rollback: undefined };
      }
      if (state.timedOut) break;
    }
    state = await step('rollback', () => coordinator.rollback(state));
    progress({ step: 'rollback', state });
    // A twin execution may have applied the change after all: then this one succeeded too.
    if (state.outcome === 'applied') return { state, rollback: undefined };
    return {
      state,
      rollback: failed ? { reason: 'failed' as const, error: failure } : { reason: 'drainTimeout' as const },
    };
  };
  const record = (state: ChangeState) =>
    changes.push({
      changeId: state.changeId,
      operation: state.operation,
      segment: state.segment,
      from: state.from,
      to: state.to,
      outcome: state.outcome ?? 'applied',
      layoutVersion: state.layoutVersion ?? state.drainVersion,
    });

  const layout = await step('read', () => store.readLayout(processor));
  if (request.operation === 'scale') {
    const executionName =
      options.changeId ?? changeExecutionName(processor, 'scale', String(request.segments), layout.version);
    let stepNumber = 0;
    for (;;) {
      const plan = await step('plan', () =>
        coordinator.planScale({ processor, target: request.segments, step: stepNumber, executionName }),
      );
      progress({ step: 'plan', plan });
      if (plan.done) return finish(changes.length === 0 ? 'unchanged' : 'applied');
      const begun = await step('begin', () =>
        coordinator.begin({
          processor,
          operation: plan.operation,
          segment: plan.segment,
          changeId: plan.changeId,
          target: plan.target,
          step: plan.step,
        }),
      );
      progress({ step: 'begin', state: begun });
      const { state, rollback } = await drain(begun);
      record(state);
      if (rollback) return finish('rolledBack', rollback);
      stepNumber = state.step ?? plan.step;
    }
  }
  const changeId =
    options.changeId ?? changeExecutionName(processor, request.operation, request.segment, layout.version);
  const begun = await step('begin', () =>
    coordinator.begin({ processor, operation: request.operation, segment: request.segment, changeId }),
  );
  progress({ step: 'begin', state: begun });
  const { state, rollback } = await drain(begun);
  record(state);
  return rollback ? finish('rolledBack', rollback) : finish('applied');
}

/**
 * The dispatchers' layout bound from the options: `layoutTtlMs`, `dispatcherSettings.layoutTtlMs` and
 * `settings.layoutTtlMs`, whichever are given, which must agree. Undefined when none is (the default applies).
 */
function layoutTtlOf(options: ChangeLayoutOptions): number | undefined {
  if (options.dispatcherSettings) resolveDispatcherSettings(options.dispatcherSettings);
  const candidates: Array<[string, number | undefined]> = [
    ['layoutTtlMs', options.layoutTtlMs],
    ['dispatcherSettings.layoutTtlMs', options.dispatcherSettings?.layoutTtlMs],
    ['settings.layoutTtlMs', options.settings?.layoutTtlMs],
  ];
  const given = candidates.filter((entry): entry is [string, number] => entry[1] !== undefined);
  const [first, ...rest] = given;
  const other = rest.find(([, value]) => value !== first![1]);
  if (other) {
    throw new ConfigurationError(
      `${first![0]} (${first![1]}) and ${other[0]} (${other[1]}) disagree: the drain must wait out the dispatchers' layout bound, so give it once`,
    );
  }
  return first?.[1];
}

function checkRequest(request: LayoutChangeRequest): void {
  const operation = (request as { operation?: unknown }).operation;
  if (operation === 'scale') return;
  if (operation !== LayoutOperation.Split && operation !== LayoutOperation.Merge) {
    throw new ConfigurationError(`operation must be "split", "merge" or "scale", got ${JSON.stringify(operation)}`);
  }
}

function isTransient(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && TRANSIENT_COORDINATOR_ERRORS.includes(name);
}
