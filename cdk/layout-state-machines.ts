import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TRANSIENT_COORDINATOR_ERRORS } from '../shared/coordination/change-layout.js';

/** The coordinator functions behind the state machines' task states (`functions/coordinator/`). */
export interface CoordinatorFunctions {
  readonly begin: IFunction;
  readonly check: IFunction;
  readonly apply: IFunction;
  readonly rollback: IFunction;
  readonly plan: IFunction;
}

/** Settings of {@link LayoutStateMachines}. */
export interface LayoutStateMachinesProps {
  readonly coordinator: CoordinatorFunctions;
  /** Longest a split or merge may run. @default Duration.hours(1) */
  readonly changeTimeout?: Duration;
  /** Longest a scale may run. @default Duration.hours(6) */
  readonly scaleTimeout?: Duration;
  /** Where executions log (level ALL, with execution data). @default no logging */
  readonly logGroup?: ILogGroup;
}

/** State names, shared with the local runner (aws-local-stepfunctions overrides tasks by state name). */
export const STATE_NAMES = {
  start: 'Start',
  plan: 'Plan next change',
  planned: 'Done?',
  begin: 'Begin change',
  wait: 'Wait for drain',
  check: 'Check drain',
  drained: 'Drained?',
  apply: 'Apply change',
  rollback: 'Roll back',
  succeeded: 'Changed',
  rolledBack: 'Rolled back',
  rollbackOutcome: 'Rolled back?',
  refused: 'Refused',
} as const;

/** Which coordinator function each task state calls. */
export const TASK_FUNCTIONS: Record<string, keyof CoordinatorFunctions> = {
  [STATE_NAMES.plan]: 'plan',
  [STATE_NAMES.begin]: 'begin',
  [STATE_NAMES.check]: 'check',
  [STATE_NAMES.apply]: 'apply',
  [STATE_NAMES.rollback]: 'rollback',
};

/**
 * The Standard state machines that change a processor's layout while traffic flows: split a segment, merge a
 * segment with its sibling, and scale to N segments (a loop of splits or merges). Each change drains the
 * segment(s), waits in a bounded loop until claims under the old layout end, applies the change in one conditional
 * transaction, and rolls back on timeout or failure. Executions are named by the caller from processor,
 * operation, segment and layout version, so a repeated request joins the running execution.
 */
