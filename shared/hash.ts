/** Maps a sequencing key to a signed 32-bit hash; segments match on its low bits. */
export type HashFunction = (sequencingKey: string) => number;

/**
 * Java's `String.hashCode`: `h = 31 * h + c` over the UTF-16 code units, wrapping at 32 bits. Axon Framework routes
 * with `hashCode()` of the sequence identifier masked by the segment mask, so using the same hash keeps a team's
 * segment routing when it moves from Axon.
 */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** The hash used unless a processor names another: {@link javaStringHashCode}. */
export const defaultHash: HashFunction = javaStringHashCode;
