import { createRedriveHandler } from '../../shared/index.js';
import { processor } from '../processor.js';

/**
 * Redrives parked dead letters in key order: on the schedule, every key that is due; on a direct invocation
 * (`tidemark dead-letters retry`), the keys it names.
 */
export const handler = createRedriveHandler(processor);
