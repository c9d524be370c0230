import { describe, expect, it } from 'vitest';
import * as tidemark from '../../../shared/index.js';

describe('the effects API on the tidemark entry point', () => {
  it('exports the helpers, their errors and their metric names', () => {
    expect(typeof tidemark.exactlyOnce).toBe('function');
    expect(typeof tidemark.idempotency).toBe('function');
    expect(tidemark.TRANSACTION_LIMITS).toEqual({ maxActions: 100, maxBytes: 4 * 1024 * 1024 });
    expect(tidemark.EffectMetric).toEqual({
      Applied: 'EffectsApplied',
      AlreadyApplied: 'EffectsAlreadyApplied',
      TransactionConflicts: 'TransactionConflicts',
    });
    expect(new tidemark.EffectRefusedError(tidemark.EffectRefusal.TooManyItems, 'x')).toBeInstanceOf(
      tidemark.TidemarkError,
    );
    expect(tidemark.idempotencyKey('orders-view', 'orders-0@5#effect').pk).toMatch(
      /^PROCESSOR#orders-view#EFFECT#[\w-]{32}$/,
    );
  });
});
