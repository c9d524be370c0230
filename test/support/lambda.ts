import type { Context } from 'aws-lambda';
import { lambdaContext } from '../../local/lambda-context.js';

export { lambdaContext };
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Lambda's synchronous payload limit, each way. */
const PAYLOAD_LIMIT = 6 * 1024 * 1024;

/**
 * Stands in for the Lambda service behind `LambdaClient.send(InvokeCommand)`: runs the named function's handler in
 * this process with a JSON round trip, and answers as Lambda does for RequestResponse: status 200 with the result,
 * or `FunctionError: "Unhandled"` with the error as payload when the handler throws. Like Lambda, it refuses a
 * request over 6 MB (`RequestTooLargeException`) and fails an answer over 6 MB after the function ran. `throttle`
 * refuses that many invocations first (`TooManyRequestsException`, before the function runs); `resetAfterRun`
 * drops that many connections after the function ran, as a network reset would.
 */
export class LocalLambda {
  readonly invocations: Array<{ functionName: string; payload: unknown }> = [];
  /** Requests refused before the function ran. */
  readonly refused: Array<{ name: string; bytes: number }> = [];

  constructor(
    private readonly functions: Record<string, Handler>,
    private readonly faults: { throttle?: number; resetAfterRun?: number } = {},
  ) {}

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
    const bytes = (Payload as Uint8Array).length;
    if (bytes > PAYLOAD_LIMIT) {
      this.refused.push({ name: 'RequestTooLargeException', bytes });
      throw Object.assign(
        new Error(`Request must be smaller than ${PAYLOAD_LIMIT} bytes for the InvokeFunction operation`),
        {
          name: 'RequestTooLargeException',
        },
      );
    }
    if ((this.faults.throttle ?? 0) > 0) {
      this.faults.throttle!--;
      this.refused.push({ name: 'TooManyRequestsException', bytes });
      throw Object.assign(new Error('Rate Exceeded.'), { name: 'TooManyRequestsException' });
    }
    const payload = JSON.parse(Buffer.from(Payload as Uint8Array).toString('utf8')) as unknown;
    this.invocations.push({ functionName: FunctionName!, payload });
    try {
      const result = await handler(payload, lambdaContext(60_000, `worker-${this.invocations.length}`));
      if ((this.faults.resetAfterRun ?? 0) > 0) {
        this.faults.resetAfterRun!--;
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' });
      }
      const answer = Buffer.from(JSON.stringify(result ?? null));
      if (answer.length > PAYLOAD_LIMIT) {
        const body = {
          errorType: 'Function.ResponseSizeTooLarge',
          errorMessage: `Response payload size (${answer.length} bytes) exceeded maximum allowed payload size (${PAYLOAD_LIMIT} bytes).`,
        };
        return {
          StatusCode: 200,
          FunctionError: 'Unhandled',
          Payload: new Uint8Array(Buffer.from(JSON.stringify(body))),
        };
      }
      return { StatusCode: 200, Payload: new Uint8Array(answer) };
    } catch (error) {
      if ((error as { code?: string }).code === 'ECONNRESET') throw error;
      const body = { errorType: (error as Error).name, errorMessage: (error as Error).message };
      return {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new Uint8Array(Buffer.from(JSON.stringify(body))),
      };
    }
  }
}
