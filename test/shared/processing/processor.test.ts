import { describe, expect, it } from 'vitest';
import { DEFAULT_DEAD_LETTER_POLICY, nextRedriveAt } from '../../../shared/dead-letters/dead-letter-policy.js';
import { ConfigurationError } from '../../../shared/errors.js';
import { defineProcessor, type ProcessorDefinition } from '../../../shared/processing/processor.js';

const base: ProcessorDefinition = { name: 'orders-view', topics: ['orders'], handler: () => {} };

describe('defineProcessor', () => {
  it('fills in the dead-letter policy and leaves the record timeout to the invocation by default', () => {
    const processor = defineProcessor(base);

    expect(processor.deadLetter).toEqual(DEFAULT_DEAD_LETTER_POLICY);
    expect(processor.deadLetter.afterAttempts).toBe(9);
    expect(processor.recordTimeoutMs).toBeUndefined();
  });

  it('refuses dead-letter and timeout settings that cannot work, naming the setting and what is allowed', () => {
    const bad = (overrides: Partial<ProcessorDefinition>) => () => defineProcessor({ ...base, ...overrides });

    expect(bad({ deadLetter: { afterAttempts: 0 } })).toThrow(
      new ConfigurationError('deadLetter.afterAttempts must be an integer from 1 to 1000, got 0'),
    );
    expect(bad({ deadLetter: { maxParkedKeys: 5_000 } })).toThrow(
      'deadLetter.maxParkedKeys must be an integer from 1 to 1000, got 5000',
    );
    expect(bad({ deadLetter: { redriveBaseDelayMs: 10_000, redriveMaxDelayMs: 5_000 } })).toThrow(
      'deadLetter.redriveMaxDelayMs must be an integer from 10000',
    );
    expect(bad({ recordTimeoutMs: 0 })).toThrow(
      'recordTimeoutMs must be an integer from 1 to 900000 (15 minutes), got 0',
    );
  });
});

describe('nextRedriveAt', () => {
  it('doubles the delay per failed redrive up to the ceiling, half of it fixed and half jitter', () => {
    const policy = { ...DEFAULT_DEAD_LETTER_POLICY, redriveBaseDelayMs: 1_000, redriveMaxDelayMs: 8_000 };

    expect([1, 2, 3, 4, 5].map((attempts) => nextRedriveAt(policy, attempts, 0, () => 0))).toEqual([
      500, 1_000, 2_000, 4_000, 4_000,
    ]);
    expect([1, 2, 3, 4, 5].map((attempts) => nextRedriveAt(policy, attempts, 0, () => 0.999_999))).toEqual([
      999, 1_999, 3_999, 7_999, 7_999,
    ]);
  });
});
