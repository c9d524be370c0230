/** Text forms the CLI's views share: durations, keys and bytes. */
import { isSyntheticKey } from '../shared/dead-letters/dead-letter.js';

/** A duration as a person reads it: `42s`, `5m 3s`, `3h 20m`, `2d 4h`. */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** How long ago `at` was. */
export function ago(at: number, now: number): string {
  return `${duration(now - at)} ago`;
}

/** When `at` is, relative to now: `due now` once it has come, else `in 42s`. */
export function dueIn(at: number, now: number): string {
  return at <= now ? 'due now' : `in ${duration(at - now)}`;
}

/** An instant as ISO text, or `-` for none. */
export function iso(at: number): string {
  return at > 0 && Number.isFinite(at) ? new Date(at).toISOString() : '-';
}

/** Longest text shown of a key, value, header or raw entry unless one letter is asked for. */
export const SHOWN_CHARS = 200;

/**
 * A sequencing key as shown: the synthetic keys as themselves (`(malformed)`, `(unroutable)`), real keys quoted as
 * JSON strings, so a real key can never be mistaken for a synthetic one.
 */
export function shownKey(key: string, synthetic: boolean): string {
  if (synthetic && isSyntheticKey(key)) return key;
  return truncate(JSON.stringify(key), 80);
}

/** Cuts text to `limit` characters, saying how long it was. */
export function truncate(text: string, limit: number | undefined): string {
  if (limit === undefined || text.length <= limit) return text;
  return `${text.slice(0, limit)}… (${text.length} chars, cut at ${limit})`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as UTF-8 text when they are valid UTF-8 and printable (tabs and newlines allowed), else undefined. */
export function printableText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  for (const char of text) {
    const code = char.codePointAt(0)!;
    // Control characters other than tab, newline and carriage return; DEL and the C1 controls; replacement marks.
    const control = (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || (code >= 0x7f && code <= 0x9f);
    if (control || code === 0xfffd) return undefined;
  }
  return text;
}

/** Bytes as `text: …` (UTF-8, printable) or `base64: …`, cut at `limit` characters. */
export function shownBytes(bytes: Uint8Array, limit: number | undefined): string {
  const text = printableText(bytes);
  if (text !== undefined) return `text (${bytes.length} bytes): ${truncate(text, limit)}`;
  return `base64 (${bytes.length} bytes): ${truncate(Buffer.from(bytes).toString('base64'), limit)}`;
}

/** `1 letter`, `3 letters`. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
