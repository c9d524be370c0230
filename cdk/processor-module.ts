import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import type { SequencingPolicy } from '../shared/routing/sequencing-policy.js';
import { TrackingProcessorConfigError } from './config-error.js';

/** What synth reads off a team's processor module: the values the construct deploys and grants. */
export interface ProcessorModule {
  /** The module's absolute path. */
  readonly entry: string;
  readonly name: string;
  readonly topics: readonly string[];
  readonly concurrency: number;
  readonly sequencing: SequencingPolicy;
  readonly initialSegments: number;
}

const EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];
const loaded = new Map<string, ProcessorModule>();

/**
 * Loads the module that exports `processor` (from `defineProcessor`) and returns its definition. The module is
 * bundled with esbuild (packages resolved where the module sits, left external) and imported by a child Node
 * process, so TypeScript needs no loader in the CDK app and the constructor stays synchronous. Loaded once per
 * path and modification time.
 */
export function loadProcessorModule(entry: string, workDir: string): ProcessorModule {
  const path = resolve(entry);
  if (!EXTENSIONS.includes(extname(path)) || !existsSync(path)) {
    throw new TrackingProcessorConfigError(
      'processor',
      entry,
      `the path of an existing ${EXTENSIONS.join(', ')} module that exports \`processor\` (from defineProcessor)`,
    );
  }
  const cacheKey = `${path}@${statSync(path).mtimeMs}`;
  const cached = loaded.get(cacheKey);
  if (cached) return cached;
  const dir = join(workDir, createHash('sha256').update(path).digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true });
  const definition = probe(path, join(dir, 'definition.mjs'));
  const module: ProcessorModule = { entry: path, ...definition };
  loaded.set(cacheKey, module);
  return module;
}

/** Runs the probe in a child process; its last line of output is the definition or the error, as JSON. */
function probe(entry: string, outfile: string): Omit<ProcessorModule, 'entry'> {
  let output: string;
  try {
    output = execFileSync(
      process.execPath,
      ['--input-type=module', '--eval', PROBE, entry, outfile, esbuildPath()],
      // The app's own loader flags (tsx, ts-node) are not needed: the bundle is plain JavaScript.
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
    );
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new TrackingProcessorConfigError('processor', entry, `a module that loads: ${lastLine(stderr)}`);
  }
  const result = JSON.parse(lastLine(output)) as
    { ok: true; definition: Omit<ProcessorModule, 'entry'> } | { ok: false; error: string };
  if (!result.ok) throw new TrackingProcessorConfigError('processor', entry, result.error);
  return result.definition;
}

function esbuildPath(): string {
  try {
    return createRequire(import.meta.url).resolve('esbuild');
  } catch {
    throw new TrackingProcessorConfigError(
      'processor',
      'esbuild',
      'esbuild installed in the CDK app (npm install --save-dev esbuild): it bundles the functions and reads the processor',
    );
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

/** The child: bundle the module, import it, print its definition. Errors become `{ok: false}` naming the fix. */
const PROBE = `
import { createRequire, isBuiltin } from 'node:module';
import { pathToFileURL } from 'node:url';
const [entry, outfile, esbuildPath] = process.argv.slice(1);
const esbuild = createRequire(import.meta.url)(esbuildPath);
const print = (value) => console.log(JSON.stringify(value));
try {
  await esbuild.build({
    entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    logLevel: 'silent', sourcemap: false,
    plugins: [{ name: 'packages-in-place', setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'inner') return undefined;
        if (isBuiltin(args.path)) return { external: true };
        const found = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'inner' });
        if (found.errors.length > 0) return { errors: found.errors };
        return { path: pathToFileURL(found.path).href, external: true };
      });
    } }],
  });
} catch (error) {
  print({ ok: false, error: 'a module esbuild can bundle: ' + String(error.message ?? error).split('\\n').slice(0, 3).join(' ') });
  process.exit(0);
}
let exported;
try {
  exported = await import(pathToFileURL(outfile).href);
} catch (error) {
  print({ ok: false, error: 'a module that loads without error; loading it threw ' + (error?.name ?? 'Error') + ': ' + (error?.message ?? String(error)) });
  process.exit(0);
}
const p = exported.processor;
if (!p || typeof p !== 'object' || typeof p.name !== 'string' || !Array.isArray(p.topics) || typeof p.handler !== 'function') {
  const names = Object.keys(exported).join(', ') || 'nothing';
  print({ ok: false, error: 'a module that exports \`processor\` (the result of defineProcessor); it exports ' + names });
  process.exit(0);
}
print({ ok: true, definition: { name: p.name, topics: [...p.topics], concurrency: p.concurrency,
  sequencing: p.sequencing, initialSegments: p.initialSegments } });
`;
