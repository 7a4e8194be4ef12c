import { describe, expect, it } from 'vitest';
import { hashKey } from './key-hash';

describe('hashKey', () => {
  it('is deterministic per seed and changes with the seed', () => {
    expect(hashKey('sha256:abc', 42)).toBe(hashKey('sha256:abc', 42));
    expect(hashKey('sha256:abc', 42)).not.toBe(hashKey('sha256:abc', 43));
  });

  it('spreads similar keys evenly over buckets', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const bucket = hashKey(`client-1:request-${i}`, 9) % 16;
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const count of buckets) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });

  it('tells apart keys that differ only in one odd trailing character or in length', () => {
    const hashes = new Set(['a', 'ab', 'abc', 'abd', 'ab\u0000', ''].map((k) => hashKey(k, 0)));
    expect(hashes.size).toBe(6);
  });
});
