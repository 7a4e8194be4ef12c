/** A source of time, injected into pure logic so tests can drive it by hand. */
export interface Clock {
  /** Milliseconds, monotonic enough for timers and windows (Date.now() in production). */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** The Nest injection token of the relay's {@link Clock} (the system clock unless a test hands its own). */
export const CLOCK = Symbol('Clock');
