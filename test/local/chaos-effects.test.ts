import { describe, expect, inject, it } from 'vitest';
import { runChaos } from '../../local/chaos.js';
import { verifyEffects, type EffectItem } from '../../local/verification.js';
import { takeEffectCounts } from '../../shared/effects/effect-metrics.js';

const targets = (key: string) => ({ counter: `counter#${key}`, ledger: `ledger#${key}`, log: 'log#orders-0' });
const item = (n: number, offsets: number[]): EffectItem => ({ n, offsets: new Set(offsets) });

describe('verifyEffects', () => {
  const touched = new Map([
    ['orders-0@1', { offset: 1, targets: targets('a') }],
    ['orders-0@2', { offset: 2, targets: targets('a') }],
    ['orders-0@3', { offset: 3, targets: targets('b') }],
  ]);

  it('finds nothing when every handled record is on each of its items once', () => {
    const items = new Map([
      ['counter#a', item(2, [1, 2])],
      ['ledger#a', item(2, [1, 2])],
      ['counter#b', item(1, [3])],
      ['ledger#b', item(1, [3])],
      ['log#orders-0', item(3, [1, 2, 3])],
    ]);

    expect(verifyEffects(['orders-0@1', 'orders-0@2', 'orders-0@3'], touched, items)).toEqual({
      effectsAppliedTwice: 0,
      effectsMissing: 0,
    });
  });

  it('counts an application twice, a handled record missing, and a transaction half applied', () => {
    const problems: string[] = [];
    const items = new Map([
      ['counter#a', item(3, [1, 2])], // record 1 or 2 counted twice
      ['ledger#a', item(2, [1, 2])],
      ['ledger#b', item(1, [3])], // record 3: no counter, and on its ledger but not the log
      ['log#orders-0', item(2, [1, 2])],
    ]);

    const summary = verifyEffects(['orders-0@1', 'orders-0@3'], touched, items, (p) => problems.push(p));

    expect(summary).toEqual({ effectsAppliedTwice: 1, effectsMissing: 3 });
    expect(problems).toEqual([
      'effects: item counter#a counts 3 applications of 2 records',
      'effects: orders-0@3 was handled, but item counter#b does not hold it',
      'effects: orders-0@3 was handled, but item log#orders-0 does not hold it',
      'effects: orders-0@3 is on its ledger but not its log: half applied',
    ]);
  });

  it('does not require the effects of a record that was not handled (still parked, or given up by the source)', () => {
    expect(verifyEffects([], touched, new Map())).toEqual({ effectsAppliedTwice: 0, effectsMissing: 0 });
  });
});

describe('chaos with --effects (smoke)', () => {
  it('finds every effect applied exactly once through crashes, duplicate deliveries, zombies and redrives', async () => {
    const lines: string[] = [];
    // Two short runs whose schedules crash, freeze, duplicate, park and redrive, and inject transaction conflicts.
    const seed = 3;
    const runs = 2;
    for (let run = 0; run < runs; run++) takeEffectCounts(`chaos-${seed}-${run}`);

    const { ok, totals } = await runChaos({ endpoint: inject('dynamoDbEndpoint'), runs, seed, effects: true }, (line) =>
      lines.push(line),
    );

    expect(lines.join('\n')).not.toContain('effects:');
    expect(ok).toBe(true);
    expect(totals).toMatchObject({
      runs,
      lost: 0,
      reprocessedAfterCheckpoint: 0,
      orderViolations: 0,
      layoutErrors: 0,
      effectsAppliedTwice: 0,
      effectsMissing: 0,
    });
    expect(Object.keys(totals).slice(-2)).toEqual(['effectsAppliedTwice', 'effectsMissing']);
    // The helper was exercised: effects landed, and repeats of them were refused as already applied.
    const counts = new Map<string, number>();
    for (let run = 0; run < runs; run++) {
      for (const [name, n] of takeEffectCounts(`chaos-${seed}-${run}`)) counts.set(name, (counts.get(name) ?? 0) + n);
    }
    expect(counts.get('EffectsApplied')).toBeGreaterThan(totals.records);
    expect(counts.get('EffectsAlreadyApplied')).toBeGreaterThan(0);
    expect(counts.get('TransactionConflicts')).toBeGreaterThan(0);
    expect(totals.deadLettered).toBeGreaterThan(0);
  });
});
