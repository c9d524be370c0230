import { createDispatchHandler } from '../../shared/index.js';
import { processor } from '../processor.js';

/** Invoked by the Kafka event source mapping with a batch; answers with the partial batch response. */
export const handler = createDispatchHandler(processor);
