import type { LayoutChangeRequest } from '../coordination/change-layout.js';
import type { Operation } from './operation-store.js';

/** The long work behind an operation: a layout change or a reset, run by a state machine (or in process, locally). */
export type OperationWork =
  | { readonly kind: 'layout'; readonly request: LayoutChangeRequest; readonly executionName: string }
  | { readonly kind: 'reset'; readonly input: Readonly<Record<string, unknown>>; readonly executionName: string };

/** Where a run stands. */
export interface RunState {
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly result?: unknown;
  readonly error?: { readonly name: string; readonly message: string };
}

/**
 * Starts and follows operations' runs. `start` must be idempotent per execution name: starting the same work twice
 * (a retried request, a crash between accepting and starting) gives the same run.
 */
export interface OperationRunner {
  start(operation: Operation, work: OperationWork): Promise<string>;
  describe(run: string): Promise<RunState>;
}
