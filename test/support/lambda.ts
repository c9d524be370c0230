import type { Context } from 'aws-lambda';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/** A Lambda context as the runtime gives it, with a fixed time budget. */
export function lambdaContext(remainingMs = 60_000, requestId = 'request-1'): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'tidemark-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:tidemark-test',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/tidemark-test',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * Stands in for the Lambda service behind `LambdaClient.send(InvokeCommand)`: runs the named function's handler in
 * this process with a JSON round trip, and answers as Lambda does for RequestResponse: status 200 with the result,
 * or `FunctionError: "Unhandled"` with the error as payload when the handler throws.
 */
export class LocalLambda {
  readonly invocations: Array<{ functionName: string; payload: unknown }> = [];

  constructor(private readonly functions: Record<string, Handler>) {}

  asClient(): LambdaClient {
    return { send: (command: InvokeCommand) => this.invoke(command) } as unknown as LambdaClient;
  }

  private async invoke(command: InvokeCommand) {
    const { FunctionName, Payload, InvocationType } = command.input;
    const handler = this.functions[FunctionName ?? ''];
    if (!handler)
      throw Object.assign(new Error(`Function not found: ${FunctionName}`), { name: 'ResourceNotFoundException' });
    if (InvocationType !== 'RequestResponse')
      throw new Error(`LocalLambda only runs RequestResponse, got ${InvocationType}`);
    const payload = JSON.parse(Buffer.from(Payload as Uint8Array).toString('utf8')) as unknown;
    this.invocations.push({ functionName: FunctionName!, payload });
    try {
      const result = await handler(payload, lambdaContext(60_000, `worker-${this.invocations.length}`));
      return { StatusCode: 200, Payload: new Uint8Array(Buffer.from(JSON.stringify(result ?? null))) };
    } catch (error) {
      const body = { errorType: (error as Error).name, errorMessage: (error as Error).message };
      return {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new Uint8Array(Buffer.from(JSON.stringify(body))),
      };
    }
  }
}
