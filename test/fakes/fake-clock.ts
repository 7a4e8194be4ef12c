import type { Clock } from '../../src/common/clock';

/** 2026-01-01T00:00:00Z: a realistic start, so code that treats 0 as "unset" still behaves. */
export const FAKE_CLOCK_START = Date.UTC(2026, 0, 1);

/** A manual clock for tests: time moves only when the test says so. */
export class FakeClock implements Clock {
  constructor(private current = FAKE_CLOCK_START) {}

  /** The current fake time in ms. */
  now(): number {
    return this.current;
  }

  /** Moves time forward by ms (never backwards: a monotonic source is what the code expects). */
  advance(ms: number): void {
    if (ms < 0) throw new Error(`FakeClock.advance: negative step ${ms}`);
    this.current += ms;
  }

  /** Jumps to an absolute time in ms. */
  set(ms: number): void {
    this.current = ms;
  }
}
