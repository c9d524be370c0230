import { createCoordinatorHandlers } from '../../shared/index.js';

/** The "rollback" task of the split, merge and scale state machines. */
export const handler = createCoordinatorHandlers().rollback;
