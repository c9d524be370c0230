/**
 * `npm run bench -- [--json] [--quick] [--records N] ...`: Tidemark's benchmark (docs/benchmarks.md). Reads the
 * flags, opens DynamoDB Local (or the in-memory store), runs bench/ and prints. Progress goes to stderr; stdout
 * gets a readable summary, or with `--json` exactly one JSON object (last line). A bad flag exits 2.
 */
import { BENCH_HELP, parseBenchFlags } from '../bench/bench-flags.js';
import { runBenchmark } from '../bench/benchmark.js';
import { openBenchEnvironment } from '../bench/environment.js';
import { loadAverage } from '../bench/report/machine.js';
import { summary } from '../bench/summary.js';

const parsed = parseBenchFlags(process.argv.slice(2));
if ('help' in parsed) {
  console.log(BENCH_HELP);
  process.exit(0);
}
if ('error' in parsed) {
  console.error(`npm run bench: ${parsed.error}`);
  process.exit(2);
}
const { options, json, store } = parsed.command;
const progress = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
let close = async () => {};
process.once('SIGINT', () => {
  void close().finally(() => process.exit(130));
});
try {
  const opened = await openBenchEnvironment(store, progress);
  close = opened.close;
  const load = loadAverage();
  if (load > 0.5)
    progress(`load average ${load.toFixed(2)} before the run: other work on this machine will lower the figures`);
  const report = await runBenchmark(options, opened.env);
  console.log(json ? JSON.stringify(report) : summary(report));
} finally {
  await close();
}
