import { createCoordinatorHandlers } from '../../shared/index.js';

/** The "begin" task of the split, merge and scale state machines. */
export const handler = createCoordinatorHandlers().begin;
