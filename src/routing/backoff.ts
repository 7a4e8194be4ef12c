import type { Rng } from '../common/rng';

/**
 * Exponential backoff with full jitter: uniform in [0, min(maxMs, baseMs * 2^retryIndex)]. Full jitter spreads the
 * retries of many requests that failed together, so a recovering upstream is not hit by synchronised waves.
 */
export function backoffDelayMs(retryIndex: number, baseMs: number, maxMs: number, rng: Rng): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retryIndex));
  return Math.floor(rng() * (ceiling + 1));
}
