/**
 * `npm run chaos -- --runs N --seed S`: randomized fault schedules against DynamoDB Local: handler errors and slow
 * calls and calls that hang past the invocation timeout, crashes mid-batch, holders frozen past their lease that wake and try to write, duplicate concurrent
 * deliveries, throttling and condition failures injected at the DynamoDB client, and splits, merges and scales
 * during traffic. The last line is one JSON object; the exit code is 1 if anything was lost, repeated after a
 * checkpoint, run out of order or left the layout broken.
 */
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../local/dynamodb-local.js';
import { chaos } from '../local/chaos.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    verbose: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const seed = Number(values.seed);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error(`--runs must be a whole number >= 1 and --seed a whole number, got ${values.runs} and ${values.seed}`);
  process.exit(2);
}
const ddb = await startDynamoDbLocal();
try {
  const started = Date.now();
  const totals = await chaos({
    endpoint: ddb.endpoint,
    runs,
    seed,
    onRun: (run, summary) => {
      const bad =
        summary.lost + summary.reprocessedAfterCheckpoint + summary.orderViolations + summary.layoutErrors > 0;
      if (bad || values.verbose || run % 10 === 9) {
        console.error(
          `run ${run + 1}/${runs}: ${JSON.stringify({ ...summary, problems: undefined })}${bad ? `\n  ${summary.problems.join('\n  ')}` : ''}`,
        );
      }
    },
  });
  console.error(`${totals.runs} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(totals));
  process.exitCode =
    totals.lost + totals.reprocessedAfterCheckpoint + totals.orderViolations + totals.layoutErrors > 0 ? 1 : 0;
} finally {
  await ddb.stop();
}
