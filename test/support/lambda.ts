import type { Context } from 'aws-lambda';
import { lambdaContext } from '../../scripts/lib/lambda-context.js';

export { lambdaContext };
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

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
