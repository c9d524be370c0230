import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  StartExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { ConfigurationError } from '../errors.js';
import type { OperationRunner, OperationWork, RunState } from './operation-runner.js';
import type { Operation } from './operation-store.js';

/** The state machines an admin API starts, by what they run. */
export interface AdminStateMachines {
  readonly split: string;
  readonly merge: string;
  readonly scale: string;
  readonly reset?: string;
}

/**
 * Runs operations as Step Functions executions. The execution name derives from the work (the layout version, the
 * operation id), so a start repeated after a crash or a retried request finds the execution already there.
 */
export class SfnOperationRunner implements OperationRunner {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachines: AdminStateMachines,
  ) {}

  async start(_operation: Operation, work: OperationWork): Promise<string> {
    const arn = this.stateMachineOf(work);
    const input =
      work.kind === 'layout'
        ? work.request.operation === 'scale'
          ? { processor: work.request.processor, target: work.request.segments }
          : { processor: work.request.processor, segment: work.request.segment }
        : work.input;
    try {
      const { executionArn } = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: arn, name: work.executionName, input: JSON.stringify(input) }),
      );
      return executionArn!;
    } catch (error) {
      // Started before with other input: for layout names (which carry the version) it is the same command.
      if (error instanceof ExecutionAlreadyExists) return executionArnOf(arn, work.executionName);
      throw error;
    }
  }

  async describe(run: string): Promise<RunState> {
    const execution = await this.sfn.send(new DescribeExecutionCommand({ executionArn: run }));
    switch (execution.status) {
      case 'RUNNING':
      case 'PENDING_REDRIVE':
        return { status: 'running' };
      case 'SUCCEEDED':
        return { status: 'succeeded', result: execution.output ? (JSON.parse(execution.output) as unknown) : null };
      default:
        return {
          status: 'failed',
          error: { name: execution.error ?? String(execution.status), message: execution.cause ?? '' },
        };
    }
  }

  private stateMachineOf(work: OperationWork): string {
    const key = work.kind === 'reset' ? 'reset' : work.request.operation;
    const arn = this.stateMachines[key];
    if (!arn) throw new ConfigurationError(`no ${key} state machine is configured for the admin API`);
    return arn;
  }
}

/** `arn:…:states:…:stateMachine:<name>` → `arn:…:states:…:execution:<name>:<execution>`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}
