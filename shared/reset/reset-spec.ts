import { ResetRequestError } from './reset-errors.js';

/**
 * Where a reset moves positions, as `kafka-consumer-groups --reset-offsets` names it: the earliest retained offset,
 * the end, the first offset at or after a time, an offset, or a shift from the current position.
 */
export type ResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'datetime'; readonly timestampMs: number }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'shift'; readonly by: number };

/** The specs {@link parseResetSpec} accepts, as error messages and usage list them. */
export const RESET_SPECS_ALLOWED =
  'earliest, latest, an ISO date-time with a zone (2026-01-31T12:00:00Z, 2026-01-31T13:00+01:00) or a date (UTC midnight), offset:<n>, shift:<-n|+n>';

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Parses a reset spec; a {@link ResetRequestError} names the bad spec and lists what is allowed. */
export function parseResetSpec(spec: string): ResetTarget {
  const text = typeof spec === 'string' ? spec.trim() : '';
  const refuse = (why: string): never => {
    throw new ResetRequestError('to', `reset spec ${JSON.stringify(spec)} ${why}; allowed: ${RESET_SPECS_ALLOWED}`, {
      spec,
    });
  };
  if (text === 'earliest') return { kind: 'earliest' };
  if (text === 'latest') return { kind: 'latest' };
  if (text.startsWith('offset:')) {
    const value = text.slice('offset:'.length);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
      refuse('needs a whole offset >= 0 after "offset:"');
    return { kind: 'offset', offset: Number(value) };
  }
  if (text.startsWith('shift:')) {
    const value = text.slice('shift:'.length);
    if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      refuse('needs a whole number of records after "shift:", e.g. shift:-1000 or shift:+50');
    }
    return { kind: 'shift', by: Number(value) };
  }
  if (/^\d{4}-/.test(text)) {
    const match = DATETIME.exec(text);
    if (!match) {
      refuse(
        /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
          ? 'has no time zone: add Z or an offset such as +01:00'
          : 'is not an ISO date-time',
      );
    }
    const [, year, month, day, hour = '00', minute = '00', second = '00'] = match!;
    const days = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
    if (
      Number(month) < 1 ||
      Number(month) > 12 ||
      Number(day) < 1 ||
      Number(day) > days ||
      Number(hour) > 23 ||
      Number(minute) > 59 ||
      Number(second) > 59
    ) {
      refuse('is not a date-time that exists');
    }
    const timestampMs = Date.parse(match![4] === undefined ? `${text}T00:00:00Z` : text);
    if (!Number.isFinite(timestampMs)) refuse('is not an ISO date-time');
    return { kind: 'datetime', timestampMs };
  }
  return refuse('is not one of the reset specs');
}

/** The spec a target was parsed from, in its canonical form (what plans and audit items show). */
export function formatResetTarget(target: ResetTarget): string {
  switch (target.kind) {
    case 'earliest':
    case 'latest':
      return target.kind;
    case 'datetime':
      return new Date(target.timestampMs).toISOString();
    case 'offset':
      return `offset:${target.offset}`;
    case 'shift':
      return `shift:${target.by >= 0 ? '+' : ''}${target.by}`;
  }
}
