import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff';
import { seededRng } from '../common/rng';

describe('backoffDelayMs', () => {
  it('spans [0, base * 2^n] from the lowest to the highest random draw', () => {
    expect(backoffDelayMs(0, 250, 4000, () => 0)).toBe(0);
    expect(backoffDelayMs(0, 250, 4000, () => 0.999999)).toBe(250);
    expect(backoffDelayMs(1, 250, 4000, () => 0.999999)).toBe(500);
    expect(backoffDelayMs(3, 250, 4000, () => 0.999999)).toBe(2000);
  });

  it('never exceeds the cap, however many retries came before', () => {
    expect(backoffDelayMs(4, 250, 4000, () => 0.999999)).toBe(4000);
    expect(backoffDelayMs(60, 250, 4000, () => 0.999999)).toBe(4000);
    expect(backoffDelayMs(5000, 250, 4000, () => 0.999999)).toBe(4000);
  });

  it('is fully jittered: draws cover the whole range, not a band near the ceiling', () => {
    const rng = seededRng(7);
    const draws = Array.from({ length: 2000 }, () => backoffDelayMs(2, 250, 4000, rng));
    expect(Math.min(...draws)).toBeLessThan(50);
    expect(Math.max(...draws)).toBeGreaterThan(950);
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(mean).toBeGreaterThan(450);
    expect(mean).toBeLessThan(550);
  });

  it('gives 0 when the base is 0 (backoff turned off)', () => {
    expect(backoffDelayMs(3, 0, 4000, () => 0.9)).toBe(0);
  });
});
