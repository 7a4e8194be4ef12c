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

/**
 * The optional capabilities a backend may add to the {@link Cache} contract, in one place: the spec's
 * StatsProvider, Pinger, MultiGetter and MultiSetter, and the relay's own find / trySetWithTTL / flush. Ask for one
 * with {@link can}.
 */
export interface CacheCapabilities {
  /** Counters (spec: StatsProvider). */
  stats(): CacheStats;
  /** Connectivity check (spec: Pinger). */
  ping(): Promise<void>;
  /** Batch reads; a missing key maps to undefined (spec: MultiGetter). */
  getMulti(keys: string[]): Promise<Map<string, Buffer | undefined>>;
  /** Batch writes with one TTL (spec: MultiSetter). */
  setMultiWithTTL(items: Map<string, Buffer>, ttlMs: number): Promise<void>;
  /**
   * A read that answers a miss with undefined instead of a rejection, so the request path builds no error per
   * miss; a backend that holds its entries in process answers synchronously (no promise, no event-loop hop). Same
   * counting and errors as get() otherwise (CacheClosedError after close()).
   */
  find(key: string): Buffer | undefined | Promise<Buffer | undefined>;
  /**
   * A write that says whether it reached the backend. A backend that fails open resolves set() whatever happened
   * to the write; this is how the response cache still counts `stored` and `write_errors` as they went. A failure
   * is already counted and logged (rate-limited) by the backend; only CacheClosedError rejects.
   */
  trySetWithTTL(key: string, value: Buffer, ttlMs: number): Promise<boolean>;
  /** Drop everything this cache holds (admin `DELETE /admin/cache`). */
  flush(): Promise<void>;
}

/** Whether the backend has an optional capability; the cache is then typed with it. */
export function can<K extends keyof CacheCapabilities>(
  cache: Cache,
  capability: K,
): cache is Cache & Pick<CacheCapabilities, K> {
  return typeof (cache as Partial<CacheCapabilities>)[capability] === 'function';
}

// The spec's names of single capabilities, for a backend's `implements` list.
export type StatsProvider = Pick<CacheCapabilities, 'stats'>;
export type Pinger = Pick<CacheCapabilities, 'ping'>;
export type MultiGetter = Pick<CacheCapabilities, 'getMulti'>;
export type MultiSetter = Pick<CacheCapabilities, 'setMultiWithTTL'>;
export type Finder = Pick<CacheCapabilities, 'find'>;
export type ReportingWriter = Pick<CacheCapabilities, 'trySetWithTTL'>;
export type Flusher = Pick<CacheCapabilities, 'flush'>;
