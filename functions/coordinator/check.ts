import { createCoordinatorHandlers } from '../../shared/index.js';

/** The "check" task of the split, merge and scale state machines. */
export const handler = createCoordinatorHandlers().check;
