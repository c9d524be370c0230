import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { main, type CliDependencies } from '../../cli/main.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What one run of the CLI did. */
export interface CliRun {
  /** The exit code. */
  readonly code: number;
  /** What it printed to stdout. */
  readonly text: string;
  /** What it printed to stderr: usage errors with the usage after them, and failures. */
  readonly errors: string;
  /** The first line of stderr (the error itself), or '' when there is none. */
  readonly first: string;
}

/**
 * Runs the CLI in this process with its output captured. The environment is empty unless given, so no table, region
 * or state machine leaks in from the machine running the tests.
 */
export async function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; deps?: CliDependencies } = {},
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, options.env ?? {}, (line) => out.push(line), {
    ...options.deps,
    err: (line) => err.push(line),
  });
  const errors = err.join('\n');
  return { code, text: out.join('\n'), errors, first: errors.split('\n')[0]! };
}

/** A local port nothing listens on: a DynamoDB endpoint that refuses connections. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Runs the CLI as a program (a Node process calling `run()`, as the bin does), with only PATH from this
 * environment: its real exit code, stdout and stderr.
 */
export function runProgram(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const launcher = "process.argv.splice(1, 0, 'tidemark'); const { run } = await import('./cli/main.ts'); await run();";
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', launcher, ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        if (error && code === null) reject(error);
        else resolve({ code, stdout, stderr });
      },
    );
  });
}
