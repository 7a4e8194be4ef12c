import { LRUCache } from 'lru-cache';
import type { Clock } from '../../common/clock';
import { TinyLfu } from './tiny-lfu';

/** Share of the byte budget given to the admission window (Caffeine's default: 1%). */
export const DEFAULT_WINDOW_RATIO = 0.01;

/** Share of the main area kept for entries that were hit again after admission (the protected segment). */
export const DEFAULT_PROTECTED_RATIO = 0.8;

/**
 * A candidate this warm that loses anyway is let in once in 128 times: without it an attacker who keeps a few
 * victims artificially hot (hash collisions in the sketch) could lock every new entry out (Caffeine does the same).
 */
export const ADMIT_WARM_FREQUENCY = 6;
/**
 * A candidate asked for as often as its victims wins the tie from this frequency up: among equally frequent keys
 * the one seen more recently is the better bet, and on a drifting hot set this lets the newcomers in sooner
 * (bench/cache-hit-ratio.ts: +0 to +0.3 points on stationary Zipf, up to +0.8 with drift). Below it, a key seen
 * once would tie with every other key seen once, and scans would churn the main area.
 */
export const ADMIT_TIE_FREQUENCY = 2;
const ADMIT_WARM_ODDS = 1 / 128;
/**
 * The sketch ages after 10 recorded accesses per entry held (TinyLFU's and Caffeine's sample). A byte budget does
 * not say how many entries it will hold, so the period follows the most entries held so far, capped at
 * num_counters: with the default 1,000,000 counters and 5 KB answers (~20,000 entries) a fixed period of
 * num_counters would remember popularity 5x longer, and on a drifting hot set the cache then keeps refusing the
 * new hot keys (bench/cache-hit-ratio.ts: below LRU by up to 6 points; on a stationary trace it gains < 1).
 */
export const SAMPLE_PER_ENTRY = 10;
/** The period stops shrinking here: a sample of fewer requests says little about anyone's frequency. */
export const MIN_SAMPLE_SIZE = 1_000;

/** Options of {@link WTinyLfu}. */
export interface WTinyLfuOptions<V> {
  /** Byte budget: the sum of entry costs never exceeds it (`ristretto.max_cost`). */
  maxCost: number;
  /** Counters of the frequency sketch (`ristretto.num_counters`). */
  numCounters: number;
  /** Accesses buffered before they reach the sketch (`ristretto.buffer_items`). */
  bufferItems: number;
  /**
   * Accesses between two agings of the sketch; defaults to SAMPLE_PER_ENTRY x the most entries held so far, at
   * least MIN_SAMPLE_SIZE and at most numCounters.
   */
  sampleSize?: number;
  /** Cost of one entry in bytes; must be positive. */
  cost: (key: string, value: V) => number;
  /** Time source of the TTLs. */
  clock: Clock;
  /** Randomness: hash seeds of the sketch and the rare admission of a warm loser. */
  rng: () => number;
  /** Share of maxCost for the admission window; defaults to DEFAULT_WINDOW_RATIO. */
  windowRatio?: number;
  /** Share of the main area for the protected segment; defaults to DEFAULT_PROTECTED_RATIO. */
  protectedRatio?: number;
}

/** Which part of the cache holds a key (for diagnostics and tests). */
export type WTinyLfuSegment = 'window' | 'probation' | 'protected';

/** Counters kept by {@link WTinyLfu}. */
export interface WTinyLfuCounters {
  /** Stored entries removed to make room, including window candidates that lost their admission contest. */
  evictions: number;
  /** Admission refusals: candidates that lost against the victims, and entries too large to store at all. */
  rejections: number;
  /** Entries dropped because their TTL had passed. */
  expirations: number;
}

type Segment<V extends object> = LRUCache<string, V>;

/**
 * W-TinyLFU over a byte budget (after Caffeine): new entries land in a small LRU admission window; what falls out
 * of the window is a candidate for the main area, a segmented LRU (probation + protected). When main is full the
 * candidate is admitted only if TinyLFU estimates it is used more often than every victim it would push out of
 * main's cold end (or as often, from ADMIT_TIE_FREQUENCY up); otherwise the candidate is dropped. One-hit wonders
 * and scans therefore churn the window and probation, not the hot entries in protected. Entries hit while in probation move to protected.
 *
 * lru-cache does the ordering, the byte accounting and the TTLs of each segment; this class only decides
 * where entries go and who leaves. The sum of entry costs stays within maxCost after every call.
 */
export class WTinyLfu<V extends object> {
  private readonly window: Segment<V>;
  private readonly probation: Segment<V>;
  private readonly protectedLru: Segment<V>;
  private readonly sketch: TinyLfu;
  private readonly cost: (key: string, value: V) => number;
  private readonly rng: () => number;
  private readonly windowMax: number;
  private readonly mainMax: number;
  private readonly protectedMax: number;
  private readonly counts: WTinyLfuCounters = { evictions: 0, rejections: 0, expirations: 0 };
  /** The most entries held at once since the last clear: sizes the sketch's aging period. */
  private peakEntries = 0;

