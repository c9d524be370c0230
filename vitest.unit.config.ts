import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the tests that need neither Java (DynamoDB Local) nor a C compiler (the Kafka mock broker).
 * A test file needs them when it reaches the shared DynamoDB Local or starts the mock broker; that is read off its
 * source and the test support files it imports, so a new test file is classified without a list to keep.
 */
const NEEDS_SERVICES = /from '[^']*\/dynamodb(-local)?\.js'|kafka-mock\.js|\binject\(/;
const RELATIVE_IMPORT = /from '(\.[^']+)\.js'/g;
const TEST_ROOT = resolve('test');

function needsServices(file: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  if (NEEDS_SERVICES.test(source)) return true;
  return [...source.matchAll(RELATIVE_IMPORT)]
    .map((m) => resolve(dirname(file), `${m[1]}.ts`))
    .filter((path) => path.startsWith(TEST_ROOT))
    .some((path) => needsServices(path, seen));
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

// `*.browser.test.ts` drive headless Chromium (scripts/install-chromium.sh): not a unit test either.
const unit = testFiles('test').filter((file) => !file.endsWith('.browser.test.ts') && !needsServices(file));

export default defineConfig({
  test: {
    include: unit,
    testTimeout: 60_000,
    maxWorkers: 2,
    allowOnly: false,
  },
});
