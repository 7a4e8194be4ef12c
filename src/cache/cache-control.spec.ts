import { describe, expect, it } from 'vitest';
import { parseCacheControl } from './cache-control';

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
