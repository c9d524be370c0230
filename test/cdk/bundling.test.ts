import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_PROCESSOR } from '../../cdk/example-stack.js';
import { TrackingProcessor } from '../../cdk/tracking-processor.js';
import { logicalId, mskCluster, offlineApp, render } from '../support/cdk.js';

const SHARED = fileURLToPath(new URL('../../shared/index.ts', import.meta.url));

/** The processor names that only functions/processor.ts and the fixture's module contain. */
const PROCESSOR_NAMES = ['order-projection', 'custom-fixture'];

/** What loading a bundle in a fresh Node.js process and calling its handler gives. */
interface Outcome {
  readonly files: string[];
  /** Which of PROCESSOR_NAMES the bundle contains: which processor module it was built from. */
  readonly processorNames: string[];
  readonly handler: string;
  readonly error?: { name: string; message: string };
}

let outcomes: Record<string, Outcome>;

beforeAll(() => {
  // A processor of the team's own, outside the repository, besides the example's functions/processor.ts.
  // A fixed path, so the entry files the construct generates for it are the same every run.
  const fixtures = join(tmpdir(), 'tidemark-bundling-fixture');
  mkdirSync(fixtures, { recursive: true });
  const processorEntry = join(fixtures, 'custom-processor.ts');
  writeFileSync(
    processorEntry,
    `import { defineProcessor } from '${SHARED}';\n` +
      `export const processor = defineProcessor({ name: 'custom-fixture', topics: ['orders'], handler: async () => {} });\n`,
  );
  // Real bundling with the local esbuild, as `cdk synth` does; the app writes to a temporary directory.
  const app = offlineApp({}, { bundle: true });
  const stack = new Stack(app, 'Bundled');
  const custom = new TrackingProcessor(stack, 'Custom', {
    processor: processorEntry,
    msk: mskCluster(stack),
    mode: 'fan-out',
  });
  const standard = new TrackingProcessor(stack, 'Standard', {
    processor: EXAMPLE_PROCESSOR,
    msk: mskCluster(stack),
    mode: 'fan-out',
  });
  const assembly = app.synth();
  const template = assembly.getStackByName('Bundled').template as {
    Resources: Record<string, { Properties: Record<string, unknown> }>;
  };
  const functions = {
    'custom dispatch': custom.dispatchFunction,
    'custom worker': custom.workerFunction!,
    'custom redrive': custom.redriveFunction,
    'standard dispatch': standard.dispatchFunction,
    'standard worker': standard.workerFunction!,
    'standard redrive': standard.redriveFunction,
    ...Object.fromEntries(
      Object.entries(standard.coordinatorFunctions).map(([step, fn]) => [`coordinator ${step}`, fn]),
    ),
  };
  outcomes = Object.fromEntries(
    Object.entries(functions).map(([name, fn]) => {
      const properties = template.Resources[logicalId(fn)]!.Properties;
      const asset = join(
        assembly.directory,
        `asset.${String((properties.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '')}`,
      );
      const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
      return [
        name,
        {
          files: readdirSync(asset).sort(),
          processorNames: PROCESSOR_NAMES.filter((n) => readFileSync(join(asset, 'index.js'), 'utf8').includes(n)),
          ...invoke(join(asset, 'index.js'), name, variables),
        },
      ];
    }),
  );
}, 120_000);

/**
 * Loads a bundle in a new Node.js process with the function's environment and no credentials, and calls its handler
 * with an input it refuses before any AWS call: dispatch gets a non-Kafka event, the worker another processor's work.
 */
function invoke(
  bundle: string,
  name: string,
  variables: Record<string, unknown>,
): Omit<Outcome, 'files' | 'processorNames'> {
  const environment = Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, render(value)]));
  const event = name.endsWith('dispatch') ? {} : name.endsWith('worker') ? { processor: 'another' } : undefined;
  const script = `
    const { handler } = require(${JSON.stringify(bundle)});
    const context = { getRemainingTimeInMillis: () => 60000, awsRequestId: 'test' };
    const report = (outcome) => process.stdout.write(JSON.stringify({ handler: typeof handler, ...outcome }));
    if (${JSON.stringify(event === undefined)}) report({});
    else handler(${JSON.stringify(event)}, context).then(
      () => report({}),
      (error) => report({ error: { name: error.name, message: error.message } }),
    );`;
  const output = execFileSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', ...environment },
    encoding: 'utf8',
  });
  return JSON.parse(output) as Omit<Outcome, 'files' | 'processorNames'>;
}

describe('bundling with esbuild', () => {
  it('builds every entry point into one CommonJS file with a source map that exports a handler', () => {
    expect(Object.values(outcomes).map((o) => [o.files, o.handler])).toEqual(
      Array.from({ length: 11 }, () => [['index.js', 'index.js.map'], 'function']),
    );
  });

  it('builds each redrive function from its own processor module', () => {
    expect([outcomes['custom redrive']!.processorNames, outcomes['standard redrive']!.processorNames]).toEqual([
      ['custom-fixture'],
      ['order-projection'],
    ]);
  });

  it('runs the standard processor from functions/processor.ts, keeping error class names', () => {
    expect([outcomes['standard dispatch']!.error, outcomes['standard worker']!.error]).toEqual([
      {
        name: 'MalformedEventError',
        message: expect.stringContaining('eventSource must be "aws:kafka" or "SelfManagedKafka"') as string,
      },
      { name: 'ConfigurationError', message: 'worker of "order-projection" was sent work of "another"' },
    ]);
  });

  it('runs a processor module outside the repository in both the dispatcher and the worker', () => {
    expect([outcomes['custom dispatch']!.error?.name, outcomes['custom worker']!.error]).toEqual([
      'MalformedEventError',
      { name: 'ConfigurationError', message: 'worker of "custom-fixture" was sent work of "another"' },
    ]);
  });
});
