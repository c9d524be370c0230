/**
 * `npm run bench -- [--json] [--quick] [--records N] [--keys N] [--concurrency N] ...`: Tidemark's benchmark.
 * Starts DynamoDB Local, measures sequential vs unordered vs key-ordered processing of one partition, scaling
 * with partitions, the framework's own overhead, DynamoDB requests per batch and the cost per million records.
 * Progress goes to stderr; stdout gets a readable summary, or with `--json` exactly one JSON object (last line).
 * See docs/benchmarks.md.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { MemoryTokenStore } from '../shared/tokens/memory-token-store.js';
import { createTokenTable } from '../shared/tokens/token-table.js';
import {
  DEFAULT_OPTIONS,
  QUICK_OPTIONS,
  runBenchmark,
  type BenchEnvironment,
  type BenchOptions,
  type BenchReport,
} from '../bench/benchmark.js';
import { countDynamoDbRequests } from '../bench/instruments.js';
import { measureLimits, watchItemSizes, type LimitsReport } from '../bench/limits.js';
import { measureParkingCost, type ParkingCost } from '../bench/parking-cost.js';
import { localClientConfig, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb-local.js';

const HELP = `npm run bench -- [options]
  --json                  print exactly one JSON object as the last stdout line (progress goes to stderr)
  --quick                 smoke-test sizes (a few seconds of measuring)
  --records N             records of the one-partition run, and per partition when scaling (default 10000)
  --keys N                keys of the one-partition run, and per partition when scaling (default 1000)
  --concurrency N         records handled at once per invocation, (b) and (c) (default 100)
  --batch-size N          records per Lambda event (default 5000; see docs/benchmarks.md on batch size)
  --latency-ms N          simulated I/O each handler call awaits (default 5)
  --sequential-records N  records the sequential baseline handles (default min(records, 10000))
  --partitions LIST       partition counts to scale over (default 1,2,4,8)
  --overhead-records N    records of the no-op overhead run (default 200000)
  --repeats N             runs of each fast scenario; the median is reported (default 5)
  --scaling-repeats N     runs of each scaling point; the median is reported (default 7)
  --scaling-batch-size N  records per event when scaling (default 5000, as --batch-size)
  --segments N            segments of the processor's layout (default 4)
  --memory-mb N           Lambda memory size for the cost estimate (default 1024)
  --store dynamodb|memory token store of the throughput runs (default dynamodb: DynamoDB Local)`;

function fail(message: string): never {
  console.error(`${message}\n\n${HELP}`);
  process.exit(2);
}

function parseOptions(argv: string[]): { options: BenchOptions; json: boolean; store: 'dynamodb' | 'memory' } {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      records: { type: 'string' },
      keys: { type: 'string' },
      concurrency: { type: 'string' },
      'batch-size': { type: 'string' },
      'latency-ms': { type: 'string' },
      'sequential-records': { type: 'string' },
      partitions: { type: 'string' },
      'overhead-records': { type: 'string' },
      repeats: { type: 'string' },
      'scaling-repeats': { type: 'string' },
      'scaling-batch-size': { type: 'string' },
      segments: { type: 'string' },
      'memory-mb': { type: 'string' },
      store: { type: 'string', default: 'dynamodb' },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const base = values.quick ? QUICK_OPTIONS : DEFAULT_OPTIONS;
  const int = (name: keyof typeof values, fallback: number, min = 1): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min)
      fail(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return value;
  };
  const records = int('records', base.records);
  const partitions = values.partitions === undefined ? base.partitions : values.partitions.split(',').map(Number);
  if (partitions.length === 0 || !partitions.every((p) => Number.isInteger(p) && p >= 1 && p <= 64)) {
    fail(
      `--partitions must be a comma-separated list of integers from 1 to 64, got ${JSON.stringify(values.partitions)}`,
    );
  }
  if (values.store !== 'dynamodb' && values.store !== 'memory')
    fail(`--store must be dynamodb or memory, got ${JSON.stringify(values.store)}`);
  const options: BenchOptions = {
    ...base,
    records,
    keys: int('keys', base.keys),
    concurrency: int('concurrency', base.concurrency),
    batchSize: int('batch-size', base.batchSize),
    latencyMs: int('latency-ms', base.latencyMs, 0),
    sequentialRecords: Math.min(records, int('sequential-records', Math.min(records, base.sequentialRecords))),
    partitions,
    overheadRecords: int('overhead-records', base.overheadRecords),
    repeats: int('repeats', base.repeats),
    scalingRepeats: int('scaling-repeats', base.scalingRepeats),
    scalingBatchSize: int('scaling-batch-size', base.scalingBatchSize),
    segments: int('segments', base.segments),
    lambdaMemoryMb: int('memory-mb', base.lambdaMemoryMb, 128),
  };
  for (const [flag, value] of [
    ['--batch-size', options.batchSize],
    ['--scaling-batch-size', options.scalingBatchSize],
  ] as const) {
    if (value > 10_000) fail(`${flag} must be at most 10000 (Lambda's Kafka maximum), got ${value}`);
  }
  if (options.concurrency > 10_000) fail(`--concurrency must be at most 10000, got ${options.concurrency}`);
  return { options, json: values.json, store: values.store };
}

function summary(report: BenchReport & { parking?: ParkingCost; limits?: LimitsReport }): string {
  const one = report.onePartition;
  const line = (label: string, value: string) => `  ${label.padEnd(34)} ${value}`;
  const mode = (m: { recordsPerSecond: number; orderViolations: number }) =>
    `${m.recordsPerSecond} records/s, ${m.orderViolations} order violations`;
  const lines = [
    `Tidemark benchmark (${report.config.quick ? 'quick' : 'full'}, store ${report.config.store}, ${report.durationSeconds} s)`,
    `One partition: ${report.config.records} records over ${report.config.keys} keys, ${report.config.latencyMs} ms handler, concurrency ${report.config.concurrency}, batches of ${report.config.batchSize}`,
    line('handler latency (mean)', `${one.handlerLatency.meanMs} ms`),
    line('physical limit', `${one.physicalLimit.recordsPerSecond} records/s`),
    line('batched limit (key chains)', `${one.batchedLimit.recordsPerSecond} records/s`),
    line('(a) sequential', mode(one.sequential)),
    line('(b) unordered parallel', mode(one.unordered)),
    line('(c) Tidemark key-ordered', mode(one.keyOrdered)),
    line(
      '(c) / limit, / (a), / (b)',
      `${one.ratios.keyOrderedToPhysicalLimit}, ${one.ratios.keyOrderedToSequential}, ${one.ratios.keyOrderedToUnordered}`,
    ),
    ...(one.batchSizeSweep.length > 0 ? ['By batch size ((b) and (c) records/s; (c) / limit, / (b)):'] : []),
    ...one.batchSizeSweep.map((b) =>
      line(
        `batches of ${b.batchSize}`,
        `${b.unorderedRecordsPerSecond}, ${b.recordsPerSecond}; ${b.toPhysicalLimit}, ${b.toUnordered}`,
      ),
    ),
    `Scaling with partitions (a worker thread each, batches of ${report.partitionScaling.batchSize}):`,
    ...report.partitionScaling.points.map((p) =>
      line(
        `${p.partitions} partition(s)`,
        `${p.recordsPerSecond} records/s (${p.speedup}x)${p.cpuSaturated ? ', CPU-bound on this machine' : ''}`,
      ),
    ),
    'Overhead (no-op handler, in-memory store):',
    line('Tidemark end to end', `${report.overhead.tidemarkUsPerRecord} µs/record`),
    line('handler alone', `${report.overhead.handlerOnlyUsPerRecord} µs/record`),
    line('overhead', `${report.overhead.overheadUsPerRecord} µs/record`),
    `DynamoDB (${report.config.store === 'memory' ? 'mapped from token store calls' : 'counted on the DynamoDBClient'}):`,
    line('per batch', `${report.dynamoDb.perBatch.reads} reads, ${report.dynamoDb.perBatch.writes} writes`),
    line(
      'per 1,000 records',
      `${report.dynamoDb.per1000Records.reads} reads, ${report.dynamoDb.per1000Records.writes} writes`,
    ),
    line(
      'set-up (first run, once)',
      `${report.dynamoDb.coldRun.readRequests} reads, ${report.dynamoDb.coldRun.writeRequests} writes in ${report.dynamoDb.coldRun.batches} batches`,
    ),
    ...(report.parking
      ? [
          `Parking (${report.parking.recordsPerBatch} records a batch, real token store):`,
          line(
            'nothing parked',
            `${report.parking.nothingParked.writesPerBatch} writes, ${report.parking.nothingParked.writeUnitsPerBatch} WCU per batch`,
          ),
          line(
            `${report.parking.parkedPerBatch} parked (1%)`,
            `${report.parking.onePercentParked.writesPerBatch} writes, ${report.parking.onePercentParked.writeUnitsPerBatch} WCU per batch`,
          ),
        ]
      : []),
    ...(report.limits
      ? [
          `Limits (${report.limits.segments} segments, a failing key in every cell, real token store):`,
          line('largest partition item', `${report.limits.largestPartitionItemBytes} B (DynamoDB's limit 409,600 B)`),
          line('largest layout item', `${report.limits.largestLayoutItemBytes} B (one read unit up to 4,096 B)`),
          line(
            'layout reads per container',
            `${report.limits.layoutReadsPerSecondPerContainer.steady}/s steady, ${report.limits.layoutReadsPerSecondPerContainer.drain}/s waiting on a drain`,
          ),
        ]
      : []),
    `Cost per million records (${report.cost.prices.region}, ${report.cost.assumptions.lambdaMemoryMb} MB):`,
    line('(a) sequential', `$${report.cost.sequential.usd.total}`),
    line('(c) key-ordered', `$${report.cost.keyOrdered.usd.total} (${report.cost.keyOrderedToSequential} of (a))`),
    'Targets:',
    ...Object.values(report.targets).map((t) => line(t.met ? 'met' : 'NOT met', `${t.target}: ${t.measured}`)),
  ];
  return lines.join('\n');
}

const { options, json, store: storeKind } = parseOptions(process.argv.slice(2));
const progress = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
let ddb: DynamoDbLocal | undefined;
let client: DynamoDBClient | undefined;
process.once('SIGINT', () => {
  void ddb?.stop().finally(() => process.exit(130));
});
try {
  let env: BenchEnvironment;
  if (storeKind === 'dynamodb') {
    progress('starting DynamoDB Local');
    ddb = await startDynamoDbLocal();
    client = new DynamoDBClient(localClientConfig(ddb.endpoint));
    const counter = countDynamoDbRequests(client);
    const tableName = 'tidemark-bench';
    await createTokenTable(client, tableName);
    env = {
      storeKind: 'dynamodb-local',
      store: new DynamoDbTokenStore({ tableName, client }),
      memoryStore: () => new MemoryTokenStore(),
      workerStore: { kind: 'dynamodb', endpoint: ddb.endpoint, tableName },
      dynamoDb: counter,
      progress,
    };
  } else {
    env = { storeKind: 'memory', store: new MemoryTokenStore(), memoryStore: () => new MemoryTokenStore(), progress };
  }
  const load = loadavg()[0] ?? 0;
  if (load > 0.5)
    progress(`load average ${load.toFixed(2)} before the run: other work on this machine will lower the figures`);
  const measured = await runBenchmark(options, env);
  // Parking's cost is measured on the real token store only (its transaction is what costs).
  const parking = env.dynamoDb ? await measureParkingCost({ ...env, dynamoDb: env.dynamoDb }) : undefined;
  // The limits too: item sizes at 1,024 segments with failing keys in every cell, and layout reads per container.
  const limits =
    client && env.dynamoDb
      ? await measureLimits({ store: env.store, watch: watchItemSizes(client), progress })
      : undefined;
  const report = { ...measured, ...(parking ? { parking } : {}), ...(limits ? { limits } : {}) };
  console.log(json ? JSON.stringify(report) : summary(report));
} finally {
  client?.destroy();
  await ddb?.stop();
}
