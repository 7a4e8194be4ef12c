/** Rows of the sketch; each key touches one counter per row and its estimate is the smallest of them. */
export const SKETCH_DEPTH = 4;

/** 4-bit counters saturate here; TinyLFU only needs to tell "rarely" from "often", not exact counts. */
export const SKETCH_MAX_COUNT = 15;

/**
 * A count-min sketch of `numCounters` 4-bit saturating counters packed two per byte, so it holds
 * numCounters / 2 bytes whatever the number of keys it sees. Keys arrive as two 32-bit hashes (h1, h2) and
 * row r uses counter (h1 + r * h2) mod width (double hashing), which keeps the rows nearly independent.
 */
export class CountMinSketch {
  private readonly table: Uint8Array;
  private readonly width: number;

  constructor(numCounters: number) {
    if (!Number.isInteger(numCounters) || numCounters < SKETCH_DEPTH) {
      throw new RangeError(`numCounters must be an integer >= ${SKETCH_DEPTH}, got ${numCounters}`);
    }
    this.width = Math.floor(numCounters / SKETCH_DEPTH);
    this.table = new Uint8Array(Math.ceil((this.width * SKETCH_DEPTH) / 2));
  }

  /** Bytes held by the counters (the whole memory cost of the sketch). */
  get byteLength(): number {
    return this.table.length;
  }

  /**
   * Counts one more occurrence of the key (saturating at SKETCH_MAX_COUNT) with conservative update: only the
   * rows holding the key's current minimum are raised, since a larger counter already over-counts it through
   * collisions. The estimate still never falls below the true count, and collisions inflate it less.
   */
  increment(h1: number, h2: number): void {
    const min = this.estimate(h1, h2);
    if (min >= SKETCH_MAX_COUNT) return;
    for (let row = 0; row < SKETCH_DEPTH; row++) {
      const slot = this.slot(row, h1, h2);
      const byte = slot >>> 1;
      const shift = (slot & 1) << 2;
      if ((((this.table[byte] ?? 0) >>> shift) & 0xf) === min)
        this.table[byte] = (this.table[byte] ?? 0) + (1 << shift);
    }
  }

  /** An upper-biased estimate of how often the key was counted since the last aging. */
  estimate(h1: number, h2: number): number {
    let min = SKETCH_MAX_COUNT;
    for (let row = 0; row < SKETCH_DEPTH; row++) {
      const slot = this.slot(row, h1, h2);
      const count = ((this.table[slot >>> 1] ?? 0) >>> ((slot & 1) << 2)) & 0xf;
      if (count < min) min = count;
    }
    return min;
  }

  /**
   * Aging: halves every counter so old popularity fades and recent popularity wins. Shifting each byte right
   * by one halves both nibbles at once; the mask drops the bit that would leak from the high nibble into the low.
   */
  halve(): void {
    const table = this.table;
    for (let i = 0; i < table.length; i++) table[i] = ((table[i] ?? 0) >>> 1) & 0x77;
  }

  /** Forgets everything. */
  clear(): void {
    this.table.fill(0);
  }

  private slot(row: number, h1: number, h2: number): number {
    return row * this.width + (((h1 + Math.imul(row, h2)) >>> 0) % this.width);
  }
}