export class LayoutStateMachines extends Construct {
  readonly split: sfn.StateMachine;
  readonly merge: sfn.StateMachine;
  readonly scale: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: LayoutStateMachinesProps) {
    super(scope, id);
    const changeTimeout = props.changeTimeout ?? Duration.hours(1);
    this.split = this.changeMachine('Split', 'split', props, changeTimeout);
    this.merge = this.changeMachine('Merge', 'merge', props, changeTimeout);
    this.scale = this.scaleMachine(props, props.scaleTimeout ?? Duration.hours(6));
  }

  private changeMachine(id: string, operation: string, props: LayoutStateMachinesProps, timeout: Duration) {
    const scope = new Construct(this, `${id}Definition`);
    const begin = this.task(scope, STATE_NAMES.begin, props.coordinator.begin, {
      processor: sfn.JsonPath.stringAt('$.processor'),
      operation,
      segment: sfn.JsonPath.stringAt('$.segment'),
      changeId: sfn.JsonPath.stringAt('$$.Execution.Name'),
    });
    begin.addCatch(
      new sfn.Fail(scope, STATE_NAMES.refused, { cause: 'The change was refused', error: 'ChangeRefused' }),
      {
        resultPath: '$.error',
      },
    );
    const drain = this.drainLoop(scope, props, new sfn.Succeed(scope, STATE_NAMES.succeeded));
    return this.machine(id, begin.next(drain), props, timeout);
  }

  private scaleMachine(props: LayoutStateMachinesProps, timeout: Duration) {
    const scope = new Construct(this, 'ScaleDefinition');
    const start = new sfn.Pass(scope, STATE_NAMES.start, {
      parameters: { 'processor.$': '$.processor', 'target.$': '$.target', step: 0 },
    });
    const plan = this.task(scope, STATE_NAMES.plan, props.coordinator.plan, {
      processor: sfn.JsonPath.stringAt('$.processor'),
      target: sfn.JsonPath.numberAt('$.target'),
      step: sfn.JsonPath.numberAt('$.step'),
      executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
    });
    const begin = this.task(scope, STATE_NAMES.begin, props.coordinator.begin, {
      processor: sfn.JsonPath.stringAt('$.processor'),
      operation: sfn.JsonPath.stringAt('$.operation'),
      segment: sfn.JsonPath.stringAt('$.segment'),
      changeId: sfn.JsonPath.stringAt('$.changeId'),
      target: sfn.JsonPath.numberAt('$.target'),
      step: sfn.JsonPath.numberAt('$.step'),
    });
    const refused = new sfn.Fail(scope, STATE_NAMES.refused, { cause: 'A change was refused', error: 'ChangeRefused' });
    plan.addCatch(refused, { resultPath: '$.error' });
    begin.addCatch(refused, { resultPath: '$.error' });
    const drain = this.drainLoop(scope, props, plan);
    const planned = new sfn.Choice(scope, STATE_NAMES.planned)
      .when(sfn.Condition.booleanEquals('$.done', true), new sfn.Succeed(scope, STATE_NAMES.succeeded))
      .otherwise(begin.next(drain));
    return this.machine('Scale', start.next(plan).next(planned), props, timeout);
  }

  /** Wait → check → (drained: apply → then) | (timed out: roll back → fail) | wait again. */
  private drainLoop(scope: Construct, props: LayoutStateMachinesProps, then: sfn.IChainable): sfn.IChainable {
    const wait = new sfn.Wait(scope, STATE_NAMES.wait, { time: sfn.WaitTime.secondsPath('$.waitSeconds') });
    const check = this.task(scope, STATE_NAMES.check, props.coordinator.check);
    const apply = this.task(scope, STATE_NAMES.apply, props.coordinator.apply);
    const rollback = this.task(scope, STATE_NAMES.rollback, props.coordinator.rollback, undefined, 6);
    const rolledBack = new sfn.Fail(scope, STATE_NAMES.rolledBack, {
      cause: 'Claims did not drain in time, or a step failed; the layout was rolled back',
      error: 'ChangeRolledBack',
    });
    check.addCatch(rollback, { resultPath: '$.error' });
    apply.addCatch(rollback, { resultPath: '$.error' });
    // A twin execution may have applied the change after all: then this one succeeds too.
    rollback.next(
      new sfn.Choice(scope, STATE_NAMES.rollbackOutcome)
        .when(sfn.Condition.stringEquals('$.outcome', 'applied'), then)
        .otherwise(rolledBack),
    );
    const drained = new sfn.Choice(scope, STATE_NAMES.drained)
      .when(sfn.Condition.booleanEquals('$.drained', true), apply.next(then))
      .when(sfn.Condition.booleanEquals('$.timedOut', true), rollback)
      .otherwise(wait);
    return wait.next(check).next(drained);
  }

  private task(
    scope: Construct,
    name: string,
    fn: IFunction,
    payload?: Record<string, unknown>,
    maxAttempts = 3,
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(scope, name, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      ...(payload ? { payload: sfn.TaskInput.fromObject(payload) } : {}),
      retryOnServiceExceptions: true,
    });
    task.addRetry({
      errors: [...TRANSIENT_COORDINATOR_ERRORS],
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts,
    });
    return task;
  }

  private machine(id: string, chain: sfn.IChainable, props: LayoutStateMachinesProps, timeout: Duration) {
    return new sfn.StateMachine(this, id, {
      definitionBody: sfn.DefinitionBody.fromChainable(chain),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout,
      tracingEnabled: true,
      ...(props.logGroup
        ? { logs: { destination: props.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true } }
        : {}),
    });
  }
}
