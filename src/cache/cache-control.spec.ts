import { describe, expect, it } from 'vitest';
import { parseCacheControl, requestTtlMs } from './cache-control';

describe('parseCacheControl', () => {
  it('reads no-cache, no-store and max-age in any case and order', () => {
    expect(parseCacheControl('No-Store, max-age="30" , no-cache')).toEqual({
      noCache: true,
      noStore: true,
      maxAgeMs: 30_000,
    });
    expect(parseCacheControl(['max-age=1.5'])).toEqual({ noCache: false, noStore: false, maxAgeMs: 1500 });
  });

  it('ignores what it does not know and bad numbers', () => {
    expect(parseCacheControl('private, max-age=-1, max-age=abc')).toEqual({ noCache: false, noStore: false });
    expect(parseCacheControl(undefined)).toEqual({ noCache: false, noStore: false });
  });
});

describe('requestTtlMs', () => {
  it('is cache.ttl_ms unless the request asks for a shorter time in whole seconds', () => {
    expect(requestTtlMs(undefined, 3_600_000)).toEqual({ ttlMs: 3_600_000 });
    expect(requestTtlMs(' 60 ', 3_600_000)).toEqual({ ttlMs: 60_000 });
    // Longer than the operator allows: capped.
    expect(requestTtlMs('86400', 3_600_000)).toEqual({ ttlMs: 3_600_000 });
  });

  it('names the header and the bad value instead of ignoring it', () => {
    for (const bad of ['0', '-5', '1.5', '10s', '', 'abc']) {
      const out = requestTtlMs(bad, 3_600_000);
      expect(out).toHaveProperty('error');
      expect((out as { error: string }).error).toContain('x-cc-relay-cache-ttl');
    }
  });
});
