import { createCoordinatorHandlers } from '../../shared/index.js';

/** The "apply" task of the split, merge and scale state machines. */
export const handler = createCoordinatorHandlers().apply;
