import { describe, expect, it } from 'vitest';
import { measureDecoders } from '../../../bench/scenarios/decoders.js';

describe('the decoders scenario', () => {
  it('reports every format’s cost per record with each schema fetched once, in the warm-up', async () => {
    const report = await measureDecoders();

    expect(report.decoders.map((d) => d.decoder)).toEqual([
      'bytes',
      'string',
      'json',
      'avro (plain)',
      'avro (confluent)',
      'avro (confluent, v1 read as v2)',
      'protobuf (plain)',
      'protobuf (confluent)',
      'json-schema (confluent)',
      'avro (glue)',
      'avro (glue, zlib)',
      'protobuf (glue)',
    ]);
    for (const d of report.decoders) {
      expect(d.decodeUsPerRecord).toBeGreaterThan(0);
      expect(d.bestDecodeUsPerRecord).toBeLessThanOrEqual(d.decodeUsPerRecord);
      expect(d.handlerUsPerRecord).toBeGreaterThan(0);
      expect(d.valueBytes).toBeGreaterThan(0);
    }
    // Confluent ids 1 (Avro v1), 3 (Protobuf) and 4 (JSON Schema); v2 is the reader, given in code, never fetched.
    expect(report.registryFetches).toEqual({ confluent: 3, glue: 2 });
    expect(report.rawHandlerUsPerRecord).toBeGreaterThan(0);
  });
});
