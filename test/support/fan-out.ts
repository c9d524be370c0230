import type { SegmentWorkerRequest } from '../../shared/processing/fan-out.js';
import { createDispatchHandler, createSegmentWorkerHandler } from '../../shared/processing/handlers.js';
import { silentLogger } from '../../shared/observability/logger.js';
import type { Processor } from '../../shared/processing/processor.js';
import type { TokenStore } from '../../shared/tokens/token-store.js';
import { LocalLambda } from './lambda.js';

/**
 * A dispatch handler in fan-out mode whose segment workers run in this process behind {@link LocalLambda}, which
 * keeps Lambda's limits. `worker` may wrap the real worker (to fail or inspect it).
 */
export function fanOutStack(options: {
  processor: Processor;
  store: TokenStore;
  faults?: ConstructorParameters<typeof LocalLambda>[1];
  worker?: (
    request: SegmentWorkerRequest,
    real: (request: SegmentWorkerRequest) => Promise<unknown>,
  ) => Promise<unknown>;
}) {
  const worker = createSegmentWorkerHandler(options.processor, {
    store: options.store,
    logger: silentLogger,
    metrics: false,
  });
  const lambda = new LocalLambda(
    {
      worker: (event, context) => {
        const real = (request: SegmentWorkerRequest) => worker(request, context);
        const request = event as SegmentWorkerRequest;
        return options.worker ? options.worker(request, real) : real(request);
      },
    },
    options.faults,
  );
  const dispatch = createDispatchHandler(options.processor, {
    store: options.store,
    mode: 'fan-out',
    workerFunctionName: 'worker',
    lambdaClient: lambda.asClient(),
    logger: silentLogger,
    metrics: false,
  });
  return { lambda, dispatch };
}