  constructor(options: WTinyLfuOptions<V>) {
    const { maxCost, clock } = options;
    if (!Number.isFinite(maxCost) || maxCost < 1)
      throw new RangeError(`maxCost must be >= 1, got ${maxCost}`);
    const windowRatio = options.windowRatio ?? DEFAULT_WINDOW_RATIO;
    const protectedRatio = options.protectedRatio ?? DEFAULT_PROTECTED_RATIO;
    this.windowMax = Math.floor(maxCost * windowRatio);
    this.mainMax = Math.floor(maxCost) - this.windowMax;
    this.protectedMax = Math.floor(this.mainMax * protectedRatio);
    this.cost = (key, value) => Math.max(1, Math.ceil(options.cost(key, value)));
    this.rng = options.rng;
    this.sketch = new TinyLfu({
      numCounters: options.numCounters,
      sampleSize:
        options.sampleSize ??
        (() => Math.min(options.numCounters, Math.max(MIN_SAMPLE_SIZE, SAMPLE_PER_ENTRY * this.peakEntries))),
      bufferItems: options.bufferItems,
      rng: options.rng,
    });
    // lru-cache reads a start time of 0 as "no TTL", so the clock is shifted by one to keep a clock at 0 usable.
    const perf = { now: () => clock.now() + 1 };
    const segment = (): Segment<V> =>
      new LRUCache<string, V>({
        // The budgets are enforced here, across segments; lru-cache must never evict on its own.
        maxSize: Number.MAX_SAFE_INTEGER,
        sizeCalculation: (value, key) => this.cost(key, value),
        // Stale entries must stay visible to rkeys() so victim selection can drop them; reads pass allowStale: false.
        allowStale: true,
        // 0 = read the injected clock on every check instead of caching it behind a real timer.
        ttlResolution: 0,
        perf,
        dispose: (_value, _key, reason) => {
          if (reason === 'expire') this.counts.expirations++;
        },
      });
    this.window = segment();
    this.probation = segment();
    this.protectedLru = segment();
  }

  /** Number of entries held; an expired entry is held until it is read, replaced or chosen as a victim. */
  get size(): number {
    return this.window.size + this.probation.size + this.protectedLru.size;
  }

  /** Sum of the costs of the entries held (expired ones not yet dropped included); never above maxCost. */
  get bytes(): number {
    return this.window.calculatedSize + this.mainBytes;
  }

  /** Largest cost an entry may have: the main area, i.e. maxCost minus the window. */
  get maxEntryCost(): number {
    return this.mainMax;
  }

  /** Bytes used by the frequency sketch (fixed by numCounters). */
  get sketchBytes(): number {
    return this.sketch.byteLength;
  }

  /** A snapshot of the eviction / admission / expiry counters. */
  counters(): WTinyLfuCounters {
    return { ...this.counts };
  }

  /** The estimated access frequency the admission contest uses for this key. */
  frequency(key: string): number {
    return this.sketch.frequency(key);
  }

  /** Which segment holds the key's live entry, or undefined. */
  segmentOf(key: string): WTinyLfuSegment | undefined {
    if (this.window.has(key)) return 'window';
    if (this.probation.has(key)) return 'probation';
    if (this.protectedLru.has(key)) return 'protected';
    return undefined;
  }

  /** Reads a live value and records the access (hit or miss) for admission; a probation hit is promoted. */
  get(key: string): V | undefined {
    this.sketch.record(key);
    let value = this.window.get(key, { allowStale: false });
    if (value !== undefined) return value;
    value = this.probation.get(key, { allowStale: false });
    if (value !== undefined) {
      this.move(this.probation, this.protectedLru, key);
      this.shrinkProtected();
      return value;
    }
    return this.protectedLru.get(key, { allowStale: false });
  }

  /** True when a live entry exists; neither an access for admission nor a recency update. */
  has(key: string): boolean {
    return this.segmentOf(key) !== undefined;
  }

  /**
   * Stores or replaces an entry; ttlMs <= 0 or Infinity means no expiry (Ristretto's convention). Returns whether
   * the key is held afterwards: false when it is too large, or when it had to leave the window at once and lost.
   */
  set(key: string, value: V, ttlMs: number): boolean {
    const cost = this.cost(key, value);
    const ttl = ttlMs > 0 && Number.isFinite(ttlMs) ? Math.ceil(ttlMs) : 0;
    const current = this.holderOf(key);
    if (cost > this.mainMax) {
      // The old value must not outlive a write that could not be stored.
      current?.delete(key);
      this.counts.rejections++;
      return false;
    }
    // A replacement keeps the segment the key has earned; a new key starts in the window.
    (current ?? this.window).set(key, value, { ttl });
    this.rebalance();
    this.peakEntries = Math.max(this.peakEntries, this.size);
    return this.holderOf(key) !== undefined;
  }

