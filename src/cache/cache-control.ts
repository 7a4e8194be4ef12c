/** What a request asks of the response cache through its `Cache-Control` header. */
export interface CacheDirectives {
  /** `no-cache`: do not answer from the cache; fetch anew and refresh the entry. */
  noCache: boolean;
  /** `no-store`: never write this answer. */
  noStore: boolean;
  /** `max-age=N`: accept only entries younger than N seconds, and store the fresh answer for N seconds. */
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
