import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { localClientConfig } from '../../local/dynamodb-local.js';
import { formatLocalStackResult, runLocalStack, type LocalStackResult } from '../../local/local-stack.js';

// One short run of the whole local stack with --keep, shared by the tests below: its own DynamoDB Local, the state
// machines synthesized, 2 s of traffic with a split and a merge, redrives, the verification.
const DURATION_MS = 2_000;
const RATE = 300;
let result: LocalStackResult;
const lines: string[] = [];
/** The status the admin API answered while the traffic flowed (fetched as soon as its URL was reported). */
let statusDuringTraffic: Promise<{ status: number; body: Record<string, unknown> }> | undefined;

beforeAll(async () => {
  result = await runLocalStack(
    { durationMs: DURATION_MS, rate: RATE, partitions: 2, segments: 2, keys: 40, poison: 1, keep: true, adminPort: 0 },
    (line) => {
      lines.push(line);
      const url = /^Admin API and status page: (http:\/\/[^/]+)\//.exec(line)?.[1];
      if (url) {
        // Asked a little later, once batches have checkpointed.
        statusDuringTraffic = new Promise((resolve) => setTimeout(resolve, 800)).then(async () => {
          const answer = await fetch(`${url}/api/processors/order-projection/status`);
          return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
        });
      }
    },
  );
}, 120_000);

afterAll(async () => {
  await result?.admin?.close();
  await result?.dynamoDb?.stop();
});

const reachable = (endpoint: string) => {
  const client = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  return client
    .send(new ListTablesCommand({}))
    .then((answer) => answer.TableNames ?? [])
    .finally(() => client.destroy());
};

describe('runLocalStack (npm start)', () => {
  it('produces for the duration and not after it, then drains, redrives and verifies in a few seconds', () => {
    expect(result.ok).toBe(true);
    expect(result.summary).toMatchObject({
      lost: 0,
      reprocessedAfterCheckpoint: 0,
      orderViolations: 0,
      layoutErrors: 0,
    });
    // The producer's own figures: nothing written after the duration, never more than the rate allows. (How much it
    // wrote depends on how busy the machine is, so only the bounds are asserted.)
    expect(result.traffic.durationMs).toBe(DURATION_MS);
    expect(result.traffic.lastProducedMs).toBeLessThanOrEqual(DURATION_MS);
    expect(result.traffic.produced).toBeGreaterThan(0);
    expect(result.traffic.produced).toBeLessThanOrEqual((RATE * DURATION_MS) / 1000);
    expect(result.summary.produced).toBe(result.traffic.produced);
    // The traffic phase ends at the duration (its timer may fire late on a busy machine); what follows is bounded.
    expect(result.timings.trafficMs).toBeGreaterThanOrEqual(DURATION_MS);
    expect(result.timings.trafficMs).toBeLessThan(DURATION_MS + 3_000);
    const after =
      result.timings.changeMs + result.timings.deliveryMs + result.timings.redriveMs + result.timings.verifyMs;
    expect(after).toBeLessThan(15_000);
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(result.timings.startupMs + result.timings.trafficMs + after);
    expect(formatLocalStackResult(result).join('\n')).toMatch(
      /Timings: start-up \d+\.\d s \(DynamoDB Local, synthesis\); traffic \d+\.\d s \(\d+ records, the last at \d+\.\d s\); after it \d+\.\d s for the layout change under way, \d+\.\d s to deliver the rest, \d+\.\d s to redrive parked letters, \d+\.\d s to verify; \d+\.\d s in all/,
    );
  });

  it('with --admin-port, serves the status JSON while the traffic flows, and keeps serving with keep', async () => {
    expect(result.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const during = await statusDuringTraffic!;
    expect(during.status).toBe(200);
    const view = during.body as { processor: string; partitions: Array<{ id: string; highWater: number | null }> };
    expect(view.processor).toBe('order-projection');
    expect(view.partitions.map((p) => p.id)).toEqual(['orders-0', 'orders-1']);
    expect(view.partitions.every((p) => typeof p.highWater === 'number')).toBe(true);
    const after = await fetch(`${result.adminUrl}/api/processors`);
    expect(await after.json()).toMatchObject({ processors: [{ name: 'order-projection', initialised: true }] });
  });

  it('reports start-up before any traffic, and the segments each split or merge left', () => {
    expect(lines[0]).toMatch(/^Starting DynamoDB Local/);
    expect(lines[1]).toMatch(/^Synthesizing the split and merge state machines/);
    const firstProgress = lines.findIndex((line) => /^\[\s*\d+s\]/.test(line));
    const up = lines.findIndex((line) => line.startsWith('DynamoDB Local is up on '));
    expect(up).toBeGreaterThan(1);
    expect(firstProgress).toBeGreaterThan(up);

    const split = result.changes.find((c) => c.operation === 'split')!;
    expect(split).toMatchObject({ outcome: 'applied' });
    expect(split.created).toHaveLength(2);
    for (const change of result.changes) {
      const line = lines.find((l) => l.startsWith(`>> ${change.operation} ${change.segment}: ${change.outcome} after`));
      expect(line).toContain(`layout v${change.layoutVersion}: ${change.segments.join(' ')}`);
      if (change.created.length > 0) expect(line).toContain(`(new: ${change.created.join(' ')})`);
    }
  });

  it('with keep, leaves DynamoDB Local up for the printed status command, until stop()', async () => {
    const engine = result.dynamoDb!;
    expect(engine.endpoint).toBe(result.endpoint);
    expect(await reachable(engine.endpoint)).toContain('tidemark-local');

    const printed = formatLocalStackResult(result)
      .find((line) => line.includes('npx tidemark status'))!
      .trim();
    expect(printed).toBe(`npx tidemark status order-projection --table tidemark-local --endpoint ${engine.endpoint}`);
    const out: string[] = [];
    const code = await main(printed.split(' ').slice(2), {}, (line) => out.push(line), {
      err: (line) => out.push(line),
    });
    expect(code, out.join('\n')).toBe(0);
    expect(out.join('\n')).toContain(`Processor order-projection: layout v${result.layout.version}`);

    await engine.stop();
    await expect(reachable(engine.endpoint)).rejects.toThrow();
  });
});
