import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { CLOCK, systemClock, type Clock } from '../common/clock';
import { RelayConfig } from '../config/relay-config';
import { CaptureBudget } from '../protocol/capture-budget';
import type { DeliveredAnswer } from '../protocol/answer';
import { can, CacheNotFoundError, type Cache } from './cache';
import { tooDeeplyNested } from '../protocol/request-carrier';
import { cacheKey, isCacheableRequest } from './cache-key';
import { answerToCache, decodeAnswer, encodeAnswer, type CachedAnswer } from './cached-answer';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { CACHE_TTL_HEADER, parseCacheControl, requestTtlMs } from './cache-control';

/**
 * The largest answer the cache keeps (the JSON body, or the whole SSE stream, in bytes). A longer one is relayed
 * in full and not stored, and a stream stops being held as soon as it passes this (`too_large` in the stats).
 */
export const MAX_ENTRY_BYTES = 8 * 1024 * 1024;

/**
 * What all streams being captured at once may hold together (each one is bounded by the largest entry on its own):
 * with `cache.stream` on, a stream that finds it spent is relayed as always and not stored (`capture_budget_full`).
 */
export const MAX_CAPTURE_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

/** Injection token of the configured backend (single, ha or disabled). */
export const CACHE_BACKEND = Symbol('CACHE_BACKEND');

/** What the cache does for one request. */
export type CachePlan =
  | { use: false }
  | { use: true; key: string; lookup: boolean; store: boolean; ttlMs: number; maxAgeMs?: number };

/** The request facts the plan is made from. */
export interface CacheRequestFacts {
  endpoint: 'messages' | 'count_tokens';
  body: Record<string, unknown>;
  model: string;
  stream: boolean;
  headers: Record<string, string | string[] | undefined>;
  clientScope: string | undefined;
}

/**
 * The response cache in front of the attempt loop: decides per request whether and under which key it is cached,
 * reads and writes the backend failing open (a read error is a miss, a write error a log line — never a failed
 * request), and joins identical requests in flight so they share one upstream call (single-flight).
 */
@Injectable()
export class ResponseCache implements OnApplicationShutdown {
  private readonly logger = new Logger('Cache');
  private readonly inflight = new Map<string, InFlight>();
  private readonly counts = {
    lookups: 0,
    hits: 0,
    misses: 0,
    bypassed: 0,
    shared: 0,
    read_errors: 0,
    write_errors: 0,
    stored: 0,
    too_large: 0,
    fallback_not_stored: 0,
    capture_budget_full: 0,
  };
  /** Shared by the streams captured for storing (see MAX_CAPTURE_IN_FLIGHT_BYTES). */
  readonly captureBudget: CaptureBudget;

  constructor(
    private readonly config: RelayConfig,
    @Inject(CACHE_BACKEND) private readonly backend: Cache,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.captureBudget = new CaptureBudget(Math.max(MAX_CAPTURE_IN_FLIGHT_BYTES, this.maxEntryBytes));
  }

  get mode(): string {
    return this.config.cache.mode;
  }

  get enabled(): boolean {
    return this.config.cache.mode !== 'disabled';
  }

  /** The largest answer stored: MAX_ENTRY_BYTES, or less when `single`'s whole budget is smaller. */
  get maxEntryBytes(): number {
    const { mode, ristretto } = this.config.cache;
    return mode === 'single' ? Math.min(MAX_ENTRY_BYTES, ristretto.max_cost) : MAX_ENTRY_BYTES;
  }

  /** The entry for a delivered answer, or undefined when it is not to be stored (incomplete, failed, too large). */
  toEntry(endpoint: CacheRequestFacts['endpoint'], delivered: DeliveredAnswer): CachedAnswer | undefined {
    if (delivered.captureRefused) {
      this.counts.capture_budget_full++;
      return undefined;
    }
    if (delivered.captureOverflowed || (delivered.body?.length ?? 0) > this.maxEntryBytes) {
      this.counts.too_large++;
      return undefined;
    }
    return answerToCache(endpoint, delivered, this.clock.now());
  }

  /**
   * Whether a delivered answer may be stored under the key of the request that asked for `requestedModel`. An
   * answer from a fallback model (routing.fallbacks) is relayed, and shared with identical requests in flight, but
   * never stored: the entry would keep answering the requested model with the cheaper one long after the outage.
   */
  mayStore(delivered: DeliveredAnswer, requestedModel: string): boolean {
    if (delivered.model === requestedModel) return true;
    this.counts.fallback_not_stored++;
    return false;
  }

