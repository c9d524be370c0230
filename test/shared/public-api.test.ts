import { describe, expect, it } from 'vitest';
import * as tidemark from '../../shared/index.js';

describe('the tidemark entry point', () => {
  it('exports the observer, the request id and the in-process layout change', async () => {
    expect(tidemark.HandBackReason).toMatchObject({ Unfinished: 'unfinished', EventRefused: 'event-refused' });
    expect(tidemark.TRANSIENT_COORDINATOR_ERRORS).toContain('ThrottlingException');
    const store = new tidemark.MemoryTokenStore();
    await store.initialise('api', 1);
    let now = 0;

    const result = await tidemark.changeLayout(
      store,
      { processor: 'api', operation: 'scale', segments: 2 },
      { clock: () => now, sleep: async (ms) => void (now += ms), layoutTtlMs: 1_000 },
    );

    expect(result).toMatchObject({ outcome: 'applied', segments: ['0/1', '1/1'], layoutVersion: 3 });
  });
});