  /** Removes the key; true when something was removed. */
  delete(key: string): boolean {
    return this.window.delete(key) || this.probation.delete(key) || this.protectedLru.delete(key);
  }

  /** Drops every entry and every recorded frequency. */
  clear(): void {
    this.window.clear();
    this.probation.clear();
    this.protectedLru.clear();
    this.sketch.clear();
    this.peakEntries = 0;
  }

  private get mainBytes(): number {
    return this.probation.calculatedSize + this.protectedLru.calculatedSize;
  }

  /** The segment holding the key, live or expired. */
  private holderOf(key: string): Segment<V> | undefined {
    if (this.window.peek(key, { allowStale: true }) !== undefined) return this.window;
    if (this.probation.peek(key, { allowStale: true }) !== undefined) return this.probation;
    if (this.protectedLru.peek(key, { allowStale: true }) !== undefined) return this.protectedLru;
    return undefined;
  }

  private rebalance(): void {
    while (this.window.calculatedSize > this.windowMax) {
      const key = leastRecent(this.window);
      if (key === undefined) break;
      const value = this.window.peek(key, { allowStale: true }) as V;
      const ttl = remainingTtl(this.window, key);
      this.window.delete(key);
      if (ttl < 0) this.counts.expirations++;
      else this.admit(key, value, ttl);
    }
    this.shrinkProtected();
    // A replacement inside main can grow it past its share: make room from main's cold end, no contest needed.
    while (this.mainBytes > this.mainMax) {
      const from = this.probation.size > 0 ? this.probation : this.protectedLru;
      const key = leastRecent(from);
      if (key === undefined) break;
      this.drop(from, key);
    }
  }

  /** The TinyLFU contest between a window candidate and the victims at main's cold end. */
  private admit(key: string, value: V, ttl: number): void {
    const needed = this.mainBytes + this.cost(key, value) - this.mainMax;
    if (needed > 0) {
      const victims: Array<[Segment<V>, string]> = [];
      let freed = 0;
      let liveVictims = 0;
      let victimFrequency = 0;
      for (const segment of [this.probation, this.protectedLru]) {
        for (const victim of segment.rkeys()) {
          if (freed >= needed) break;
          victims.push([segment, victim]);
          freed += this.cost(victim, segment.peek(victim, { allowStale: true }) as V);
          // An expired victim costs nothing to lose, so it does not raise the bar.
          if (remainingTtl(segment, victim) >= 0) {
            liveVictims++;
            victimFrequency = Math.max(victimFrequency, this.sketch.frequency(victim));
          }
        }
      }
      const candidateFrequency = this.sketch.frequency(key);
      const admitted =
        liveVictims === 0 ||
        candidateFrequency > victimFrequency ||
        (candidateFrequency === victimFrequency && candidateFrequency >= ADMIT_TIE_FREQUENCY) ||
        (candidateFrequency >= ADMIT_WARM_FREQUENCY && this.rng() < ADMIT_WARM_ODDS);
      for (const [segment, victim] of victims) {
        if (admitted || remainingTtl(segment, victim) < 0) this.drop(segment, victim);
      }
      if (!admitted) {
        this.counts.rejections++;
        this.counts.evictions++;
        return;
      }
    }
    this.probation.set(key, value, { ttl });
  }

  /** Keeps protected within its share by demoting its least recent entries to probation. */
  private shrinkProtected(): void {
    while (this.protectedLru.calculatedSize > this.protectedMax) {
      const key = leastRecent(this.protectedLru);
      if (key === undefined) break;
      this.move(this.protectedLru, this.probation, key);
    }
  }

  /** Moves an entry to the most recent end of another segment, keeping its expiry time. */
  private move(from: Segment<V>, to: Segment<V>, key: string): void {
    const ttl = remainingTtl(from, key);
    const value = from.peek(key, { allowStale: true });
    from.delete(key);
    if (ttl < 0) this.counts.expirations++;
    else if (value !== undefined) to.set(key, value, { ttl });
  }

  /** Removes an entry to make room, telling an eviction from an expiry. */
  private drop(from: Segment<V>, key: string): void {
    if (remainingTtl(from, key) < 0) this.counts.expirations++;
    else this.counts.evictions++;
    from.delete(key);
  }
}

function leastRecent<V extends object>(segment: Segment<V>): string | undefined {
  return segment.rkeys().next().value ?? undefined;
}

/** Milliseconds left as an lru-cache ttl: 0 = no expiry, negative = already expired. */
function remainingTtl<V extends object>(segment: Segment<V>, key: string): number {
  const left = segment.getRemainingTTL(key);
  if (left === Infinity) return 0;
  return left < 0 ? -1 : Math.max(1, Math.ceil(left));
}
