import 'reflect-metadata';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { describeCacheContract } from '../../test/unit/cache-contract';
import { systemClock, type Clock } from '../common/clock';
import { CacheConfig } from '../config/relay-config';
import { seededRng } from '../common/rng';
import { CacheNotFoundError } from './cache';
import { ENTRY_OVERHEAD_BYTES, SingleCache, entryCost } from './single-cache';

class ManualClock implements Clock {
  constructor(private t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

function config(maxCost = 104_857_600, ttlMs = 3_600_000, numCounters = 1_000_000): CacheConfig {
  const c = new CacheConfig();
  c.ttl_ms = ttlMs;
  c.ristretto.max_cost = maxCost;
  c.ristretto.num_counters = numCounters;
  return c;
}

/** The relay's use of a cache: look up, and on a miss store. Returns whether it was a hit. */
async function request(cache: SingleCache, key: string, value: Buffer): Promise<boolean> {
  const found = (await cache.getMulti([key])).get(key);
  if (found !== undefined) return true;
  await cache.set(key, value);
  return false;
}

describeCacheContract('SingleCache', () => new SingleCache(config(), systemClock), { stores: true });

describe('SingleCache', () => {
  it('charges value bytes + key bytes + a fixed overhead per entry', async () => {
    const cache = new SingleCache(config(), new ManualClock());
    await cache.set('ключ', Buffer.alloc(100));
    expect(entryCost('ключ', Buffer.alloc(100))).toBe(100 + 8 + ENTRY_OVERHEAD_BYTES);
    expect(cache.stats()).toMatchObject({ key_count: 1, bytes_used: 100 + 8 + ENTRY_OVERHEAD_BYTES });
  });

  it('never holds more than max_cost bytes under a random workload, and never serves a wrong value', async () => {
    const rng = seededRng(12345);
    const clock = new ManualClock();
    const maxCost = 20_000;
    const cache = new SingleCache(config(maxCost, 500, 2_000), clock, seededRng(1));
    const written = new Map<string, Buffer>();
    for (let op = 0; op < 5_000; op++) {
      const key = `key-${Math.floor(rng() * rng() * 300)}`; // skewed towards small ids
      const dice = rng();
      if (dice < 0.5) {
        const value = written.get(key);
        const got = (await cache.getMulti([key])).get(key);
        if (got !== undefined) expect(value !== undefined && got.equals(value)).toBe(true);
      } else if (dice < 0.9) {
        // Mostly small values, now and then one that is a large share of the budget, rarely one that is too big.
        const size = rng() < 0.9 ? Math.floor(rng() * 400) : Math.floor(rng() * maxCost * 1.2);
        const value = Buffer.alloc(size, op % 256);
        if (rng() < 0.5) await cache.set(key, value);
        else await cache.setWithTTL(key, value, Math.floor(rng() * 1000));
        written.set(key, value);
      } else if (dice < 0.95) {
        await cache.delete(key);
        written.delete(key);
      } else {
        clock.advance(Math.floor(rng() * 200));
      }
      expect(cache.stats().bytes_used).toBeLessThanOrEqual(maxCost);
      // Independent of the cache's own accounting: what it answers for must fit in the budget too.
      if (op % 250 === 0) {
        let live = 0;
        for (const [k, v] of written) if (await cache.exists(k)) live += entryCost(k, v);
        expect(live).toBeLessThanOrEqual(maxCost);
      }
    }
    const stats = cache.stats();
    expect(stats.evictions).toBeGreaterThan(0);
    expect(stats.rejected).toBeGreaterThan(0);
  });

  it('keeps the hot set through scans where plain LRU of the same byte budget loses it', async () => {
    const value = Buffer.alloc(200);
    const entries = 200;
    const maxCost = entries * entryCost('hot-000', value);
    const tiny = new SingleCache(config(maxCost, 3_600_000, entries * 10), new ManualClock(), seededRng(7));
    const lru = new LRUCache<string, Buffer>({
      maxSize: maxCost,
      sizeCalculation: (v, k) => entryCost(k, v),
    });
    const lruRequest = (key: string): boolean => {
      if (lru.get(key) !== undefined) return true;
      lru.set(key, value);
      return false;
    };
    const rng = seededRng(99);
    const hits = { tiny: 0, lru: 0, requests: 0 };
    let scanKey = 0;
    let hotRightAfterScan = { tiny: 0, lru: 0 };
    for (let cycle = 0; cycle < 20; cycle++) {
      // Skewed traffic: 80% on 100 hot keys, 20% on a large cold keyspace.
      for (let i = 0; i < 500; i++) {
        const key =
          rng() < 0.8
            ? `hot-${String(Math.floor(rng() * 100)).padStart(3, '0')}`
            : `cold-${Math.floor(rng() * 100_000)}`;
        hits.requests++;
        if (await request(tiny, key, value)) hits.tiny++;
        if (lruRequest(key)) hits.lru++;
      }
      // A scan of 1000 keys never asked for again: five times the cache.
      for (let i = 0; i < 1000; i++) {
        const key = `scan-${scanKey++}`;
        await request(tiny, key, value);
        lruRequest(key);
      }
      hotRightAfterScan = { tiny: 0, lru: 0 };
      for (let h = 0; h < 100; h++) {
        const key = `hot-${String(h).padStart(3, '0')}`;
        if (await tiny.exists(key)) hotRightAfterScan.tiny++;
        if (lru.has(key)) hotRightAfterScan.lru++;
      }
    }
    const tinyRatio = hits.tiny / hits.requests;
    const lruRatio = hits.lru / hits.requests;
    expect(hotRightAfterScan.lru).toBe(0);
    expect(hotRightAfterScan.tiny).toBeGreaterThanOrEqual(90);
    expect(tinyRatio - lruRatio).toBeGreaterThanOrEqual(0.12);
    expect(tiny.stats().bytes_used).toBeLessThanOrEqual(maxCost);
    expect(tiny.stats().rejected).toBeGreaterThan(15_000);
  });

  it('does not store an entry larger than max_cost, and drops the older value of that key', async () => {
    const cache = new SingleCache(config(10_000), new ManualClock());
    await cache.set('k', Buffer.from('small'));
    await cache.set('k', Buffer.alloc(10_000));
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheNotFoundError);
    expect(cache.stats()).toMatchObject({ key_count: 0, bytes_used: 0, rejected: 1 });
  });

  describe('TTL (manual clock)', () => {
    it('set() uses cache.ttl_ms: valid up to the TTL, a miss after it', async () => {
      const clock = new ManualClock();
      const cache = new SingleCache(config(undefined, 1_000), clock);
      await cache.set('k', Buffer.from('v'));
      clock.advance(1_000);
      expect((await cache.get('k')).toString()).toBe('v');
      clock.advance(1);
      await expect(cache.get('k')).rejects.toBeInstanceOf(CacheNotFoundError);
      expect(await cache.exists('k')).toBe(false);
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, expired: 1, key_count: 0 });
    });

    it('setWithTTL overrides the default per entry; ttl <= 0 means no expiry', async () => {
      const clock = new ManualClock();
      const cache = new SingleCache(config(undefined, 1_000), clock);
      await cache.setWithTTL('short', Buffer.from('s'), 10);
      await cache.setWithTTL('long', Buffer.from('l'), 5_000);
      await cache.setWithTTL('forever', Buffer.from('f'), 0);
      clock.advance(11);
      expect(await cache.exists('short')).toBe(false);
      clock.advance(4_000);
      expect(await cache.exists('long')).toBe(true);
      clock.advance(1_000_000_000);
      expect(await cache.exists('long')).toBe(false);
      expect((await cache.get('forever')).toString()).toBe('f');
    });

    it('an overwrite starts a new TTL', async () => {
      const clock = new ManualClock();
      const cache = new SingleCache(config(undefined, 1_000), clock);
      await cache.set('k', Buffer.from('old'));
      clock.advance(900);
      await cache.set('k', Buffer.from('new'));
      clock.advance(900);
      expect((await cache.get('k')).toString()).toBe('new');
    });

    it('works with a clock that starts at zero', async () => {
      const clock = new ManualClock(0);
      const cache = new SingleCache(config(undefined, 100), clock);
      await cache.set('k', Buffer.from('v'));
      clock.advance(101);
      expect(await cache.exists('k')).toBe(false);
    });
  });

  it('counts hits and misses per key in getMulti, and keeps counters across flush', async () => {
    const cache = new SingleCache(config(), new ManualClock());
    await cache.setMultiWithTTL(new Map([['a', Buffer.from('A')]]), 1_000);
    const found = await cache.getMulti(['a', 'b', 'c']);
    expect(found.get('a')?.toString()).toBe('A');
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, key_count: 1 });
    await cache.flush();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, key_count: 0, bytes_used: 0, evictions: 0 });
  });
});
