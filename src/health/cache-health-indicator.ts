/**
 * Injection token for the cache backend's health check. Optional: the health module reports the cache on
 * GET /health only when some module provides this token (globally, or exported to HealthModule).
 */
export const CACHE_HEALTH_INDICATOR = Symbol('CACHE_HEALTH_INDICATOR');

/** What GET /health needs from the cache backend. */
export interface CacheHealthIndicatorLike {
  /** Should bound its own time; GET /health also gives up after a short while and reports the cache down. */
  check(): Promise<{ status: 'up' | 'down'; detail?: object }>;
}
