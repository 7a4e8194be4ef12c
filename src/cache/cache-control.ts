/** What a request asks of the response cache through its `Cache-Control` header. */
export interface CacheDirectives {
  /** `no-cache`: do not answer from the cache; fetch anew and refresh the entry. */
  noCache: boolean;
  /** `no-store`: never write this answer. */
  noStore: boolean;
  /**
   * `max-age=N`: accept only entries younger than N seconds. It says nothing of how long the fresh answer is kept
   * (that is `cache.ttl_ms`, or the request's `x-cc-relay-cache-ttl`), so one impatient client cannot shorten
   * an entry for everyone who shares it.
   */
  maxAgeMs?: number;
}

/** Parses the request's Cache-Control directives the relay honours (case-insensitive, unknown ones ignored). */
export function parseCacheControl(header: string | string[] | undefined): CacheDirectives {
  const out: CacheDirectives = { noCache: false, noStore: false };
  if (header === undefined) return out;
  const text = Array.isArray(header) ? header.join(',') : header;
  for (const part of text.split(',')) {
    const [rawName, rawValue] = part.split('=', 2);
    const name = rawName?.trim().toLowerCase();
    if (name === 'no-cache') out.noCache = true;
    else if (name === 'no-store') out.noStore = true;
    else if (name === 'max-age' && rawValue !== undefined) {
      const seconds = Number(rawValue.trim().replace(/^"|"$/g, ''));
      if (Number.isFinite(seconds) && seconds >= 0) out.maxAgeMs = Math.floor(seconds * 1000);
    }
  }
  return out;
}

/** The request header that sets how long this request's answer is kept, in seconds (at most `cache.ttl_ms`). */
export const CACHE_TTL_HEADER = 'x-cc-relay-cache-ttl';

/**
 * The TTL of the answer a request stores: `cache.ttl_ms`, or the request's `x-cc-relay-cache-ttl` (whole seconds,
 * at least 1) when it asks for less. Anything else in the header is an error (a typo must not silently do nothing),
 * returned as its message.
 */
export function requestTtlMs(
  header: string | string[] | undefined,
  configuredTtlMs: number,
): { ttlMs: number } | { error: string } {
  if (header === undefined) return { ttlMs: configuredTtlMs };
  const text = (Array.isArray(header) ? header.join(',') : header).trim();
  if (!/^\d{1,12}$/.test(text) || Number(text) < 1) {
    return {
      error: `${CACHE_TTL_HEADER} must be a whole number of seconds (at least 1), got ${JSON.stringify(text.slice(0, 40))}`,
    };
  }
  return { ttlMs: Math.min(Number(text) * 1000, configuredTtlMs) };
}
