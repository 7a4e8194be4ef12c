/** Injection token under which the cache module offers its operator controls to the admin API. */
export const CACHE_ADMIN = Symbol('CACHE_ADMIN');

/** What the admin API needs from the response cache: its mode, counters to show, and a way to empty it. */
export interface CacheAdminPort {
  /** The backend in use: single, ha or disabled. */
  mode: string;
  /** Counters worth showing an operator (hits, misses, entries, bytes…); numbers only, never keys or bodies. */
  stats(): Record<string, number>;
  /** Drops every cached answer. */
  flush(): Promise<void>;
}
