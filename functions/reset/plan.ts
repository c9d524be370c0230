import { createResetHandlers } from '../../shared/reset/reset-handlers.js';

/** The "plan" task of the reset state machine (cdk/reset-state-machine.ts). */
export const handler = createResetHandlers().plan;
