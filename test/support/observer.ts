import type { Logger } from '../../shared/observability/logger.js';
import type { ProcessorObserver } from '../../shared/processing/observer.js';

type Callback = keyof ProcessorObserver;
export type EventOf<K extends Callback> = Parameters<NonNullable<ProcessorObserver[K]>>[0];

/** One observed callback, in the order it was called. */
export type Observed = { [K in Callback]: { readonly type: K; readonly event: EventOf<K> } }[Callback];

const CALLBACKS: readonly Callback[] = [
  'onClaim',
  'onCheckpoint',
  'onPark',
  'onHandBack',
  'onRecordFailed',
  'onRedrive',
];

/** An observer that records every callback in call order. */
export function recordingObserver() {
  const events: Observed[] = [];
  const observer = Object.fromEntries(
    CALLBACKS.map((type) => [type, (event: unknown) => void events.push({ type, event } as Observed)]),
  ) as ProcessorObserver;
  return {
    observer,
    events,
    /** The events of one callback, in order. */
    of<K extends Callback>(type: K): Array<EventOf<K>> {
      return events.filter((e) => e.type === type).map((e) => e.event as EventOf<K>);
    },
    /** The callbacks' names in call order, `onRecordFailed` left out unless asked for. */
    sequence(options: { failures?: boolean } = {}): Callback[] {
      return events.map((e) => e.type).filter((type) => options.failures || type !== 'onRecordFailed');
    },
  };
}

/**
 * An observer whose every callback fails (throwing, or rejecting when `rejects`), counting its calls, to show that
 * nothing it does changes processing.
 */
export function failingObserver(options: { rejects?: boolean } = {}) {
  const calls: Callback[] = [];
  const observer = Object.fromEntries(
    CALLBACKS.map((type) => [
      type,
      (): Promise<void> | void => {
        calls.push(type);
        if (options.rejects) return Promise.reject(new Error(`observer ${type} rejected`));
        throw new Error(`observer ${type} threw`);
      },
    ]),
  ) as ProcessorObserver;
  return { observer, calls };
}

/** A logger that keeps its warnings (message and fields), dropping the rest. */
export function warningLogger() {
  const warnings: Array<{ message: string; fields: Record<string, unknown> | undefined }> = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message, fields) => void warnings.push({ message, fields }),
    error() {},
  };
  return { logger, warnings };
}
