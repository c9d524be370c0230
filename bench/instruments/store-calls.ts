/**
 * Token store calls, counted by method. On the in-memory store they stand in for the DynamoDB requests
 * DynamoDbTokenStore would make, so the report has request counts on either store.
 */
import type { TokenStore } from '../../shared/tokens/token-store.js';
import type { DynamoDbTally } from './dynamodb-requests.js';

/** Token store calls by method. */
export type StoreCalls = Record<string, number>;

/** Wraps a token store so every call is counted by method name. */
export function countingStore(store: TokenStore): { store: TokenStore; calls: StoreCalls } {
  const calls: StoreCalls = {};
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const name = String(property);
      return (...args: unknown[]) => {
        calls[name] = (calls[name] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

/** Empties a call tally, returning what it held: one counting store then serves several counted phases. */
export function takeCalls(calls: StoreCalls): StoreCalls {
  const taken = { ...calls };
  for (const name of Object.keys(calls)) delete calls[name];
  return taken;
}

/** The DynamoDB requests DynamoDbTokenStore makes for each store call (used when the store is in memory). */
export function requestsOfStoreCalls(calls: StoreCalls): DynamoDbTally {
  const n = (name: string) => calls[name] ?? 0;
  const byOperation: Record<string, number> = {};
  const add = (operation: string, count: number) => {
    if (count > 0) byOperation[operation] = (byOperation[operation] ?? 0) + count;
  };
  add('UpdateItem', n('claim') + n('checkpoint') + n('renew') + n('release'));
  add('GetItem', n('readLayout'));
  add('PutItem', n('initialise'));
  const reads = n('readLayout');
  const writes = n('claim') + n('checkpoint') + n('renew') + n('release') + n('initialise');
  return {
    byOperation,
    byItem: {
      TOKEN: n('claim') + n('checkpoint') + n('renew') + n('release'),
      LAYOUT: n('readLayout') + n('initialise'),
    },
    readRequests: reads,
    writeRequests: writes,
    readUnits: reads,
    writeUnits: writes,
    estimatedUnitRequests: reads + writes,
    failedRequests: 0,
  };
}
