#!/usr/bin/env node
// The CLI runs from the built JavaScript (npm run build writes dist/; the published package ships it).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('tidemark: dist/cli/main.js is missing; run `npm run build` in the tidemark checkout first');
  process.exit(1);
}
const { run } = await import(main.href);
await run();
