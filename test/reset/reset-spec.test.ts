import { describe, expect, it } from 'vitest';
import { ResetRequestError } from '../../shared/reset/reset-errors.js';
import { formatResetTarget, parseResetSpec, RESET_SPECS_ALLOWED } from '../../shared/reset/reset-spec.js';

describe('reset specs', () => {
  it('reads every form the Kafka tool has, in canonical form', () => {
    const specs = [
      'earliest',
      'latest',
      '2026-01-31T12:00:00Z',
      '2026-01-31T13:00+01:00',
      '2026-01-31T12:00:00.250Z',
      '2026-01-31',
      'offset:1042',
      'shift:-100',
      'shift:+50',
      'shift:7',
    ];

    expect(specs.map((spec) => formatResetTarget(parseResetSpec(spec)))).toEqual([
      'earliest',
      'latest',
      '2026-01-31T12:00:00.000Z',
      '2026-01-31T12:00:00.000Z',
      '2026-01-31T12:00:00.250Z',
      '2026-01-31T00:00:00.000Z',
      'offset:1042',
      'shift:-100',
      'shift:+50',
      'shift:+7',
    ]);
    expect(parseResetSpec('shift:-100')).toEqual({ kind: 'shift', by: -100 });
    expect(parseResetSpec('2026-01-31T12:00:00Z')).toEqual({
      kind: 'datetime',
      timestampMs: Date.UTC(2026, 0, 31, 12),
    });
  });

  it('refuses a bad spec with a typed error naming it, why, and what is allowed', () => {
    const refusals = [
      'yesterday',
      'offset:-1',
      'offset:',
      'shift:ten',
      '2026-01-31T12:00:00',
      '2026-02-30T00:00:00Z',
      '2026-13-01',
      '',
    ].map((spec) => {
      try {
        parseResetSpec(spec);
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(ResetRequestError);
        expect(error).toMatchObject({ field: 'to', retriable: false });
        return (error as Error).message.replace(`; allowed: ${RESET_SPECS_ALLOWED}`, '');
      }
    });

    expect(refusals).toEqual([
      'reset spec "yesterday" is not one of the reset specs',
      'reset spec "offset:-1" needs a whole offset >= 0 after "offset:"',
      'reset spec "offset:" needs a whole offset >= 0 after "offset:"',
      'reset spec "shift:ten" needs a whole number of records after "shift:", e.g. shift:-1000 or shift:+50',
      'reset spec "2026-01-31T12:00:00" has no time zone: add Z or an offset such as +01:00',
      'reset spec "2026-02-30T00:00:00Z" is not a date-time that exists',
      'reset spec "2026-13-01" is not a date-time that exists',
      'reset spec "" is not one of the reset specs',
    ]);
  });

  it('lists the allowed specs in every refusal', () => {
    expect(() => parseResetSpec('soon')).toThrow(
      'allowed: earliest, latest, an ISO date-time with a zone (2026-01-31T12:00:00Z, 2026-01-31T13:00+01:00) or a date (UTC midnight), offset:<n>, shift:<-n|+n>',
    );
  });
});
