import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { StateMachine, type StateMachineDefinition as AslMachine } from 'aws-local-stepfunctions';
import {
  LayoutStateMachines,
  STATE_NAMES,
  TASK_FUNCTIONS,
  type CoordinatorFunctions,
} from '../cdk/layout-state-machines.js';
import { createCoordinatorHandlers, type CoordinatorOptions } from '../shared/coordination/coordinator-handlers.js';
import { lambdaContext, type LocalLambdaContext } from './lambda-context.js';

// This module imports aws-cdk-lib, constructs and aws-local-stepfunctions (optional peers) at its top: nothing that
// `tidemark/local` exports imports it statically. state-machine-runner.ts loads it on first use, naming a missing
// peer; the CLI's local change imports it the same way.

/** An execution started by {@link runLocally}. */
export interface LocalExecution {
  /** The execution's output; rejects with its failure (the Fail state's error is the `cause`). */
  readonly result: Promise<unknown>;
  /** Stops the execution; `result` then rejects. */
  abort(): void;
}

/** A state machine definition in the Amazon States Language (the JSON Step Functions runs). */
export interface StateMachineDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

/** The split, merge and scale definitions, as CloudFormation would receive them. */
export interface LayoutDefinitions {
  readonly split: StateMachineDefinition;
  readonly merge: StateMachineDefinition;
  readonly scale: StateMachineDefinition;
}

let synthesized: LayoutDefinitions | undefined;

/**
 * Synthesizes the state machines from the CDK construct (offline: no account, no lookups, no bundling) and
 * returns their definitions with every CloudFormation reference resolved to a placeholder ARN. Synthesis takes a
 * second or two of CPU and its result never changes, so it runs once per process; each call returns a fresh copy.
 */
export function synthesizeLayoutDefinitions(): LayoutDefinitions {
  synthesized ??= synthesize();
  return structuredClone(synthesized);
}

function synthesize(): LayoutDefinitions {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'TidemarkLocal');
  const fn = (name: string) =>
    new lambda.Function(stack, name, {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({});'),
    });
  const coordinator: CoordinatorFunctions = {
    begin: fn('Begin'),
    check: fn('Check'),
    apply: fn('Apply'),
    rollback: fn('Rollback'),
    plan: fn('Plan'),
  };
  const machines = new LayoutStateMachines(stack, 'Layout', { coordinator });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const definition = (machine: { node: { defaultChild?: unknown } }) => {
    const logicalId = stack.getLogicalId(machine.node.defaultChild as never);
    return resolveDefinition(resources[logicalId]!.Properties.DefinitionString);
  };
  return { split: definition(machines.split), merge: definition(machines.merge), scale: definition(machines.scale) };
}

/** Joins a `Fn::Join` definition string, replacing references with placeholder Lambda ARNs. */
export function resolveDefinition(definitionString: unknown): StateMachineDefinition {
  const resolve = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const reference = part as Record<string, unknown>;
    const name = JSON.stringify(reference['Fn::GetAtt'] ?? reference.Ref ?? 'x')
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 60);
    return `arn:aws:lambda:us-east-1:123456789012:function:${name}`;
  };
  if (typeof definitionString === 'string') return JSON.parse(definitionString) as StateMachineDefinition;
  const [separator, parts] = (definitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return JSON.parse(parts.map(resolve).join(separator)) as StateMachineDefinition;
}

/**
 * Runs a synthesized definition in this process with aws-local-stepfunctions, its task states routed to the real
 * coordinator Lambda handlers (those `functions/coordinator/*` export), with payloads serialised as Lambda does.
 */
export function runLocally(
  definition: StateMachineDefinition,
  input: Record<string, unknown>,
  options: {
    coordinator: CoordinatorOptions;
    executionName: string;
    waitMs?: number;
    onStep?: (state: string, output: unknown) => void | Promise<void>;
  },
): LocalExecution {
  const lambdas = createCoordinatorHandlers(options.coordinator);
  const handlers = Object.fromEntries(
    Object.entries(TASK_FUNCTIONS).map(([state, fn]) => [
      state,
      async (taskInput: unknown) => {
        const handler = lambdas[fn] as (event: unknown, context: LocalLambdaContext) => Promise<unknown>;
        const payload = JSON.parse(JSON.stringify(taskInput)) as unknown;
        const output = JSON.parse(
          JSON.stringify(await handler(payload, lambdaContext(60_000, `${options.executionName}-${fn}`, fn))),
        ) as unknown;
        await options.onStep?.(state, output);
        return output as never;
      },
    ]),
  );
  const machine = new StateMachine(definition as unknown as AslMachine, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers,
      ...(options.waitMs === undefined ? {} : { waitTimeOverrides: { [STATE_NAMES.wait]: options.waitMs } }),
      retryIntervalOverrides: Object.fromEntries(Object.keys(TASK_FUNCTIONS).map((state) => [state, 10])),
    },
    context: { Execution: { Name: options.executionName, Input: input, StartTime: new Date().toISOString() } } as never,
  });
  return { result: execution.result, abort: () => execution.abort() };
}
