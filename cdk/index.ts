/**
 * `tidemark/cdk`: the {@link TrackingProcessor} construct, which deploys one Tidemark processor from the module that
 * defines it.
 * @packageDocumentation
 */
export { TrackingProcessor } from './tracking-processor.js';
export { TrackingProcessorConfigError } from './config-error.js';
export type { ProcessorModule } from './processor-module.js';
export {
  LayoutStateMachines,
  type CoordinatorFunctions,
  type LayoutStateMachinesProps,
} from './layout-state-machines.js';
export * from './props.js';
export { AdminApi, type AdminApiSettings, type AdminApiProps } from './admin-api.js';
