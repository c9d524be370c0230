import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoDbEndpoint: string;
  }
}

let engine: DynamoDbLocal | undefined;

/** One DynamoDB Local engine for the whole run; test files isolate themselves with their own tables. */
export async function setup(project: TestProject): Promise<void> {
  engine = await startDynamoDbLocal();
  project.provide('dynamoDbEndpoint', engine.endpoint);
}

export async function teardown(): Promise<void> {
  await engine?.stop();
}
