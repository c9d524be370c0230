/**
 * `npm run chaos -- --runs N --seed S`: randomized fault schedules against DynamoDB Local (local/chaos.ts). Reads
 * the flags (a bad one: one line, exit 2), runs, prints each failing run and every tenth to stderr and the totals
 * as one JSON object to stdout; exits 1 if anything was lost, repeated after a checkpoint, run out of order or left
 * the layout broken.
 */
import { CHAOS_HELP, parseChaosFlags } from '../local/chaos-options.js';

const parsed = parseChaosFlags(process.argv.slice(2));
if ('help' in parsed) {
  console.log(CHAOS_HELP);
  process.exit(0);
}
if ('error' in parsed) {
  console.error(`npm run chaos: ${parsed.error}`);
  process.exit(2);
}
// Loaded once the flags are good: a bad flag answers at once.
const { runChaos } = await import('../local/index.js');
const result = await runChaos(parsed.options, console.error);
console.log(JSON.stringify(result.totals));
process.exitCode = result.ok ? 0 : 1;
