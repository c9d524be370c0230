/**
 * The part of Lambda's invocation context Tidemark reads. Lambda's own context object satisfies it; declaring it
 * here keeps `@types/aws-lambda` out of a team's type graph.
 */
export interface LambdaContext {
  readonly awsRequestId: string;
  readonly functionName?: string;
  getRemainingTimeInMillis(): number;
}

/** A Lambda handler as Tidemark's factories return it: export it as your function's `handler`. */
export type LambdaHandler<TEvent, TResult> = (event: TEvent, context: LambdaContext) => Promise<TResult>;
