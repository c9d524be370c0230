/**
 * The requests a DynamoDB client sends and the request units DynamoDB reports for them: what the cost estimate
 * bills, counted on the wire rather than assumed.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** DynamoDB requests and request units seen on a client. */
export interface DynamoDbTally {
  /** Requests by operation (GetItem, UpdateItem, ...). */
  readonly byOperation: Record<string, number>;
  /** Requests by the item they address (LAYOUT, PARTITIONS, TOKEN, HISTORY, other). */
  readonly byItem: Record<string, number>;
  readonly readRequests: number;
  readonly writeRequests: number;
  /** Request units as DynamoDB reported them (ReturnConsumedCapacity), or estimated when it did not. */
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Requests whose units DynamoDB did not report (estimated at 1 unit each: items stay under 1 KB). */
  readonly estimatedUnitRequests: number;
  readonly failedRequests: number;
}

/** What has been counted since the last reset. */
export interface DynamoDbCounter {
  readonly tally: () => DynamoDbTally;
  readonly reset: () => void;
}

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/** `UpdateCommand` (document client) and `UpdateItemCommand` both count as `UpdateItem`. */
function operationOf(commandName: string | undefined): string {
  const base = (commandName ?? 'Unknown').replace(/Command$/, '');
  const documentNames: Record<string, string> = {
    Get: 'GetItem',
    Put: 'PutItem',
    Update: 'UpdateItem',
    Delete: 'DeleteItem',
    BatchGet: 'BatchGetItem',
    BatchWrite: 'BatchWriteItem',
    TransactGet: 'TransactGetItems',
    TransactWrite: 'TransactWriteItems',
  };
  return documentNames[base] ?? base;
}

function itemOf(input: Record<string, unknown>): string {
  const key = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
  const sk = key?.sk as string | { S?: string } | undefined;
  const text = typeof sk === 'string' ? sk : sk?.S;
  if (!text) return 'other';
  return text.startsWith('HISTORY') ? 'HISTORY' : text;
}

/** Units from a ConsumedCapacity (one object, or a list for batch and transaction calls). */
function unitsOf(consumed: unknown, isRead: boolean): { read: number; write: number } | undefined {
  const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Array<{
    CapacityUnits?: number;
    ReadCapacityUnits?: number;
    WriteCapacityUnits?: number;
  }>;
  if (list.length === 0) return undefined;
  let read = 0;
  let write = 0;
  for (const entry of list) {
    if (entry.ReadCapacityUnits === undefined && entry.WriteCapacityUnits === undefined) {
      // Only the total: it is of the request's own kind.
      if (isRead) read += entry.CapacityUnits ?? 0;
      else write += entry.CapacityUnits ?? 0;
    } else {
      read += entry.ReadCapacityUnits ?? 0;
      write += entry.WriteCapacityUnits ?? 0;
    }
  }
  return { read, write };
}

/**
 * Counts every request a DynamoDB client sends (the token store's document client shares its middleware stack)
 * and asks DynamoDB to report the request units each one consumed. Call before the client is first used.
 */
export function countDynamoDbRequests(client: DynamoDBClient): DynamoDbCounter {
  let state = emptyTally();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = operationOf((context as { commandName?: string }).commandName);
      const input = args.input as Record<string, unknown>;
      if (READS.has(operation) || WRITES.has(operation)) input.ReturnConsumedCapacity = 'TOTAL';
      const item = itemOf(input);
      const isRead = READS.has(operation);
      state.byOperation[operation] = (state.byOperation[operation] ?? 0) + 1;
      state.byItem[item] = (state.byItem[item] ?? 0) + 1;
      if (isRead) state.readRequests++;
      else if (WRITES.has(operation)) state.writeRequests++;
      try {
        const result = await next(args);
        const units = unitsOf((result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity, isRead);
        if (units) {
          state.readUnits += units.read;
          state.writeUnits += units.write;
        } else if (READS.has(operation) || WRITES.has(operation)) {
          state.estimatedUnitRequests++;
          if (isRead) state.readUnits += 1;
          else state.writeUnits += 1;
        }
        return result;
      } catch (error) {
        // A failed conditional write is still billed as a write (1 unit for our small items).
        state.failedRequests++;
        if (WRITES.has(operation)) state.writeUnits += 1;
        else if (isRead) state.readUnits += 1;
        throw error;
      }
    },
    { step: 'initialize', name: 'tidemarkBenchRequestCounter', override: true },
  );
  return {
    tally: () => ({ ...state, byOperation: { ...state.byOperation }, byItem: { ...state.byItem } }),
    reset: () => {
      state = emptyTally();
    },
  };
}

function emptyTally(): { -readonly [K in keyof DynamoDbTally]: DynamoDbTally[K] } {
  return {
    byOperation: {},
    byItem: {},
    readRequests: 0,
    writeRequests: 0,
    readUnits: 0,
    writeUnits: 0,
    estimatedUnitRequests: 0,
    failedRequests: 0,
  };
}
