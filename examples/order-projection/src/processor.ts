import { defineProcessor, Sequencing } from 'tidemark';
import { apply, type OrderEvent, type OrderView } from './projection.js';

/** Where views are kept. A real app writes them to its own table; the test reads this map. */
export const views = new Map<string, OrderView>();

/**
 * The one place this processor is described: the construct reads its name, topics, sequencing and concurrency
 * from here when the app synthesizes.
 */
export const processor = defineProcessor({
  name: 'order-projection',
  topics: ['orders'],
  sequencing: Sequencing.key(),
  concurrency: 32,
  handler: async (record, context) => {
    const event = record.json<OrderEvent>();
    if (!event) return; // a tombstone
    views.set(context.sequencingKey, apply(views.get(context.sequencingKey), event));
  },
});