  /**
   * Decides key, lookup and store for a request (streams only when `cache.stream` is on). Throws a RelayError
   * (400) for a malformed `x-cc-relay-cache-ttl`.
   */
  plan(req: CacheRequestFacts): CachePlan {
    if (!this.enabled) return { use: false };
    if (req.stream && !this.config.cache.stream) return { use: false };
    if (req.endpoint === 'messages' && !isCacheableRequest(req.body)) return { use: false };
    const directives = parseCacheControl(req.headers['cache-control']);
    const ttl = requestTtlMs(req.headers[CACHE_TTL_HEADER], this.config.cache.ttl_ms);
    if ('error' in ttl) throw new RelayError(RelayErrorCode.InvalidRequest, ttl.error);
    let key: string;
    try {
      key = cacheKey({
        path: req.endpoint,
        body: req.body,
        resolvedModel: req.model,
        anthropicVersion: single(req.headers['anthropic-version']),
        anthropicBeta: single(req.headers['anthropic-beta']),
        clientScope: this.config.cache.shared_across_clients ? undefined : (req.clientScope ?? 'anonymous'),
      });
    } catch (err) {
      // A body nested thousands of levels deep overflows the key's canonical walk: not cached, still served.
      if (tooDeeplyNested(err)) return { use: false };
      throw err;
    }
    return {
      use: true,
      key,
      lookup: !directives.noCache,
      store: !directives.noStore,
      ttlMs: ttl.ttlMs,
      maxAgeMs: directives.maxAgeMs,
    };
  }

  /**
   * Reads an entry; any backend trouble is a miss. Synchronous when the backend is (`single`, `disabled`), so a
   * request that misses there goes on in the same turn of the event loop.
   */
  lookup(
    key: string,
    maxAgeMs: number | undefined,
  ): CachedAnswer | undefined | Promise<CachedAnswer | undefined> {
    this.counts.lookups++;
    let read: Buffer | undefined | Promise<Buffer | undefined>;
    try {
      read = this.read(key);
    } catch (err) {
      return this.found(this.readFailed(err), maxAgeMs);
    }
    if (!(read instanceof Promise)) return this.found(read, maxAgeMs);
    return read.then(
      (bytes) => this.found(bytes, maxAgeMs),
      (err: unknown) => this.found(this.readFailed(err), maxAgeMs),
    );
  }

  private read(key: string): Buffer | undefined | Promise<Buffer | undefined> {
    if (can(this.backend, 'find')) return this.backend.find(key);
    return this.backend.get(key).catch((err: unknown) => {
      if (err instanceof CacheNotFoundError) return undefined;
      throw err;
    });
  }

  private readFailed(err: unknown): undefined {
    this.counts.read_errors++;
    this.logger.warn(`cache read failed, treated as a miss: ${(err as Error).message}`);
    return undefined;
  }

  private found(bytes: Buffer | undefined, maxAgeMs: number | undefined): CachedAnswer | undefined {
    let answer = bytes && decodeAnswer(bytes);
    if (answer && maxAgeMs !== undefined && this.clock.now() - answer.storedAt > maxAgeMs) answer = undefined;
    if (answer) this.counts.hits++;
    else this.counts.misses++;
    return answer;
  }

  /** The in-flight leader's future answer for this key, if an identical request is already upstream. */
  pending(key: string): Promise<CachedAnswer | undefined> | undefined {
    const leader = this.inflight.get(key);
    if (!leader) return undefined;
    // Made when the first follower asks: most misses have none, and then cost no promise.
    leader.answer ??= new Promise((resolve) => (leader.settle = resolve));
    return leader.answer;
  }

  /**
   * Makes this request the leader for its key: identical requests arriving meanwhile wait for `settle(answer)`
   * instead of calling upstream. settle must be called exactly once (undefined when nothing cacheable came back).
   */
  lead(key: string): (answer: CachedAnswer | undefined) => void {
    const leader: InFlight = {};
    this.inflight.set(key, leader);
    return (answer) => {
      if (this.inflight.get(key) === leader) this.inflight.delete(key);
      leader.settle?.(answer);
    };
  }

  /** Counts a follower that was answered by its leader. */
  countShared(): void {
    this.counts.shared++;
  }

  /** Counts a request that skipped the cache. */
  countBypass(): void {
    this.counts.bypassed++;
  }

  /** Writes an entry in the background; a failure is logged and counted, never thrown. */
  store(key: string, answer: CachedAnswer, ttlMs: number): void {
    const failed = (err: unknown) => {
      this.counts.write_errors++;
      this.logger.warn(`cache write dropped: ${(err as Error).message}`);
    };
    const bytes = encodeAnswer(answer);
    if (can(this.backend, 'trySetWithTTL')) {
      // A backend that fails open (ha) resolves every write; only its report says whether the entry is stored.
      // It has logged a dropped write already (rate-limited), so only the count is kept here.
      this.backend
        .trySetWithTTL(key, bytes, ttlMs)
        .then((reached) => (reached ? this.counts.stored++ : this.counts.write_errors++), failed);
      return;
    }
    this.backend.setWithTTL(key, bytes, ttlMs).then(() => this.counts.stored++, failed);
  }

  /** Request-level counters plus the backend's own. */
  stats(): Record<string, number> {
    const backend = can(this.backend, 'stats') ? this.backend.stats() : {};
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(backend)) if (typeof v === 'number') out[`backend_${k}`] = v;
    return { ...this.counts, ...out };
  }

  /** Drops every entry (admin `DELETE /admin/cache`). */
  async flush(): Promise<void> {
    if (can(this.backend, 'flush')) await this.backend.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.backend.close().catch(() => undefined);
  }
}

/** A leader's single-flight slot: the followers' promise and its resolver, made when the first follower comes. */
interface InFlight {
  answer?: Promise<CachedAnswer | undefined>;
  settle?: (answer: CachedAnswer | undefined) => void;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
