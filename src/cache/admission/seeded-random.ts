/**
 * A small deterministic PRNG (mulberry32) returning floats in [0, 1). The admission code takes randomness as an
 * argument; tests and benchmarks pass this so every run makes the same decisions.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
