/**
 * Where the benchmark runs: the token store of the throughput runs and, on DynamoDB Local, the client whose
 * requests it counts. `openBenchEnvironment` starts what `npm run bench` needs; the tests build one in memory.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { MemoryTokenStore } from '../shared/tokens/memory-token-store.js';
import type { TokenStore } from '../shared/tokens/token-store.js';
import { createTokenTable } from '../shared/tokens/token-table.js';
import { localClientConfig, startDynamoDbLocal } from '../local/dynamodb-local.js';
import { countDynamoDbRequests, type DynamoDbCounter } from './instruments/dynamodb-requests.js';
import type { WorkerStore } from './partition-pool.js';

export interface BenchEnvironment {
  /** 'dynamodb-local' or 'memory': printed with the results. */
  readonly storeKind: string;
  /** The token store of the throughput runs (each run uses a processor name of its own on it). */
  readonly store: TokenStore;
  /** The in-memory store of the overhead run. */
  readonly memoryStore: () => TokenStore;
  /** The store each scaling worker opens for itself; a private in-memory store each when absent. */
  readonly workerStore?: WorkerStore;
  /** DynamoDB request counting, when the store is on DynamoDB. */
  readonly dynamoDb?: DynamoDbCounter;
  /** The client under `store` when it is on DynamoDB: the limits scenario watches its items. */
  readonly client?: DynamoDBClient;
  readonly progress?: (message: string) => void;
}

/** The token store `npm run bench -- --store` picks. */
export type StoreChoice = 'dynamodb' | 'memory';

const TABLE_NAME = 'tidemark-bench';

/** Opens the environment of `npm run bench`; `close` stops what was started (safe to call more than once). */
export async function openBenchEnvironment(
  choice: StoreChoice,
  progress: (message: string) => void,
): Promise<{ env: BenchEnvironment; close: () => Promise<void> }> {
  const memoryStore = () => new MemoryTokenStore();
  if (choice === 'memory') {
    return { env: { storeKind: 'memory', store: memoryStore(), memoryStore, progress }, close: async () => {} };
  }
  progress('starting DynamoDB Local');
  const ddb = await startDynamoDbLocal();
  const client = new DynamoDBClient(localClientConfig(ddb.endpoint));
  const close = async () => {
    client.destroy();
    await ddb.stop();
  };
  try {
    // Counting is set up before the client's first request, so every request of the run is counted.
    const dynamoDb = countDynamoDbRequests(client);
    await createTokenTable(client, TABLE_NAME);
    const store = new DynamoDbTokenStore({ tableName: TABLE_NAME, client });
    const workerStore = { kind: 'dynamodb', endpoint: ddb.endpoint, tableName: TABLE_NAME } as const;
    return {
      env: { storeKind: 'dynamodb-local', store, memoryStore, workerStore, dynamoDb, client, progress },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
