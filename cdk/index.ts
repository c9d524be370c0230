export * from './tracking-processor.js';
export * from './layout-state-machines.js';
export { TidemarkExampleStack } from './example-stack.js';
