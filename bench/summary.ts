/** The readable summary `npm run bench` prints without `--json`: the report's headline figures, one per line. */
import type { BenchReport } from './report/report.js';

const line = (label: string, value: string) => `  ${label.padEnd(34)} ${value}`;

export function summary(report: BenchReport): string {
  return [
    ...onePartition(report),
    ...scaling(report),
    ...overhead(report),
    ...decoders(report),
    ...dynamoDb(report),
    ...parking(report),
    ...effects(report),
    ...limits(report),
    ...cost(report),
    'Targets:',
    ...Object.values(report.targets).map((t) => line(t.met ? 'met' : 'NOT met', `${t.target}: ${t.measured}`)),
  ].join('\n');
}

function onePartition(report: BenchReport): string[] {
  const { config } = report;
  const one = report.onePartition;
  const mode = (m: { recordsPerSecond: number; orderViolations: number }) =>
    `${m.recordsPerSecond} records/s, ${m.orderViolations} order violations`;
  return [
    `Tidemark benchmark (${config.quick ? 'quick' : 'full'}, store ${config.store}, ${report.durationSeconds} s)`,
    `One partition: ${config.records} records over ${config.keys} keys, ${config.latencyMs} ms handler, concurrency ${config.concurrency}, batches of ${config.batchSize}`,
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
  ];
}

function scaling(report: BenchReport): string[] {
  return [
    `Scaling with partitions (a worker thread each, batches of ${report.partitionScaling.batchSize}):`,
    ...report.partitionScaling.points.map((p) =>
      line(
        `${p.partitions} partition(s)`,
        `${p.recordsPerSecond} records/s (${p.speedup}x)${p.cpuSaturated ? ', CPU-bound on this machine' : ''}`,
      ),
    ),
  ];
}

function overhead(report: BenchReport): string[] {
  return [
    'Overhead (no-op handler, in-memory store):',
    line('Tidemark end to end', `${report.overhead.tidemarkUsPerRecord} µs/record`),
    line('handler alone', `${report.overhead.handlerOnlyUsPerRecord} µs/record`),
    line('overhead', `${report.overhead.overheadUsPerRecord} µs/record`),
  ];
}

function decoders(report: BenchReport): string[] {
  return [
    'Record formats (µs per record, schema cached: decode alone; added to a handler call):',
    ...report.decoders.decoders.map((d) => line(d.decoder, `${d.decodeUsPerRecord}; ${d.addedUsPerRecord}`)),
  ];
}

function dynamoDb(report: BenchReport): string[] {
  const { perBatch, per1000Records, coldRun } = report.dynamoDb;
  return [
    `DynamoDB (${report.config.store === 'memory' ? 'mapped from token store calls' : 'counted on the DynamoDBClient'}):`,
    line('per batch', `${perBatch.reads} reads, ${perBatch.writes} writes`),
    line('per 1,000 records', `${per1000Records.reads} reads, ${per1000Records.writes} writes`),
    line(
      'set-up (first run, once)',
      `${coldRun.readRequests} reads, ${coldRun.writeRequests} writes in ${coldRun.batches} batches`,
    ),
  ];
}

function parking(report: BenchReport): string[] {
  const { parking } = report;
  if (!parking) return [];
  return [
    `Parking (${parking.recordsPerBatch} records a batch, real token store):`,
    line(
      'nothing parked',
      `${parking.nothingParked.writesPerBatch} writes, ${parking.nothingParked.writeUnitsPerBatch} WCU per batch`,
    ),
    line(
      `${parking.parkedPerBatch} parked (1%)`,
      `${parking.onePercentParked.writesPerBatch} writes, ${parking.onePercentParked.writeUnitsPerBatch} WCU per batch`,
    ),
  ];
}

function effects(report: BenchReport): string[] {
  const { effects } = report;
  if (!effects) return [];
  const pass = (p: { writesPerRecord: number; awsWriteUnitsPerRecord: number; usPerRecord: number }) =>
    `${p.writesPerRecord} writes, ${p.awsWriteUnitsPerRecord} WCU on AWS, ${p.usPerRecord} µs per record`;
  return [
    `Exactly-once effects (${effects.records} records, one after the other, DynamoDB Local):`,
    line('plain update (no helper)', pass(effects.plainUpdate)),
    line('one item', `${pass(effects.singleItem)} (${effects.singleItem.helperUsPerRecord} µs the helper's own)`),
    line('one item, delivered again', pass(effects.singleItem.again)),
    line(
      '3-item transaction',
      `${pass(effects.threeItemTransaction)} (${effects.threeItemTransaction.helperUsPerRecord} µs the helper's own)`,
    ),
    line('3-item transaction, again', pass(effects.threeItemTransaction.again)),
  ];
}

function limits(report: BenchReport): string[] {
  const { limits } = report;
  if (!limits) return [];
  const reads = limits.layoutReadsPerSecondPerContainer;
  return [
    `Limits (${limits.segments} segments, a failing key in every cell, real token store):`,
    line('largest partition item', `${limits.largestPartitionItemBytes} B (DynamoDB's limit 409,600 B)`),
    line('largest layout item', `${limits.largestLayoutItemBytes} B (one read unit up to 4,096 B)`),
    line('layout reads per container', `${reads.steady}/s steady, ${reads.drain}/s waiting on a drain`),
  ];
}

function cost(report: BenchReport): string[] {
  const { cost } = report;
  return [
    `Cost per million records (${cost.prices.region}, ${cost.assumptions.lambdaMemoryMb} MB):`,
    line('(a) sequential', `$${cost.sequential.usd.total}`),
    line('(c) key-ordered', `$${cost.keyOrdered.usd.total} (${cost.keyOrderedToSequential} of (a))`),
  ];
}
