import { randomUUID } from 'node:crypto';
import { changeLayout } from '../coordination/change-layout.js';
import { describeError } from '../observability/logger.js';
import type { TokenStore } from '../tokens/token-store.js';
import type { OperationRunner, OperationWork, RunState } from './operation-runner.js';
import type { Operation } from './operation-store.js';

/**
 * Runs operations in this process, for the local stack and `tidemark console --endpoint`: layout changes with
 * {@link changeLayout} (the state machines' steps in one call), resets with the function given. Runs live in memory:
 * one this process did not start reads as failed.
 */
export class InProcessOperationRunner implements OperationRunner {
  private readonly runs = new Map<string, { state: RunState; byName: string }>();

  constructor(
    private readonly options: {
      tokens: TokenStore;
      layoutTtlMs: number;
      reset?: (input: Readonly<Record<string, unknown>>, executionName: string) => Promise<unknown>;
    },
  ) {}

  start(_operation: Operation, work: OperationWork): Promise<string> {
    for (const [id, run] of this.runs) if (run.byName === work.executionName) return Promise.resolve(id);
    const id = `local:${work.executionName}:${randomUUID()}`;
    const entry = { state: { status: 'running' } as RunState, byName: work.executionName };
    this.runs.set(id, entry);
    const done = (result: unknown) => (entry.state = { status: 'succeeded', result });
    const failed = (error: unknown) => (entry.state = { status: 'failed', error: describeError(error) });
    if (work.kind === 'layout') {
      changeLayout(this.options.tokens, work.request, {
        layoutTtlMs: this.options.layoutTtlMs,
        // One machine, one clock: little skew to allow for, and short waits between drain checks.
        settings: { clockSkewMs: 100, pollSeconds: 1 },
        changeId: work.executionName,
      }).then(
        (result) =>
          result.outcome === 'rolledBack' ? failed(new Error(`rolled back: ${JSON.stringify(result)}`)) : done(result),
        failed,
      );
    } else if (this.options.reset) {
      this.options.reset(work.input, work.executionName).then(done, failed);
    } else {
      failed(new Error('resets are not available in this process'));
    }
    return Promise.resolve(id);
  }

  describe(run: string): Promise<RunState> {
    return Promise.resolve(
      this.runs.get(run)?.state ?? {
        status: 'failed',
        error: { name: 'RunLost', message: `run ${run} is not known to this process (it was restarted?)` },
      },
    );
  }
}
