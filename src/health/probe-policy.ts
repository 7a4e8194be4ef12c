import type { ProviderConfig } from '../config/relay-config';
import { classifyOutcome } from '../protocol/outcome';
import type { BreakerSnapshot } from './circuit-breaker';

/** Share of the interval a run may start early; jitter keeps replicas from probing a provider in lockstep. */
export const PROBE_JITTER_RATIO = 0.1;

/** What came back from a probe: an HTTP status, or a transport error (refused, reset, timeout, TLS). */
export type ProbeOutcome = { status: number } | { error: string };

/**
 * Providers the health job should probe now: enabled ones whose circuit is OPEN and still waiting. HALF_OPEN and
 * CLOSED circuits are tested by real traffic already; a forced-open circuit is an operator's drill and stays open
 * for the duration they chose.
 */
export function selectProvidersToProbe(
  providers: readonly ProviderConfig[],
  breakerOf: (name: string) => BreakerSnapshot | undefined,
): ProviderConfig[] {
  return providers.filter((p) => {
    if (!p.enabled) return false;
    const snapshot = breakerOf(p.name);
    return snapshot?.state === 'open' && !snapshot.forced;
  });
}

/**
 * A probe shows the host is up when its answer is one real traffic would not hold against the breaker
 * (classifyOutcome, the one classification): a 2xx, or a 4xx other than 429, since a 401 or 404 still proves the
 * host serves (the breaker only cares about availability) and a provider without `GET /v1/models` answers 404 or
 * 405 there. 429, 5xx and 1xx/3xx are failures: a base URL that redirects fails every messages call, so a
 * redirect must not move its circuit to HALF_OPEN only for the next request to open it again.
 */
export function isProbeSuccess(outcome: ProbeOutcome): boolean {
  if (!('status' in outcome)) return false;
  // relayKey: the probe sends the provider's own key, so a 401 is that key's fault, not the host's.
  return !classifyOutcome({ status: outcome.status, relayKey: true }).breakerFailure;
}

/**
 * Delay before the next run: the interval minus up to PROBE_JITTER_RATIO of it, counted from the start of the run
 * that just ended (`elapsedMs` ago), so runs start every interval as the spec says however long a probe of a
 * blackholed provider waits for its timeout; a run that took longer than that is followed at once (runs never
 * overlap). Jitter only shortens the wait so that a recovered provider is still noticed within one interval.
 * `random` returns a number in [0, 1).
 */
export function nextProbeDelayMs(intervalMs: number, random: () => number, elapsedMs = 0): number {
  return Math.max(0, Math.round(intervalMs * (1 - PROBE_JITTER_RATIO * random())) - Math.max(0, elapsedMs));
}
