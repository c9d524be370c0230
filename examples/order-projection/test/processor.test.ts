import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBatch } from 'tidemark/testing';
import { processor, views } from '../src/processor.js';

test('projects each order from its events, in order, whatever the batch interleaving', async () => {
  views.clear();
  const { response } = await runBatch(processor, [
    { offset: 0, key: 'order-1', value: { type: 'placed' } },
    { offset: 1, key: 'order-2', value: { type: 'placed' } },
    { offset: 2, key: 'order-1', value: { type: 'paid' } },
    { offset: 3, key: 'order-1', value: { type: 'shipped' } },
    { offset: 4, key: 'order-2', value: { type: 'cancelled' } },
  ]);

  assert.deepEqual(response.batchItemFailures, []);
  assert.deepEqual(views.get('order-1'), { events: 3, status: 'shipped' });
  assert.deepEqual(views.get('order-2'), { events: 2, status: 'cancelled' });
});

test('does not apply a redelivered batch twice', async () => {
  views.clear();
  const records = [{ offset: 0, key: 'order-3', value: { type: 'placed' } }];
  const first = await runBatch(processor, records);
  await runBatch(processor, records, { store: first.store });

  assert.deepEqual(views.get('order-3'), { events: 1, status: 'placed' });
});
