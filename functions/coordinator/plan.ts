import { createCoordinatorHandlers } from '../../shared/index.js';

/** The "plan" task of the split, merge and scale state machines. */
export const handler = createCoordinatorHandlers().plan;
