import { defineProcessor, Sequencing } from '../shared/index.js';

/**
 * The processor this deployment runs. Replace the handler with your own; the dispatch and segment-worker entry
 * points import it from here. The example keeps a running count of events per order: a projection whose
 * correctness depends on per-order ordering.
 */
export const processor = defineProcessor({
  name: process.env.TIDEMARK_PROCESSOR_NAME ?? 'order-projection',
  topics: (process.env.TIDEMARK_TOPICS ?? 'orders').split(','),
  sequencing: Sequencing.key(),
  concurrency: Number(process.env.TIDEMARK_CONCURRENCY ?? 16),
  handler: async (record, context) => {
    const event = record.json<{ type?: string }>();
    context.logger.debug('order event', {
      order: context.sequencingKey,
      type: event?.type ?? 'tombstone',
      offset: context.offset,
      segment: `${context.segment.id}/${context.segment.mask}`,
    });
  },
});
