/** Bits set per key in the doorkeeper; two keep the false-positive rate low at the fill levels a sample period reaches. */
export const DOORKEEPER_HASHES = 2;

/**
 * The doorkeeper of TinyLFU: a small Bloom filter in front of the count-min sketch. A key's first access only
 * sets its bits here; only later accesses reach the sketch, so the flood of one-hit wonders never takes counter
 * space from keys that repeat. Cleared on every aging, like the sketch is halved.
 */
export class Doorkeeper {
  private readonly words: Uint32Array;
  private readonly bits: number;

  constructor(bits: number) {
    if (!Number.isInteger(bits) || bits < 32)
      throw new RangeError(`bits must be an integer >= 32, got ${bits}`);
    this.bits = bits;
    this.words = new Uint32Array(Math.ceil(bits / 32));
  }

  /** Bytes held by the filter. */
  get byteLength(): number {
    return this.words.byteLength;
  }

  /** True when the key may have been added since the last clear (false positives possible, no false negatives). */
  has(h1: number, h2: number): boolean {
    for (let i = 0; i < DOORKEEPER_HASHES; i++) {
      const bit = this.bit(i, h1, h2);
      if ((((this.words[bit >>> 5] ?? 0) >>> (bit & 31)) & 1) === 0) return false;
    }
    return true;
  }

  /** Adds the key; returns whether it was (probably) already there. */
  add(h1: number, h2: number): boolean {
    let present = true;
    for (let i = 0; i < DOORKEEPER_HASHES; i++) {
      const bit = this.bit(i, h1, h2);
      const word = this.words[bit >>> 5] ?? 0;
      const mask = 1 << (bit & 31);
      if ((word & mask) === 0) {
        present = false;
        this.words[bit >>> 5] = word | mask;
      }
    }
    return present;
  }

  /** Forgets every key. */
  clear(): void {
    this.words.fill(0);
  }

  private bit(i: number, h1: number, h2: number): number {
    // Swapping the roles of h1 and h2 keeps the filter's bits uncorrelated with the sketch's rows.
    return ((h2 + Math.imul(i, h1 | 1)) >>> 0) % this.bits;
  }
}
