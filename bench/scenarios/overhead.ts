/**
 * What the engine itself costs per record: Tidemark end to end (raw event in, checkpoint out) with an async
 * no-op handler on the in-memory store, against calling that handler once per already parsed record. Parsing
 * alone is reported too, since any Lambda Kafka handler has to parse.
 */
import type { KafkaRecord } from '../../shared/kafka/kafka-record.js';
import type { ScenarioContext } from '../context.js';
import { parsedRecords, parseOnly, runHandlerOnly } from '../runs.js';
import { median, round } from '../stats.js';
import { makePartitionLog, type PartitionLog } from '../workload.js';

/** At least this many samples, whatever `repeats` says: one sample is well under a second and easily disturbed. */
const MIN_SAMPLES = 7;

export interface OverheadReport {
  readonly records: number;
  readonly keys: number;
  readonly handler: string;
  readonly store: string;
  readonly handlerOnlyUsPerRecord: number;
  readonly tidemarkUsPerRecord: number;
  readonly overheadUsPerRecord: number;
  /** Part of the total: parsing the event (base64, records), which any Lambda Kafka handler must do too. */
  readonly parseUsPerRecord: number;
  readonly samplesTidemarkUsPerRecord: number[];
  /** The fastest sample: the figure least disturbed by other work on the machine. */
  readonly bestTidemarkUsPerRecord: number;
}

const noop = async () => {};
const noopRecord = async (_record: KafkaRecord) => {};

export async function measureOverhead(ctx: ScenarioContext): Promise<OverheadReport> {
  const { options } = ctx;
  ctx.progress(`overhead: ${options.overheadRecords} records, no-op handler, in-memory store`);
  const log = makePartitionLog({
    partition: 0,
    count: options.overheadRecords,
    keys: options.overheadKeys,
    seed: options.seed + 2,
  });
  const parsed = parsedRecords([log], options.batchSize);
  await warmUp(ctx, log, parsed);
  const samples = { tidemark: [] as number[], handlerOnly: [] as number[], parse: [] as number[] };
  for (let i = 0; i < Math.max(options.repeats, MIN_SAMPLES); i++) {
    await ctx.settle(options.pauseMs / 2);
    const run = await ctx
      .consumer('o', ctx.env.memoryStore())
      .run({ logs: [log], batchSize: options.batchSize, handler: noop });
    samples.tidemark.push((run.elapsedMs * 1000) / run.records);
    samples.handlerOnly.push(((await runHandlerOnly(parsed, noopRecord)) * 1000) / parsed.length);
    const parsing = parseOnly([log], options.batchSize);
    samples.parse.push((parsing.elapsedMs * 1000) / parsing.records);
  }
  const tidemarkUs = median(samples.tidemark);
  const handlerOnlyUs = median(samples.handlerOnly);
  ctx.progress(
    `overhead: ${round(tidemarkUs, 3)} µs/record end to end, ${round(handlerOnlyUs, 3)} µs/record calling the handler alone`,
  );
  return {
    records: options.overheadRecords,
    keys: options.overheadKeys,
    handler: 'async no-op',
    store: 'MemoryTokenStore',
    handlerOnlyUsPerRecord: round(handlerOnlyUs, 3),
    tidemarkUsPerRecord: round(tidemarkUs, 3),
    overheadUsPerRecord: round(tidemarkUs - handlerOnlyUs, 3),
    parseUsPerRecord: round(median(samples.parse), 3),
    samplesTidemarkUsPerRecord: samples.tidemark.map((s) => round(s, 3)),
    bestTidemarkUsPerRecord: round(Math.min(...samples.tidemark), 3),
  };
}

/** One untimed pass of each side, on the first records only: the no-op path has its own code to compile. */
async function warmUp(ctx: ScenarioContext, log: PartitionLog, parsed: readonly KafkaRecord[]): Promise<void> {
  await runHandlerOnly(parsed, noopRecord);
  const warm = Math.min(ctx.options.overheadRecords, 20_000);
  await ctx.consumer('ow', ctx.env.memoryStore()).run({
    logs: [{ ...log, records: log.records.slice(0, warm), keys: log.keys.slice(0, warm) }],
    batchSize: ctx.options.batchSize,
    handler: noop,
  });
}
