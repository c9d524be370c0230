import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KafkaAdmin } from '../kafka/kafka-admin.js';
import { resetExecutionInput } from '../reset/reset-execution.js';
import { planReset } from '../reset/reset-plan.js';
import type { TokenStore } from '../tokens/token-store.js';
import type { AdminProcessor, ResetRequestBody, ResetService } from './admin-api.js';
import type { OperationWork } from './operation-runner.js';
import type { Operation } from './operation-store.js';

/**
 * The admin API's resets: a dry run is {@link planReset} (the tokens against the cluster's offsets; nothing changes);
 * an accepted reset becomes the reset state machine's input, with a reset id derived from the operation (so a
 * restarted operation is the same execution, and partitions it already wrote are skipped) and the caller's
 * principal for the audit items.
 */
export function resetService(deps: {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly tokens: Pick<TokenStore, 'readLayout'>;
  readonly kafka: () => Promise<KafkaAdmin>;
  readonly processors: readonly AdminProcessor[];
}): ResetService {
  const table = {
    tableName: deps.tableName,
    documents: DynamoDBDocumentClient.from(deps.client, { marshallOptions: { removeUndefinedValues: true } }),
  };
  return {
    async plan(processor: string, request: ResetRequestBody) {
      const topics = deps.processors.find((p) => p.name === processor)?.topics ?? [];
      const plan = await planReset(
        {
          processor,
          to: request.to,
          partitions: request.partitions ?? null,
          segments: request.segments ?? null,
          clearParked: request.clearParked ?? false,
        },
        { table, layouts: deps.tokens, kafka: await deps.kafka(), topics },
      );
      // `records`: what the page sums as "records to handle again".
      return { ...plan, partitions: plan.partitions.map((p) => ({ ...p, records: p.replay })) };
    },
    work(operation: Operation, request: ResetRequestBody): OperationWork {
      const resetId = resetIdOf(operation);
      const input = resetExecutionInput({
        processor: operation.processor,
        resetId,
        to: request.to,
        partitions: request.partitions ?? null,
        segments: request.segments ?? null,
        clearParked: request.clearParked ?? false,
        by: operation.principal,
        reason: `admin API operation ${operation.id}`,
      });
      return { kind: 'reset', input: { ...input }, executionName: resetId };
    },
  };
}

/** `<processor, cut>-reset-<20 hex of the operation id>`: at most 80 characters, a valid execution name. */
function resetIdOf(operation: Operation): string {
  const digest = createHash('sha256').update(operation.id).digest('hex').slice(0, 20);
  return `${operation.processor.slice(0, 52)}-reset-${digest}`;
}
