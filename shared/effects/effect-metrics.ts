/**
 * The counts of the effect helpers, published with the processor's own metrics: the handler factories'
 * `ProcessorMetrics` takes what was counted for its processor into every line it prints (the batch's, the segment
 * worker's, the redrive's), so a helper created anywhere in the processor's module needs no wiring.
 */

/** The metrics the effect helpers count (namespace `Tidemark`, dimension `Processor`). */
export const EffectMetric = {
  /** Effects applied: a conditional write or a transaction that landed, an idempotent effect that ran and completed. */
  Applied: 'EffectsApplied',
  /** Effects asked for again and not repeated: the item's position showed the record applied, or a stored result was returned. */
  AlreadyApplied: 'EffectsAlreadyApplied',
  /** Transactions (and writes) DynamoDB refused because another transaction held an item; each is retried. */
  TransactionConflicts: 'TransactionConflicts',
} as const;
export type EffectMetric = (typeof EffectMetric)[keyof typeof EffectMetric];

/** Counts since the last take, per processor. Small and bounded: a few names per processor of the process. */
const pending = new Map<string, Map<EffectMetric, number>>();

/** Adds `n` to a processor's count. */
export function countEffect(processor: string, metric: EffectMetric, n = 1): void {
  let counts = pending.get(processor);
  if (!counts) pending.set(processor, (counts = new Map()));
  counts.set(metric, (counts.get(metric) ?? 0) + n);
}

/** What was counted for the processor since the last take, and clears it. */
export function takeEffectCounts(processor: string): Array<[EffectMetric, number]> {
  const counts = pending.get(processor);
  if (!counts) return [];
  pending.delete(processor);
  return [...counts];
}
