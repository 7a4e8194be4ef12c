import type { Clock } from '../common/clock';
import type { CacheConfig } from '../config/relay-config';
import { WTinyLfu } from './admission/w-tiny-lfu';
import {
  CacheClosedError,
  CacheNotFoundError,
  type Cache,
  type CacheStats,
  type Finder,
  type Flusher,
  type MultiGetter,
  type MultiSetter,
  type StatsProvider,
} from './cache';

/**
 * Bytes charged per entry on top of its key and value: what an entry was measured to hold beyond them
 * (bench/cache-memory.ts, 2026-12-03: 311-324 B per entry for 256 B-4 KiB values, Node 20): the Buffer and its
 * ArrayBuffer, the key string's header, lru-cache's slots and links, the Map entry. With it `max_cost` is close to
 * the memory the entries really take (within ~5% for 256 B-16 KiB values; was 128, which let 256 B entries take
 * 1.45x the budget); the sketch's fixed ~1.5 MB for the default num_counters comes on top.
 */
export const ENTRY_OVERHEAD_BYTES = 320;

/** What one entry counts against `ristretto.max_cost`: value bytes + key bytes (UTF-8) + ENTRY_OVERHEAD_BYTES. */
export function entryCost(key: string, value: Buffer): number {
  return value.length + Buffer.byteLength(key, 'utf8') + ENTRY_OVERHEAD_BYTES;
}

/**
 * The `single` backend (spec: Ristretto): an in-process cache bounded in bytes by `ristretto.max_cost`, with
 * W-TinyLFU admission so one-hit wonders and scans do not flush the hot set (see admission/w-tiny-lfu.ts).
 *
 * - An entry larger than the main area (max_cost minus the 1% admission window) is not stored.
 * - A new entry is always readable right after set() while it sits in the admission window; when it leaves the
 *   window it stays only if it is asked for more often than what it would push out (counted as `rejected`).
 * - Accesses reach the frequency sketch through a buffer of `buffer_items` keys; it is drained before every
 *   admission decision, so behaviour is deterministic for a given clock and rng.
 * - TTL: `cache.ttl_ms` for set(), per entry for setWithTTL(); ttlMs <= 0 means no expiry (Ristretto's rule).
 *   An expired entry is a miss.
 * - Values are copied in and out: a caller's Buffer may be reused or mutated after the call.
 */
export class SingleCache implements Cache, Finder, StatsProvider, MultiGetter, MultiSetter, Flusher {
  private readonly store: WTinyLfu<Buffer>;
  private readonly defaultTtlMs: number;
  private closed = false;
  private hits = 0;
  private misses = 0;

  constructor(config: CacheConfig, clock: Clock, rng: () => number = Math.random) {
    const { num_counters, max_cost, buffer_items } = config.ristretto;
    this.defaultTtlMs = config.ttl_ms;
    this.store = new WTinyLfu<Buffer>({
      maxCost: max_cost,
      numCounters: num_counters,
      bufferItems: buffer_items,
      cost: entryCost,
      clock,
      rng,
    });
  }

  async get(key: string): Promise<Buffer> {
    this.assertOpen();
    const value = this.read(key);
    if (value === undefined) throw new CacheNotFoundError();
    return value;
  }

  /** get() without the rejection on a miss, and synchronous. */
  find(key: string): Buffer | undefined {
    this.assertOpen();
    return this.read(key);
  }

  async set(key: string, value: Buffer): Promise<void> {
    this.assertOpen();
    this.write(key, value, this.defaultTtlMs);
  }

  async setWithTTL(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.assertOpen();
    this.write(key, value, ttlMs);
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    this.store.delete(key);
  }

  async exists(key: string): Promise<boolean> {
    this.assertOpen();
    return this.store.has(key);
  }

  async getMulti(keys: string[]): Promise<Map<string, Buffer | undefined>> {
    this.assertOpen();
    const found = new Map<string, Buffer | undefined>();
    for (const key of keys) found.set(key, this.read(key));
    return found;
  }

  async setMultiWithTTL(items: Map<string, Buffer>, ttlMs: number): Promise<void> {
    this.assertOpen();
    for (const [key, value] of items) this.write(key, value, ttlMs);
  }

  async flush(): Promise<void> {
    this.assertOpen();
    this.store.clear();
  }

  async close(): Promise<void> {
    this.assertOpen();
    this.closed = true;
    this.store.clear();
  }

  /**
   * Counters plus `rejected` (admission refusals) and `expired`. key_count and bytes_used count what is held,
   * including expired entries not yet dropped (they go when read, replaced or chosen as victims).
   */
  stats(): CacheStats {
    const { evictions, rejections, expirations } = this.store.counters();
    return {
      hits: this.hits,
      misses: this.misses,
      key_count: this.store.size,
      bytes_used: this.store.bytes,
      evictions,
      rejected: rejections,
      expired: expirations,
    };
  }

  private read(key: string): Buffer | undefined {
    const value = this.store.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return Buffer.from(value);
  }

  private write(key: string, value: Buffer, ttlMs: number): void {
    // An unpooled copy: a pooled one would be a slice that keeps a whole shared 8 KiB slab alive.
    const own = Buffer.allocUnsafeSlow(value.length);
    value.copy(own);
    this.store.set(key, own, ttlMs);
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }
}
