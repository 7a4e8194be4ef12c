import { describe, expect, it } from 'vitest';
import { describeCacheContract } from '../../test/unit/cache-contract';
import { CacheNotFoundError } from './cache';
import { DisabledCache } from './disabled-cache';

describeCacheContract('DisabledCache', () => new DisabledCache(), { stores: false });

describe('DisabledCache', () => {
  it('keeps nothing and counts every read as a miss', async () => {
    const cache = new DisabledCache();
    await cache.set('k', Buffer.from('v'));
    await cache.setMultiWithTTL(new Map([['m', Buffer.from('v')]]), 1_000);
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheNotFoundError);
    expect((await cache.getMulti(['k', 'm'])).get('m')).toBeUndefined();
    expect(cache.stats()).toEqual({ hits: 0, misses: 3, key_count: 0, bytes_used: 0, evictions: 0 });
  });
});
