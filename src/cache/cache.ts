/**
 * The cache contract shared by every backend (single, ha, disabled), after ../shared/spec/caching.md:
 * get / set / setWithTTL / delete / exists / close, plus the optional stats, ping and batch interfaces.
 * Values are opaque bytes; what they mean is the cache interceptor's business.
 */

/** `get` of a key that is not there (spec: ErrNotFound). */
export class CacheNotFoundError extends Error {
  constructor() {
    // A miss is the normal path of every uncached request, not a fault: capturing a stack trace for it was
    // measured as most of a miss's cost, and nobody reads it.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super('cache: key not found');
    Error.stackTraceLimit = limit;
    this.name = 'CacheNotFoundError';
  }
}

/** Any operation on a cache after close() (spec: ErrClosed). */
export class CacheClosedError extends Error {
  constructor() {
    super('cache: closed');
    this.name = 'CacheClosedError';
  }
}

/** Counters every backend keeps (spec: Hits, Misses, KeyCount, BytesUsed, Evictions). */
export interface CacheStats {
  hits: number;
  misses: number;
  key_count: number;
  bytes_used: number;
  evictions: number;
  /** Backend-specific extras (rejected admissions, dropped writes, timeouts, errors...). */
  [extra: string]: number;
}

export interface Cache {
  /** Resolves the value, rejects with CacheNotFoundError on a miss, CacheClosedError after close(). */
  get(key: string): Promise<Buffer>;
  /** Stores with the backend's default TTL. */
  set(key: string, value: Buffer): Promise<void>;
  setWithTTL(key: string, value: Buffer, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Optional: counters (spec: StatsProvider). */
export interface StatsProvider {
  stats(): CacheStats;
}

/** Optional: connectivity check (spec: Pinger). */
export interface Pinger {
  ping(): Promise<void>;
}

/** Optional: batch reads; a missing key maps to undefined (spec: MultiGetter). */
export interface MultiGetter {
  getMulti(keys: string[]): Promise<Map<string, Buffer | undefined>>;
}

/** Optional: batch writes with one TTL (spec: MultiSetter). */
export interface MultiSetter {
  setMultiWithTTL(items: Map<string, Buffer>, ttlMs: number): Promise<void>;
}

/**
 * Optional: a read that answers a miss with undefined instead of a rejection, so the request path builds no error
 * per miss; a backend that holds its entries in process answers synchronously (no promise, no event-loop hop).
 * Same counting and errors as get() otherwise (CacheClosedError after close()).
 */
export interface Finder {
  find(key: string): Buffer | undefined | Promise<Buffer | undefined>;
}

/**
 * Optional: a write that says whether it reached the backend. A backend that fails open resolves set() whatever
 * happened to the write; this is how the response cache still counts `stored` and `write_errors` as they went.
 * A failure is already counted and logged (rate-limited) by the backend; only CacheClosedError rejects.
 */
export interface ReportingWriter {
  trySetWithTTL(key: string, value: Buffer, ttlMs: number): Promise<boolean>;
}

/** Optional: drop everything this cache holds (admin `DELETE /admin/cache`). */
export interface Flusher {
  flush(): Promise<void>;
}

export function isStatsProvider(c: Cache): c is Cache & StatsProvider {
  return typeof (c as Partial<StatsProvider>).stats === 'function';
}
export function isPinger(c: Cache): c is Cache & Pinger {
  return typeof (c as Partial<Pinger>).ping === 'function';
}
export function isMultiGetter(c: Cache): c is Cache & MultiGetter {
  return typeof (c as Partial<MultiGetter>).getMulti === 'function';
}
export function isMultiSetter(c: Cache): c is Cache & MultiSetter {
  return typeof (c as Partial<MultiSetter>).setMultiWithTTL === 'function';
}
export function isFinder(c: Cache): c is Cache & Finder {
  return typeof (c as Partial<Finder>).find === 'function';
}
export function isReportingWriter(c: Cache): c is Cache & ReportingWriter {
  return typeof (c as Partial<ReportingWriter>).trySetWithTTL === 'function';
}
export function isFlusher(c: Cache): c is Cache & Flusher {
  return typeof (c as Partial<Flusher>).flush === 'function';
}
