/** A source of uniform randomness in [0, 1), injected into pure logic so tests can pin it down. */
export type Rng = () => number;

/** The real randomness. */
export const mathRandom: Rng = () => Math.random();

/** The Nest injection token of the relay's {@link Rng} (Math.random unless a test hands its own). */
export const RNG = Symbol('Rng');

/**
 * A small deterministic generator (mulberry32): the same seed gives the same sequence, so distribution tests and
 * reproductions of a routing decision do not depend on luck.
 */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
