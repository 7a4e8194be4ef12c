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

/**
 * Real time that a test can move forward: `now()` is Date.now() plus every `advance()` so far. For a whole relay
 * under test (createApp's `time.clock`): requests, timers and timeouts run as they do in production, while a key
 * cooldown, an open circuit or a grace period is skipped instead of waited out.
 */
export class JumpClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  /** Moves time forward by ms. */
  advance(ms: number): void {
    if (ms < 0) throw new Error(`JumpClock.advance: negative step ${ms}`);
    this.offset += ms;
  }
}
