import { defineProcessor, Sequencing } from '../shared/index.js';

/**
 * The processor the in-repo example stack deploys (`-c processor=<path>` deploys another module). The construct
 * reads its name, topics, sequencing and concurrency from here. The handler keeps a running count of events per
 * order: a projection whose correctness depends on per-order ordering.
 */
export const processor = defineProcessor({
  name: 'order-projection',
  topics: ['orders'],
  sequencing: Sequencing.key(),
  concurrency: 16,
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
