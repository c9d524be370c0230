import { createSegmentWorkerHandler } from '../../shared/index.js';
import { processor } from '../processor.js';

/** Invoked by the dispatcher in fan-out mode with one segment's records of a batch. */
export const handler = createSegmentWorkerHandler(processor);
