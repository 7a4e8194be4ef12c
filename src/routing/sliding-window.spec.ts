import { describe, expect, it } from 'vitest';
import { SlidingWindow } from './sliding-window';

describe('SlidingWindow', () => {
  it('counts entries while they are inside the window and drops them exactly at its end', () => {
    const w = new SlidingWindow(1000);
    w.add(0);
    w.add(400, 2);
    expect(w.total(999)).toBe(3);
    expect(w.total(1000)).toBe(2);
    expect(w.total(1399)).toBe(2);
    expect(w.total(1400)).toBe(0);
  });

  it('merges entries added at the same instant', () => {
    const w = new SlidingWindow(1000);
    w.add(5, 10);
    w.add(5, 20);
    expect(w.total(5)).toBe(30);
    expect(w.msUntilFits(5, 10, 1)).toBe(1000);
  });

  it('says when enough room frees up by expiry alone', () => {
    const w = new SlidingWindow(60_000);
    w.add(0, 50);
    w.add(10_000, 30);
    w.add(20_000, 20);
    // limit 100, 100 used: one more needs the first entry gone (at 60 s).
    expect(w.msUntilFits(30_000, 100, 1)).toBe(30_000);
    // 60 more need the first two gone (at 70 s).
    expect(w.msUntilFits(30_000, 100, 60)).toBe(40_000);
    expect(w.msUntilFits(30_000, 200, 1)).toBe(0);
    expect(w.msUntilFits(30_000, 100, 101)).toBe(Infinity);
  });

  it('stays correct across many entries (compaction keeps the sum)', () => {
    const w = new SlidingWindow(100);
    for (let t = 0; t < 5000; t++) w.add(t);
    expect(w.total(4999)).toBe(100);
    expect(w.total(5098)).toBe(1);
    expect(w.total(5099)).toBe(0);
  });

  it('matches a plain recomputation while its ring wraps and grows under an uneven load', () => {
    const w = new SlidingWindow(50);
    const entries: Array<[number, number]> = [];
    let t = 0;
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let step = 0; step < 20_000; step++) {
      // Bursts of many distinct instants (the ring grows), then quiet stretches (it wraps and empties).
      t += step % 3000 < 1500 ? (next() < 0.5 ? 0 : 1) : Math.floor(next() * 40);
      const amount = 1 + Math.floor(next() * 5);
      w.add(t, amount);
      entries.push([t, amount]);
      if (step % 97 === 0) {
        const expected = entries.filter(([at]) => at + 50 > t).reduce((sum, [, a]) => sum + a, 0);
        expect(w.total(t)).toBe(expected);
        const firstInside = entries.find(([at]) => at + 50 > t);
        if (firstInside && expected >= 10) {
          expect(w.msUntilFits(t, expected, 1)).toBe(firstInside[0] + 50 - t);
        }
      }
    }
  });
});
