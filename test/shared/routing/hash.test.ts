import { describe, expect, it } from 'vitest';
import { defaultHash, javaStringHashCode } from '../../../shared/routing/hash.js';
import { sequencingText } from '../../../shared/routing/sequencing-policy.js';

// Expected values were computed outside this code base (a separate big-integer computation over UTF-16 code
// units, reduced to int32); they are what Java's "…".hashCode() returns.
const JAVA_VECTORS: ReadonlyArray<[string, number]> = [
  ['', 0],
  ['a', 97],
  ['hello', 99162322],
  ['Hello World', -862545276],
  ['order-1', -1207111310],
  ['customer-42', -1772111155],
  ['żółw', 11564204],
  ['日本語', 25921943],
  ['🌊', 1773134],
  ['tide 🌊🌙', -2011889323],
  // Chosen so that the last addition itself passes 2^31 - 1 and must wrap.
  ['日本語-1022786-語', -2147483055],
];

describe('javaStringHashCode', () => {
  it.each(JAVA_VECTORS)('hashes %j to %i as Java String.hashCode does', (text, expected) => {
    // Arrange: the vector. Act
    const hash = javaStringHashCode(text);

    // Assert
    expect(hash).toBe(expected);
  });

  it('returns the whole vector table unchanged, including the negative results', () => {
    // Arrange
    const texts = JAVA_VECTORS.map(([text]) => text);

    // Act
    const hashes = texts.map(javaStringHashCode);

    // Assert
    expect(hashes).toEqual(JAVA_VECTORS.map(([, expected]) => expected));
    expect(hashes.filter((hash) => hash < 0)).toEqual([-862545276, -1207111310, -1772111155, -2011889323, -2147483055]);
  });

  it('counts a character outside the BMP as its two surrogate code units', () => {
    // Arrange: 🌊 is U+1F30A, the UTF-16 pair D83C DF0A.
    const pair = String.fromCharCode(0xd83c, 0xdf0a);

    // Act
    const hash = javaStringHashCode('🌊');

    // Assert
    expect(hash).toBe(javaStringHashCode(pair));
    expect(hash).toBe(31 * 0xd83c + 0xdf0a);
  });

  it('gives the classic Java collision "Aa" and "BB" the same hash', () => {
    // Act
    const hashes = [javaStringHashCode('Aa'), javaStringHashCode('BB')];

    // Assert
    expect(hashes).toEqual([2112, 2112]);
  });

  it('wraps at 32 bits like Java on long text', () => {
    // Arrange: 10,000 multiplications by 31 overflow int32 many times over.
    const text = 'x'.repeat(10_000);

    // Act
    const hash = javaStringHashCode(text);

    // Assert
    expect(hash).toBe(1180432384);
  });
});

describe('defaultHash', () => {
  it('is the Java string hash, so routing matches Axon', () => {
    // Act
    const hash = defaultHash('order-1');

    // Assert
    expect(defaultHash).toBe(javaStringHashCode);
    expect(hash).toBe(-1207111310);
  });
});

describe('defaultHash of record keys', () => {
  it.each(JAVA_VECTORS)('hashes the UTF-8 key %j to %i, as Axon hashes the same key', (text, expected) => {
    // Act
    const hash = defaultHash(sequencingText(Buffer.from(text, 'utf8')));

    // Assert
    expect(hash).toBe(expected);
  });

  it('spreads binary keys evenly over segments instead of hashing their U+FFFD text together', () => {
    // Arrange: 0..9999 as 8-byte longs; as UTF-8 text they were only 5,047 strings, crowding some segments.
    const keys = Array.from({ length: 10_000 }, (_, i) => {
      const key = Buffer.alloc(8);
      key.writeBigInt64BE(BigInt(i));
      return key;
    });
    const perSegment = (texts: string[]) => {
      const counts = Array<number>(64).fill(0);
      for (const text of texts) counts[defaultHash(text) & 63]!++;
      return [Math.min(...counts), Math.max(...counts)];
    };

    // Act
    const [fewest, most] = perSegment(keys.map(sequencingText));

    // Assert: 156 keys per segment on average; as text, one segment had 78 and another 207.
    expect(perSegment(keys.map((key) => key.toString('utf8')))).toEqual([78, 207]);
    expect(fewest).toBeGreaterThanOrEqual(125);
    expect(most).toBeLessThanOrEqual(190);
  });
});
