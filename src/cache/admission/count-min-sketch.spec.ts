import { describe, expect, it } from 'vitest';
import { CountMinSketch, SKETCH_MAX_COUNT } from './count-min-sketch';
import { hashKey } from './key-hash';
import { seededRng } from '../../common/rng';

const h = (key: string): [number, number] => [hashKey(key, 1), hashKey(key, 2) | 1];

function bump(sketch: CountMinSketch, key: string, times: number): void {
  for (let i = 0; i < times; i++) sketch.increment(...h(key));
}

describe('CountMinSketch', () => {
  it('holds num_counters 4-bit counters in num_counters / 2 bytes', () => {
    expect(new CountMinSketch(1_000_000).byteLength).toBe(500_000);
    expect(new CountMinSketch(1024).byteLength).toBe(512);
  });

  it('estimates the count of a key seen alone exactly', () => {
    const sketch = new CountMinSketch(1024);
    bump(sketch, 'a', 7);
    expect(sketch.estimate(...h('a'))).toBe(7);
    expect(sketch.estimate(...h('never seen'))).toBe(0);
  });

  it('saturates at 15 instead of wrapping around', () => {
    const sketch = new CountMinSketch(1024);
    bump(sketch, 'hot', 40);
    expect(sketch.estimate(...h('hot'))).toBe(SKETCH_MAX_COUNT);
  });

  it('never under-counts, even when keys collide in a small sketch', () => {
    const rng = seededRng(7);
    const sketch = new CountMinSketch(256);
    const truth = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const key = `k${Math.floor(rng() * 400)}`;
      truth.set(key, (truth.get(key) ?? 0) + 1);
      sketch.increment(...h(key));
    }
    for (const [key, count] of truth) {
      expect(sketch.estimate(...h(key))).toBeGreaterThanOrEqual(Math.min(count, SKETCH_MAX_COUNT));
    }
  });

  it('counts conservatively: keys seen often inflate the rarely seen keys they collide with less', () => {
    const sketch = new CountMinSketch(1024);
    for (let i = 0; i < 50; i++) bump(sketch, `heavy-${i}`, 10);
    let overCount = 0;
    let exact = 0;
    for (let i = 0; i < 400; i++) bump(sketch, `light-${i}`, 1);
    for (let i = 0; i < 400; i++) {
      const estimate = sketch.estimate(...h(`light-${i}`));
      expect(estimate).toBeGreaterThanOrEqual(1);
      overCount += estimate - 1;
      if (estimate === 1) exact++;
    }
    // Raising every row's counter (plain count-min) over-counts these by ~0.7 on average, exact for about half.
    expect(overCount / 400).toBeLessThan(0.45);
    expect(exact).toBeGreaterThan(280);
  });

  it('aging halves every counter, rounding down, without leaking between packed neighbours', () => {
    const sketch = new CountMinSketch(4096);
    const counts = { a: 15, b: 10, c: 7, d: 1 };
    for (const [key, n] of Object.entries(counts)) bump(sketch, key, n);
    sketch.halve();
    expect(sketch.estimate(...h('a'))).toBe(7);
    expect(sketch.estimate(...h('b'))).toBe(5);
    expect(sketch.estimate(...h('c'))).toBe(3);
    expect(sketch.estimate(...h('d'))).toBe(0);
    // If a high nibble's low bit leaked into the low nibble, unseen keys would pick up counts here.
    const rng = seededRng(3);
    for (let i = 0; i < 200; i++) bump(sketch, `fill${Math.floor(rng() * 1e9)}`, 15);
    sketch.halve();
    sketch.halve();
    sketch.halve();
    sketch.halve();
    expect(sketch.estimate(...h('a'))).toBe(0);
    for (let i = 0; i < 100; i++) expect(sketch.estimate(...h(`probe${i}`))).toBe(0);
  });

  it('clear forgets everything', () => {
    const sketch = new CountMinSketch(64);
    bump(sketch, 'a', 5);
    sketch.clear();
    expect(sketch.estimate(...h('a'))).toBe(0);
  });
});
