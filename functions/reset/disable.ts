import { createResetHandlers } from '../../shared/reset/reset-handlers.js';

/** The "disable" task of the reset state machine (cdk/reset-state-machine.ts). */
export const handler = createResetHandlers().disable;
