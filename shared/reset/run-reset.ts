import { isRetriable } from '../errors.js';
import type { ResetExecutionInput } from './reset-execution.js';
import type { ResetPlan } from './reset-plan.js';
import {
  RESET_RETRIED_ERRORS,
  type GroupsCheck,
  type GroupsMoved,
  type ResetSources,
  type ResetSteps,
} from './reset-steps.js';
import type { ResetWriteResult } from './reset-writer.js';

/** The state a reset ends with: its input and every step's answer (what the state machine's execution outputs). */
export interface ResetRunResult extends ResetExecutionInput {
  readonly sources: ResetSources;
  readonly check: GroupsCheck;
  readonly plan: ResetPlan;
  readonly moved: GroupsMoved;
  readonly written: ResetWriteResult;
  readonly enabled: { readonly mappings: ReadonlyArray<{ topic: string; state: string }> };
}

/** Settings of {@link runReset}. */
export interface RunResetOptions {
  /** Called after every step with its answer. */
  readonly onStep?: (step: string, output: unknown) => void;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs a reset in this process, as the reset state machine does (cdk/reset-state-machine.ts), for tools without Step
 * Functions (the CLI against a local DynamoDB): disable, check every `pollSeconds` until the groups are empty, plan,
 * move the groups' offsets, write the tokens, enable; a step failing with an error the machine retries is tried again
 * with backoff (3 attempts, 6 for moving offsets); a failure after disabling enables the event sources again and
 * rethrows the step's error.
 */
export async function runReset(
  steps: ResetSteps,
  input: ResetExecutionInput,
  options: RunResetOptions = {},
): Promise<ResetRunResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const step = async <T>(name: string, run: () => Promise<T>, attempts = 3): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const output = await run();
        options.onStep?.(name, output);
        return output;
      } catch (error) {
        const name = (error as { name?: unknown }).name;
        const retried = typeof name === 'string' && RESET_RETRIED_ERRORS.includes(name) && isRetriable(error);
        if (!retried || attempt >= attempts) throw error;
        await sleep(1_000 * 2 ** (attempt - 1));
      }
    }
  };
  const sources = await step('disable', () => steps.disable(input));
  try {
    let check: GroupsCheck;
    do {
      await sleep(sources.waitSeconds * 1_000);
      check = await step('check', () => steps.check({ processor: input.processor, sources }));
    } while (!check.empty);
    const plan = await step('plan', () => steps.plan({ ...input, sources }));
    const moved = await step('move', () => steps.move({ processor: input.processor, plan, sources }), 6);
    const written = await step('write', () => steps.write({ ...input, plan }));
    const enabled = await step('enable', () => steps.enable({ processor: input.processor, sources }), 6);
    return { ...input, sources, check, plan, moved, written, enabled };
  } catch (error) {
    await step('enable', () => steps.enable({ processor: input.processor, sources }), 6);
    throw error;
  }
}
