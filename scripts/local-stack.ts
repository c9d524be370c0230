/**
 * `npm start`: the whole system on this machine (local/local-stack.ts). Reads the flags (a bad one: one line, exit
 * 2), runs, prints, and exits 0 only if the verification found nothing wrong. With --keep, DynamoDB Local stays up
 * until Ctrl-C.
 */
import { LOCAL_STACK_HELP, parseLocalStackFlags } from '../local/local-stack-options.js';

const parsed = parseLocalStackFlags(process.argv.slice(2));
if ('help' in parsed) {
  console.log(LOCAL_STACK_HELP);
  process.exit(0);
}
if ('error' in parsed) {
  console.error(`npm start: ${parsed.error}`);
  process.exit(2);
}
// Loaded once the flags are good: a bad flag answers at once.
const { formatLocalStackResult, runLocalStack } = await import('../local/index.js');

const brokers = process.env.KAFKA_BROKERS?.split(',')
  .map((b) => b.trim())
  .filter(Boolean);
// Ctrl-C during the run: stop DynamoDB Local and exit 130.
const interrupt = new AbortController();
const onInterrupt = () => interrupt.abort(new Error('interrupted'));
process.once('SIGINT', onInterrupt);
process.once('SIGTERM', onInterrupt);

let result;
try {
  result = await runLocalStack({ ...parsed.options, brokers, signal: interrupt.signal }, console.log);
} catch (error) {
  if (interrupt.signal.aborted) {
    console.error('npm start: interrupted; DynamoDB Local stopped');
    process.exit(130);
  }
  throw error;
}
for (const line of formatLocalStackResult(result)) console.log(line);
process.exitCode = result.ok ? 0 : 1;

if (result.dynamoDb) {
  const engine = result.dynamoDb;
  if (result.admin) console.log(`The status page stays up on ${result.admin.url}/`);
  console.log('Press Ctrl-C to stop it.');
  process.off('SIGINT', onInterrupt);
  process.off('SIGTERM', onInterrupt);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await result.admin?.close();
  await engine.stop();
  console.log('DynamoDB Local stopped.');
}
