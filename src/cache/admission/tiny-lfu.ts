import { CountMinSketch } from './count-min-sketch';
import { Doorkeeper } from './doorkeeper';
import { hashKey } from './key-hash';

/**
 * Doorkeeper bits per sketch counter. A sample period sees at most ~num_counters distinct keys (the period is at
 * most num_counters accesses), and with 8 bits each and 2 hashes at most ~5% of unseen keys then pass for seen
 * once (4 bits: ~16%; such a false "seen" hands a one-hit wonder a tie or a win against real repeats).
 * bench/cache-hit-ratio.ts: +0.0 to +0.2 points over 4 bits, 1 bit loses 0.2 to 0.8; 16 bits add <= 0.1 more.
 * Together with the sketch's half byte this makes ~1.5 bytes per counter.
 */
export const DOORKEEPER_BITS_PER_COUNTER = 8;

/** Options of {@link TinyLfu}; the names follow the `cache.ristretto` config keys they come from. */
export interface TinyLfuOptions {
  /** Counters of the sketch (`num_counters`, ~10x the expected number of entries). Sizes all the memory. */
  numCounters: number;
  /**
   * Recorded accesses between two agings; defaults to numCounters, i.e. ~10x the entries, as TinyLFU does. A
   * function is read again before every batch of accesses (WTinyLfu ties the period to the entries it holds).
   */
  sampleSize?: number | (() => number);
  /** Accesses kept in the buffer before they are applied (`buffer_items`). */
  bufferItems: number;
  /** Randomness for the hash seeds, so an outsider cannot aim keys at the same counters. */
  rng: () => number;
}

/**
 * TinyLFU: an approximate, aging access-frequency histogram of keys (doorkeeper + count-min sketch) used to
 * decide whether a new entry is worth more than the one it would push out. Memory is fixed by numCounters:
 * numCounters / 2 bytes of sketch plus numCounters bytes of doorkeeper.
 *
 * Accesses are recorded into a buffer of `bufferItems` keys and applied in one batch when it fills, the way
 * Ristretto batches its Get buffers. In a single-threaded process the batch only saves work on hot paths; to keep
 * decisions deterministic the buffer is also drained before every frequency read, so a read always sees every
 * access recorded before it.
 */
export class TinyLfu {
  private readonly sketch: CountMinSketch;
  private readonly doorkeeper: Doorkeeper;
  private readonly sampleSize: () => number;
  private sampleLimit: number;
  private readonly bufferItems: number;
  private readonly buffer: string[] = [];
  private readonly seed1: number;
  private readonly seed2: number;
  private additions = 0;
  private agings = 0;

  constructor(options: TinyLfuOptions) {
    this.sketch = new CountMinSketch(options.numCounters);
    this.doorkeeper = new Doorkeeper(Math.max(32, options.numCounters * DOORKEEPER_BITS_PER_COUNTER));
    const sample = options.sampleSize ?? options.numCounters;
    this.sampleSize = typeof sample === 'function' ? sample : () => sample;
    this.sampleLimit = this.readSampleSize();
    this.bufferItems = Math.max(1, Math.floor(options.bufferItems));
    this.seed1 = Math.floor(options.rng() * 0x1_0000_0000) >>> 0;
    // Derived rather than drawn, so the two hashes differ even under a constant rng (as tests like to pass).
    this.seed2 = (this.seed1 ^ 0x9e3779b9) >>> 0;
  }

  /** Bytes of counters and filter bits: bounded by numCounters, independent of how many keys pass by. */
  get byteLength(): number {
    return this.sketch.byteLength + this.doorkeeper.byteLength;
  }

  /** How many times the counters have been halved. */
  get agingCount(): number {
    return this.agings;
  }

  /** Records one access of the key (applied when the buffer fills or before the next frequency read). */
  record(key: string): void {
    this.buffer.push(key);
    if (this.buffer.length >= this.bufferItems) this.drain();
  }

  /** Estimated accesses of the key in the current sample: the doorkeeper's bit counts as the first one. */
  frequency(key: string): number {
    this.drain();
    const h1 = hashKey(key, this.seed1);
    const h2 = hashKey(key, this.seed2) | 1;
    return this.sketch.estimate(h1, h2) + (this.doorkeeper.has(h1, h2) ? 1 : 0);
  }

  /** Forgets every recorded access (admin flush). */
  clear(): void {
    this.buffer.length = 0;
    this.sketch.clear();
    this.doorkeeper.clear();
    this.additions = 0;
  }

  /** Applies the buffered accesses now. */
  drain(): void {
    const buffer = this.buffer;
    if (buffer.length === 0) return;
    this.sampleLimit = this.readSampleSize();
    for (let i = 0; i < buffer.length; i++) this.apply(buffer[i] as string);
    buffer.length = 0;
  }

  private apply(key: string): void {
    const h1 = hashKey(key, this.seed1);
    const h2 = hashKey(key, this.seed2) | 1;
    // A key's first access in a sample period stops at the doorkeeper: one-hit wonders never reach the sketch.
    if (this.doorkeeper.add(h1, h2)) this.sketch.increment(h1, h2);
    if (++this.additions >= this.sampleLimit) this.age();
  }

  private readSampleSize(): number {
    return Math.max(1, Math.floor(this.sampleSize()));
  }

  private age(): void {
    this.sketch.halve();
    // The doorkeeper has no counts to halve; clearing it is TinyLFU's equivalent of halving a 1-bit counter.
    this.doorkeeper.clear();
    this.additions = 0;
    this.agings++;
  }
}
