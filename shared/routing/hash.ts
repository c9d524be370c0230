/**
 * Maps a sequencing key to a signed 32-bit integer. A record belongs to segment `S` when
 * `(hash(key) & S.mask) === S.id`, so only the low bits decide routing.
 */
export type HashFunction = (sequencingKey: string) => number;

/**
 * Java's `String.hashCode()`: `h = 31 * h + unit` over the string's UTF-16 code units, wrapping at 32 bits, as a
 * signed int32. Characters outside the Basic Multilingual Plane (emoji) count as their two surrogate units, as in
 * Java.
 *
 * Axon Framework routes an event to a segment by masking the low bits of the sequence identifier's `hashCode()`,
 * with no further mixing. Using the same function keeps a team's segment routing when it moves from Axon: the same
 * key lands in the same segment `(id, mask)`.
 */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) {
    // Int32 arithmetic as in Java: Math.imul wraps the product, `| 0` wraps the sum (the last one can overflow too).
    hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  }
  return hash;
}

/** The hash a processor uses unless it names another: {@link javaStringHashCode}, for Axon-compatible routing. */
export const defaultHash: HashFunction = javaStringHashCode;
