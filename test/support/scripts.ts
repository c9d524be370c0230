import { spawn } from 'node:child_process';

/** How a script run ended. */
export interface ScriptRun {
  readonly args: readonly string[];
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a TypeScript entry point of the repo (`scripts/local-stack.ts`) with tsx as `npm start` does, in a child
 * Node process; resolves when it exits.
 */
export function runScript(
  script: string,
  args: readonly string[],
  options: { nodeArgs?: readonly string[]; timeoutMs?: number } = {},
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ args, status, stdout, stderr }));
  });
}

/** Runs the script once per argument list, `concurrency` at a time; results in the order given. */
export async function runScriptCases(
  script: string,
  cases: ReadonlyArray<readonly string[]>,
  concurrency = 2,
): Promise<ScriptRun[]> {
  const results: ScriptRun[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, cases.length) }, async () => {
      while (next < cases.length) {
        const index = next++;
        results[index] = await runScript(script, cases[index]!);
      }
    }),
  );
  return results;
}
