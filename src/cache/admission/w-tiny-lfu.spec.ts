import { describe, expect, it } from 'vitest';
import type { Clock } from '../../common/clock';
import { WTinyLfu, type WTinyLfuOptions } from './w-tiny-lfu';

class ManualClock implements Clock {
  constructor(private t = 1_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

interface Entry {
  size: number;
}
const entry = (size = 10): Entry => ({ size });

/**
 * 5 entries of cost 10: a window of 1 entry (10), main of 4 (40) split into protected (up to 2) and probation.
 * rng 0.99 never wins the 1-in-128 warm-loser lottery unless a test asks for it.
 */
function smallCache(overrides: Partial<WTinyLfuOptions<Entry>> = {}): WTinyLfu<Entry> {
  return new WTinyLfu<Entry>({
    maxCost: 50,
    numCounters: 4096,
    bufferItems: 4,
    windowRatio: 0.2,
    protectedRatio: 0.5,
    cost: (_key, value) => value.size,
    clock: new ManualClock(),
    rng: () => 0.99,
    ...overrides,
  });
}

/** What the relay does on each request: look up, and on a miss store. */
function request(cache: WTinyLfu<Entry>, key: string, times = 1): void {
  for (let i = 0; i < times; i++) if (cache.get(key) === undefined) cache.set(key, entry(), 0);
}

/** A full main area: a, b, c, d requested `times` each (so they are known to TinyLFU), e in the window. */
function filled(cache: WTinyLfu<Entry>, times: number): WTinyLfu<Entry> {
  for (const key of ['a', 'b', 'c', 'd', 'e']) request(cache, key);
  for (const key of ['a', 'b', 'c', 'd']) request(cache, key, times - 1);
  return cache;
}

describe('WTinyLfu', () => {
  it('puts a new entry in the window, moves it to probation when pushed out, to protected when hit there', () => {
    const cache = smallCache();
    cache.set('a', entry(), 0);
    expect(cache.segmentOf('a')).toBe('window');
    cache.set('b', entry(), 0);
    expect(cache.segmentOf('a')).toBe('probation');
    expect(cache.get('a')).toEqual(entry());
    expect(cache.segmentOf('a')).toBe('protected');
  });

  it('refuses a candidate asked for less often than the victim, and keeps the victim', () => {
    const cache = filled(smallCache(), 3);
    expect(cache.bytes).toBe(50);
    request(cache, 'x'); // pushes e (asked for once) out of the window against a victim asked for 3 times
    expect(cache.has('e')).toBe(false);
    expect(['a', 'b', 'c', 'd'].every((k) => cache.has(k))).toBe(true);
    expect(cache.counters()).toEqual({ evictions: 1, rejections: 1, expirations: 0 });
  });

  it('admits a candidate asked for more often than the victim, evicting the victim', () => {
    const cache = filled(smallCache(), 2);
    for (let i = 0; i < 5; i++) cache.get('z'); // misses count too: z is in demand before it is stored
    cache.set('z', entry(), 0); // (pushes e out of the window; e loses)
    const before = cache.counters();
    request(cache, 'y'); // pushes z out of the window: 5 requests against 2
    expect(cache.segmentOf('z')).toBe('probation');
    expect(cache.counters().evictions - before.evictions).toBe(1);
    expect(cache.counters().rejections - before.rejections).toBe(0);
    expect(['a', 'b', 'c', 'd'].filter((k) => cache.has(k))).toHaveLength(3);
  });

  it('breaks a tie in favour of the newer candidate once both were asked for at least twice', () => {
    const cache = filled(smallCache(), 2);
    cache.get('z');
    cache.get('z');
    cache.set('z', entry(), 0); // (pushes e, asked for once, out of the window: it loses)
    request(cache, 'y'); // pushes z out of the window: 2 requests against 2
    expect(cache.segmentOf('z')).toBe('probation');
    expect(['a', 'b', 'c', 'd'].filter((k) => cache.has(k))).toHaveLength(3);

    const once = filled(smallCache(), 1);
    request(once, 'x'); // pushes e out of the window: 1 request against 1 is no reason to churn
    expect(once.has('e')).toBe(false);
    expect(['a', 'b', 'c', 'd'].every((k) => once.has(k))).toBe(true);
  });

  it('a one-off scan does not displace entries that are used repeatedly', () => {
    const cache = filled(smallCache(), 3);
    for (let i = 0; i < 1000; i++) request(cache, `scan-${i}`);
    expect(['a', 'b', 'c', 'd'].every((k) => cache.has(k))).toBe(true);
    expect(cache.counters().rejections).toBeGreaterThanOrEqual(999);
  });

  it('lets a warm loser in once in a while, so hot-looking victims cannot lock admission', () => {
    const locked = filled(smallCache(), 12);
    const lottery = filled(smallCache({ rng: () => 0 }), 12);
    for (const cache of [locked, lottery]) {
      for (let i = 0; i < 6; i++) cache.get('warm');
      cache.set('warm', entry(), 0);
      request(cache, 'next');
    }
    expect(locked.has('warm')).toBe(false);
    expect(lottery.has('warm')).toBe(true);
  });

  it('weighs one large candidate against every victim it needs room from', () => {
    const cache = filled(smallCache(), 2);
    for (let i = 0; i < 4; i++) cache.get('big');
    cache.set('big', entry(30), 0); // window overflows at once: big needs 3 victims' room
    expect(cache.segmentOf('big')).toBe('probation');
    expect(cache.bytes).toBeLessThanOrEqual(50);
    const refused = filled(smallCache(), 2);
    refused.set('big', entry(30), 0); // never asked for: refused, and no victim is lost for it
    expect(refused.has('big')).toBe(false);
    expect(['a', 'b', 'c', 'd'].every((k) => refused.has(k))).toBe(true);
  });

  it('refuses an entry larger than the main area and drops the older value of that key', () => {
    const cache = smallCache();
    cache.set('k', entry(), 0);
    expect(cache.set('k', entry(41), 0)).toBe(false);
    expect(cache.has('k')).toBe(false);
    expect(cache.maxEntryCost).toBe(40);
    expect(cache.counters().rejections).toBe(1);
  });

  it('a replacement keeps the segment the key earned and stays within budget when it grows', () => {
    const cache = filled(smallCache(), 2);
    request(cache, 'a'); // probation hit: a is protected now
    expect(cache.segmentOf('a')).toBe('protected');
    cache.set('a', entry(15), 0);
    expect(cache.segmentOf('a')).toBe('protected');
    expect(cache.get('a')).toEqual(entry(15));
    expect(cache.bytes).toBeLessThanOrEqual(50);
  });

  it('an expired entry is a miss, and keeps its expiry time when it moves between segments', () => {
    const clock = new ManualClock();
    const cache = smallCache({ clock });
    cache.set('a', entry(), 100);
    cache.set('b', entry(), 0); // a moves to probation
    clock.advance(50);
    expect(cache.get('a')).toBeDefined(); // promoted to protected with 50 ms left
    expect(cache.segmentOf('a')).toBe('protected');
    clock.advance(50);
    expect(cache.get('a')).toBeDefined(); // exactly at the TTL: still valid
    clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.has('a')).toBe(false);
    expect(cache.counters().expirations).toBe(1);
  });

  it('expired victims make room for free: no contest, counted as expired, not evicted', () => {
    const clock = new ManualClock();
    const cache = smallCache({ clock });
    for (const key of ['a', 'b', 'c', 'd']) {
      cache.get(key);
      cache.get(key);
      cache.set(key, entry(), 10);
    }
    cache.set('e', entry(), 0);
    clock.advance(11);
    cache.set('f', entry(), 0); // e (asked for never) faces only expired victims
    expect(cache.segmentOf('e')).toBe('probation');
    expect(cache.counters()).toEqual({ evictions: 0, rejections: 0, expirations: 1 });
  });

  it('delete and clear remove entries and free their bytes', () => {
    const cache = filled(smallCache(), 2);
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    expect(cache.bytes).toBe(40);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
    expect(cache.frequency('b')).toBe(0);
  });

  it('ages its sketch after 10 requests per entry it has held, not after num_counters requests', () => {
    const sized = (maxCost: number) =>
      smallCache({ maxCost, numCounters: 1_000_000, cost: () => 1, windowRatio: 0.01 });
    const big = sized(300);
    for (let i = 0; i < 300; i++) big.set(`k${i}`, entry(), 0); // peak: 300 entries -> period 3,000
    const small = sized(10); // peak: 0 entries -> the floor, 1,000
    for (const cache of [big, small]) for (let i = 0; i < 9; i++) cache.get('hot');
    for (let i = 0; i < 990; i++) {
      big.get(`other${i}`);
      small.get(`other${i}`);
    }
    expect(small.frequency('hot')).toBe(9); // 999 requests: not yet
    small.get('one-more');
    expect(small.frequency('hot')).toBe(4); // halved (8 in the sketch) and out of the cleared doorkeeper
    for (let i = 0; i < 2000; i++) big.get(`more${i}`);
    expect(big.frequency('hot')).toBe(9); // 2,999 requests
    big.get('one-more');
    expect(big.frequency('hot')).toBe(4);
  });
});
