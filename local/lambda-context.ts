import type { Context } from 'aws-lambda';

/** A Lambda context as the runtime hands it to a handler, with a fixed time budget (for running handlers locally). */
export function lambdaContext(
  remainingMs = 60_000,
  requestId = 'local-request',
  functionName = 'tidemark-local',
): Context {
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
