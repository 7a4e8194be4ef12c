import {
  CacheClosedError,
  CacheNotFoundError,
  type Cache,
  type CacheStats,
  type Finder,
  type Flusher,
  type MultiGetter,
  type MultiSetter,
  type StatsProvider,
} from './cache';

/**
 * The `disabled` backend (spec: Noop): accepts every write and stores nothing, so every read is a miss. It still
 * counts misses, so the admin stats show the traffic that would have been looked up, and it honours close() like
 * the real backends so callers need no special case.
 */
export class DisabledCache implements Cache, Finder, StatsProvider, MultiGetter, MultiSetter, Flusher {
  private closed = false;
  private misses = 0;

  async get(_key: string): Promise<Buffer> {
    this.assertOpen();
    this.misses++;
    throw new CacheNotFoundError();
  }

  find(_key: string): undefined {
    this.assertOpen();
    this.misses++;
    return undefined;
  }

  async set(_key: string, _value: Buffer): Promise<void> {
    this.assertOpen();
  }

  async setWithTTL(_key: string, _value: Buffer, _ttlMs: number): Promise<void> {
    this.assertOpen();
  }

  async delete(_key: string): Promise<void> {
    this.assertOpen();
  }

  async exists(_key: string): Promise<boolean> {
    this.assertOpen();
    return false;
  }

  async getMulti(keys: string[]): Promise<Map<string, Buffer | undefined>> {
    this.assertOpen();
    this.misses += keys.length;
    return new Map(keys.map((key) => [key, undefined]));
  }

  async setMultiWithTTL(_items: Map<string, Buffer>, _ttlMs: number): Promise<void> {
    this.assertOpen();
  }

  async flush(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.assertOpen();
    this.closed = true;
  }

  stats(): CacheStats {
    return { hits: 0, misses: this.misses, key_count: 0, bytes_used: 0, evictions: 0 };
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }
}
