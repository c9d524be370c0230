import { createResetHandlers } from '../../shared/reset/reset-handlers.js';

/** The "write" task of the reset state machine (cdk/reset-state-machine.ts). */
export const handler = createResetHandlers().write;
