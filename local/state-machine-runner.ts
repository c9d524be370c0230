import type { CoordinatorOptions } from '../shared/coordination/coordinator-handlers.js';
import { importPeer } from './peers.js';
import type { LayoutDefinitions } from './local-state-machines.js';

export type { LayoutDefinitions } from './local-state-machines.js';

/** The split, merge and scale machines' module, loaded on first use (it needs aws-cdk-lib and aws-local-stepfunctions). */
export function loadLocalStateMachines(): Promise<typeof import('./local-state-machines.js')> {
  return importPeer(
    ['aws-cdk-lib', 'constructs', 'aws-local-stepfunctions'],
    () => import('./local-state-machines.js'),
  );
}

/**
 * The split, merge and scale state machines as CloudFormation would receive them, synthesized offline from the
 * construct the deployment uses (once per process). Needs `aws-cdk-lib` and `constructs`.
 */
export async function synthesizeStateMachines(): Promise<LayoutDefinitions> {
  return (await loadLocalStateMachines()).synthesizeLayoutDefinitions();
}

/** Settings of {@link runStateMachine}. */
export interface StateMachineRunOptions {
  /** The token store and timings the coordinator functions run with. */
  readonly coordinator: CoordinatorOptions;
  /** The execution's name, as Step Functions would have it (it names the change in the layout item). */
  readonly executionName: string;
  /** How long the machine's wait-for-drain state waits, instead of its deployed seconds. */
  readonly waitMs?: number;
  /** Called after every task state with its output. */
  readonly onStep?: (state: string, output: unknown) => void | Promise<void>;
}

/**
 * Runs a split, merge or scale machine (`'split'`, `'merge'`, `'scale'`, or a definition from
 * {@link synthesizeStateMachines}) in this process with aws-local-stepfunctions, its task states calling the real
 * coordinator handlers. Resolves with the execution's output; rejects with its failure (the Fail state's error is
 * the `cause`).
 *
 * ```ts
 * const result = await runStateMachine('split', { processor: 'orders-view', segment: '0/1' }, {
 *   coordinator: { store, layoutTtlMs: 1_000, pollSeconds: 1 },
 *   executionName: 'orders-view-split-0-1',
 * });
 * ```
 */
export async function runStateMachine(
  machine: keyof LayoutDefinitions | LayoutDefinitions[keyof LayoutDefinitions],
  input: Record<string, unknown>,
  options: StateMachineRunOptions,
): Promise<unknown> {
  const machines = await loadLocalStateMachines();
  const definition = typeof machine === 'string' ? machines.synthesizeLayoutDefinitions()[machine] : machine;
  return machines.runLocally(definition, input, options).result;
}
