/**
 * The size of the token and layout items a DynamoDB client writes and reads, and its layout reads: how close the
 * store's items come to DynamoDB's limits.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentSize } from '../item-size.js';

/** The largest items seen so far (bytes) and the layout reads sent. */
export interface ItemSizeWatch {
  readonly largest: () => { partition: number; layout: number };
  readonly layoutReads: () => number;
}

/**
 * Watches a client's requests: the size of every partition item and layout item written or read, and the layout
 * reads. Checkpoints send no return values, so this asks for the item as written (ALL_NEW) to measure it.
 */
export function watchItemSizes(client: DynamoDBClient): ItemSizeWatch {
  const state = { partition: 0, layout: 0, layoutReads: 0 };
  type Item = Record<string, unknown>;
  const sk = (key: unknown) => String((key as Item | undefined)?.sk ?? '');
  const measure = (kind: string, item: Item | undefined) => {
    if (!item) return;
    if (kind === 'TOKEN') state.partition = Math.max(state.partition, documentSize(item));
    if (kind === 'LAYOUT') state.layout = Math.max(state.layout, documentSize(item));
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context as { commandName?: string }).commandName ?? '';
      const input = args.input as Record<string, unknown>;
      const transacts = (input.TransactItems ?? []) as Array<Record<string, { Item?: Item }>>;
      for (const entry of transacts) if (entry.Put?.Item) measure(sk(entry.Put.Item), entry.Put.Item);
      if (input.Item) measure(sk(input.Item), input.Item as Item);
      if (/^Update/.test(operation) && sk(input.Key) === 'TOKEN' && input.ReturnValues === undefined) {
        input.ReturnValues = 'ALL_NEW';
      }
      if (/^Get/.test(operation) && sk(input.Key) === 'LAYOUT') state.layoutReads++;
      const result = await next(args);
      const output = result.output as { Item?: Item; Attributes?: Item };
      if (/^Get/.test(operation)) measure(sk(input.Key), output.Item);
      if (/^Update/.test(operation)) measure(sk(input.Key), output.Attributes);
      return result;
    },
    // Before the request is serialized, so the return values asked for are sent; items are in document form here.
    { step: 'serialize', priority: 'high', name: 'tidemarkBenchItemSizes', override: true },
  );
  return {
    largest: () => ({ partition: state.partition, layout: state.layout }),
    layoutReads: () => state.layoutReads,
  };
}
