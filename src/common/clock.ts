/** A source of time, injected into pure logic so tests can drive it by hand. */
export interface Clock {
  /** Milliseconds, monotonic enough for timers and windows (Date.now() in production). */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };
