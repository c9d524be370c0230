import type { LambdaContext } from '../shared/processing/lambda-handler.js';

/**
 * Lambda's invocation context as its Node.js runtime hands it to a handler: every field, so it also satisfies
 * `Context` of `@types/aws-lambda` (declared here to keep that package out of a team's type graph).
 */
export interface LocalLambdaContext extends LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  done(error?: Error, result?: unknown): void;
  fail(error: Error | string): void;
  succeed(messageOrObject: unknown): void;
}

/** A Lambda context as the runtime hands it to a handler, with a fixed time budget (for running handlers locally). */
export function lambdaContext(
  remainingMs = 60_000,
  requestId = 'local-request',
  functionName = 'tidemark-local',
): LocalLambdaContext {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
