import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { assertStallWindow, STALL_WINDOW_MS } from '../shared/admin/admin-settings.js';
import { TrackingProcessorConfigError } from './config-error.js';
import { nagResource } from './nag.js';

/** Settings of the admin API (`TrackingProcessorProps.admin`). */
export interface AdminApiSettings {
  /** Deploy the admin function, its IAM-authorised function URL and the lag sampler. @default true */
  readonly enabled?: boolean;
  /**
   * A partition whose position has not moved for this long while it has lag is stalled (Burrow's rule). At least 2
   * minutes (the sampler runs every minute). @default Duration.minutes(5)
   */
  readonly stallWindow?: Duration;
  /** How often lag is sampled (and `RecordLag`, `StalledPartitions`, … published). @default Duration.minutes(1) */
  readonly sampleEvery?: Duration;
}

/** The admin settings with defaults filled in and checked. */
export interface ResolvedAdminSettings {
  readonly enabled: boolean;
  readonly stallWindowMs: number;
  readonly sampleEvery: Duration;
}

/** Fills in and checks the admin settings; a bad one is a TrackingProcessorConfigError naming it. */
export function resolveAdminSettings(given: AdminApiSettings = {}): ResolvedAdminSettings {
  const stallWindowMs = given.stallWindow?.toMilliseconds() ?? STALL_WINDOW_MS.default;
  try {
    assertStallWindow(stallWindowMs);
  } catch {
    throw new TrackingProcessorConfigError(
      'admin.stallWindow',
      given.stallWindow?.toHumanString(),
      'from 2 minutes to 24 hours',
    );
  }
  const sampleEvery = given.sampleEvery ?? Duration.minutes(1);
  const minutes = sampleEvery.toMinutes({ integral: false });
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60 || minutes * 60_000 * 2 > stallWindowMs) {
    throw new TrackingProcessorConfigError(
      'admin.sampleEvery',
      sampleEvery.toHumanString(),
      'whole minutes from 1 to 60, at most half the stall window (two samples must fit in it)',
    );
  }
  return { enabled: given.enabled ?? true, stallWindowMs, sampleEvery };
}

/** What the admin API reaches: the function (made by the processor with its table grants), machines and mappings. */
export interface AdminApiProps {
  readonly function: NodejsFunction;
  readonly stateMachines: readonly sfn.StateMachine[];
  readonly mappings: readonly lambda.EventSourceMapping[];
  readonly sampleEvery: Duration;
}

/**
 * The admin API of a processor: a function URL with `AWS_IAM` auth (callers sign with SigV4 and need
 * `lambda:InvokeFunctionUrl` on it; `tidemark console` signs for you), the grants its commands need and nothing
 * more — start and describe executions of the processor's own state machines, get and update its own event source
 * mappings — and the schedule of its lag sampler.
 */
export class AdminApi extends Construct {
  readonly url: lambda.FunctionUrl;
  readonly sampleSchedule: events.Rule;

  constructor(scope: Construct, id: string, props: AdminApiProps) {
    super(scope, id);
    const fn = props.function;
    this.url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    const stack = Stack.of(this);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: props.stateMachines.map((m) => m.stateMachineArn),
      }),
    );
    const executions = props.stateMachines.map((m) =>
      stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${m.stateMachineName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: executions }));
    Validations.of(fn.role!).acknowledge(
      ...executions.map((arn) => ({
        id: `AwsSolutions-IAM5[${nagResource(this, arn)}]`,
        reason:
          'Execution names are only known when the admin API starts them; DescribeExecution is limited to the ' +
          "executions of this processor's own state machines.",
      })),
    );
    if (props.mappings.length) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
          resources: props.mappings.map((m) => m.eventSourceMappingArn),
        }),
      );
    }
    this.sampleSchedule = new events.Rule(this, 'LagSampler', {
      description: 'Tidemark: samples lag, publishes RecordLag, StalledPartitions and EventSourceDisabledSeconds',
      schedule: events.Schedule.rate(props.sampleEvery),
      targets: [
        new targets.LambdaFunction(fn, {
          event: events.RuleTargetInput.fromObject({ action: 'sample-lag' }),
          // The next tick is the retry.
          retryAttempts: 0,
        }),
      ],
    });
  }
}
