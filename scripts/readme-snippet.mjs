// Prints the first ```ts block under a README heading, so a check can compile it exactly as printed.
import { readFileSync } from 'node:fs';

const [file, heading] = process.argv.slice(2);
if (!file || !heading) {
  console.error('usage: node scripts/readme-snippet.mjs <README.md> <heading text>');
  process.exit(2);
}
const text = readFileSync(file, 'utf8');
const start = text.indexOf(`## ${heading}\n`);
const block = start < 0 ? null : /```ts\n([\s\S]*?)```/.exec(text.slice(start));
if (!block) {
  console.error(`no \`\`\`ts block under "## ${heading}" in ${file}`);
  process.exit(1);
}
process.stdout.write(block[1]);
