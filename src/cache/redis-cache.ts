import KeyvRedis from '@keyv/redis';
import { Logger } from '@nestjs/common';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { Clock, systemClock } from '../common/clock';
import { RateLimitedWarn } from '../common/rate-limited-warn';
import { within, type Outcome } from '../common/within';
import { CacheConfig } from '../config/relay-config';
import {
  Cache,
  CacheClosedError,
  CacheNotFoundError,
  CacheStats,
  Finder,
  Flusher,
  MultiGetter,
  MultiSetter,
  Pinger,
  ReportingWriter,
  StatsProvider,
} from './cache';
import { RedisConnection } from './redis-connection';
import { RedisServerStats } from './redis-server-stats';

/**
 * The `ha` backend: one Redis (standalone or Cluster) shared by every replica, through cache-manager over a
 * Keyv store from @keyv/redis. It fails open, always: a read that errors or takes longer than
 * `cache.redis.timeout_ms` is a miss, a write that fails is dropped with a rate-limited log line, and a Redis
 * that is down never fails, blocks or noticeably slows a request. node-redis reconnects by itself.
 *
 * Values are Buffers. Keyv's serializer stores them as base64 inside its JSON envelope (`{value, expires}`),
 * which round-trips every byte; the envelope also carries the expiry, and Redis gets the same TTL as PX.
 *
 * This file holds the operations and their bounds (timeouts, pending writes and commands, fail-open counting); the
 * client's connection lifecycle is redis-connection.ts, and the numbers read from the server redis-server-stats.ts.
 */

/** Where dropped writes and connection trouble are reported (Nest's Logger fits). */
export interface RedisCacheLogger {
  warn(message: string): void;
}

/** Collaborators, injectable for tests. */
export interface RedisCacheDeps {
  logger?: RedisCacheLogger;
  /** Drives log rate limiting and stats staleness. */
  clock?: Clock;
  /** Jitter of the reconnect backoff, in [0, 1). */
  random?: () => number;
  /** Bytes of values written but not yet answered by Redis, past which writes are dropped (MAX_PENDING_WRITE_BYTES). */
  maxPendingWriteBytes?: number;
  /** Commands sent and not yet answered by Redis, past which reads are misses and writes dropped at once. */
  maxPendingCommands?: number;
}

/** The counters of the `ha` backend: the common ones plus what fail-open hides from callers. */
export interface RedisCacheStats extends CacheStats {
  /** Operations that outlived `timeout_ms` (reads became misses, writes were left to finish alone). */
  timeouts: number;
  /** Operations that failed, including those refused at once while disconnected. */
  errors: number;
  /** Writes (set, delete, batch set) that never reached Redis. */
  dropped_writes: number;
  /** Connection-level errors reported by the client (each reconnect attempt counts). */
  connection_errors: number;
  /** 1 while connected, else 0. */
  connected: number;
  /** Bytes of values sent to Redis and not yet answered (timed-out writes still wait in the client's queue). */
  pending_write_bytes: number;
  /** Commands sent to Redis and not yet answered (timed-out ones included), bounded by MAX_PENDING_COMMANDS. */
  pending_commands: number;
  /** Reads and writes not sent because MAX_PENDING_COMMANDS were already waiting (misses, dropped writes). */
  shed_commands: number;
}

/**
 * Bytes of values sent and not yet answered, past which a write is dropped. A write that outlives timeout_ms
 * stays in the client's queue, value included, until Redis answers or the connection closes, and a stalled Redis
 * (paused, swapping, a network path that drops packets without a reset) closes nothing. Measured during a
 * `CLIENT PAUSE`: 2,000 answers of 12 KB (24.7 MB of values) held 52 MB of heap (Keyv's base64 envelope, the
 * command) and 25 MB of buffers until Redis answered, about 3x the values; the 10,000-command queue bound alone
 * would let 100 KB answers hold 3 GB. 32 MiB of values is then ~100 MB at worst.
 */
export const MAX_PENDING_WRITE_BYTES = 32 * 1024 * 1024;
/**
 * Commands sent and not yet answered, past which a read is a miss and a write is dropped without being sent.
 * A stalled Redis keeps the connection up, so every read the relay makes meanwhile (each times out into a miss)
 * stays in the client's queue with its promise chain (node-redis, Keyv, cache-manager) until Redis answers:
 * COMMAND_QUEUE_MAX alone let a 40 s pause under load add ~200 MB beside the bounded write bytes. A healthy Redis
 * answers in a millisecond, so a thousand unanswered commands only happen when it is stalled.
 */
export const MAX_PENDING_COMMANDS = 1_000;
// ping() and flush() are admin/health paths, not the request path: they may wait a little longer.
const ADMIN_TIMEOUT_FLOOR_MS = 1_000;
const LOG_INTERVAL_MS = 10_000;

/** The Redis-backed cache of `cache.mode: ha`. */
export class RedisCache
  implements Cache, Finder, StatsProvider, Pinger, MultiGetter, MultiSetter, Flusher, ReportingWriter
{
  private readonly prefix: string;
  private readonly defaultTtlMs: number;
  private readonly timeoutMs: number;
  private readonly adminTimeoutMs: number;
  private readonly clock: Clock;
  private readonly connection: RedisConnection;
  private readonly serverStats: RedisServerStats;
  private readonly manager: ReturnType<typeof createCache>;
  private readonly keyv: Keyv;

  private hits = 0;
  private misses = 0;
  private timeouts = 0;
  private errors = 0;
  private droppedWrites = 0;
  private pendingWriteBytes = 0;
  private pendingCommands = 0;
  private shedCommands = 0;
  private readonly maxPendingCommands: number;
  private readonly maxPendingWriteBytes: number;
  /** At most one line per kind every 10 s, saying how many were swallowed in between. */
  private readonly warnings: RateLimitedWarn;

  constructor(config: CacheConfig, deps: RedisCacheDeps = {}) {
    const redis = config.redis;
    this.prefix = redis.key_prefix;
    this.defaultTtlMs = config.ttl_ms;
    this.timeoutMs = redis.timeout_ms;
    this.adminTimeoutMs = Math.max(redis.timeout_ms, ADMIN_TIMEOUT_FLOOR_MS);
    this.clock = deps.clock ?? systemClock;
    this.warnings = new RateLimitedWarn(
      deps.logger ?? new Logger(RedisCache.name),
      this.clock,
      LOG_INTERVAL_MS,
    );
    this.maxPendingWriteBytes = deps.maxPendingWriteBytes ?? MAX_PENDING_WRITE_BYTES;
    this.maxPendingCommands = deps.maxPendingCommands ?? MAX_PENDING_COMMANDS;

    this.connection = new RedisConnection(
      redis,
      this.warnings,
      deps.random ?? Math.random,
      this.adminTimeoutMs,
    );
    this.serverStats = new RedisServerStats(this.connection, this.prefix, this.clock);

    // The prefix is the Keyv namespace with an empty separator, so stored keys are exactly `<prefix><key>`.
    const store = new KeyvRedis(this.connection.client, {
      keyPrefixSeparator: '',
      throwOnErrors: true,
      useUnlink: true,
    });
    this.keyv = new Keyv({
      store,
      namespace: this.prefix || undefined,
      useKeyPrefix: false,
      throwOnErrors: true,
    });
    this.keyv.on('error', () => undefined); // counted where the operation fails; the event itself is noise
    this.connection.onReplaced((fresh) => {
      store.client = fresh;
    });
    this.manager = createCache({ stores: [this.keyv], ttl: this.defaultTtlMs });
    // cache-manager turns read errors into misses and reports them only as events.
    this.manager.on('get', ({ error }) => {
      if (error !== undefined) this.onOperationError('read', error);
    });
    this.manager.on('mget', ({ error }) => {
      if (error !== undefined) this.onOperationError('read', error);
    });

    this.connection.connectInBackground();
  }

  /**
   * Resolves once the first connection is up (rejects with CacheClosedError if closed first). Nothing needs
   * to wait for it, the cache works (as misses) before; it is for start-up logs and tests.
   */
  async whenReady(): Promise<void> {
    return this.connection.whenReady();
  }

  async get(key: string): Promise<Buffer> {
    const value = await this.find(key);
    if (value === undefined) throw new CacheNotFoundError();
    return value;
  }

  /** get() with a miss (absent, timed out, Redis unreachable) as undefined instead of a rejection. */
  async find(key: string): Promise<Buffer | undefined> {
    this.assertOpen();
    if (!this.connected()) {
      this.errors++;
      return this.miss();
    }
    if (this.shed()) return this.miss();
    const outcome = await within(this.sent(this.manager.get<unknown>(key)), this.timeoutMs);
    if (!outcome.ok) {
      if (outcome.timedOut) this.onTimeout();
      return this.miss();
    }
    // Anything that is not our Buffer (absent, or foreign data under the prefix) is a miss.
    if (!Buffer.isBuffer(outcome.value)) return this.miss();
    this.hits++;
    return outcome.value;
  }

  async set(key: string, value: Buffer): Promise<void> {
    return this.setWithTTL(key, value, this.defaultTtlMs);
  }

  async setWithTTL(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.assertOpen();
    await this.write('set', () => this.manager.set(key, value, wholeMs(ttlMs)), value.length).settled;
  }

  /**
   * setWithTTL() that resolves, once the write is over, whether it reached Redis: false when it was dropped
   * (disconnected, failed, over the pending-bytes bound, or failed after outliving the timeout). Never rejects but
   * with CacheClosedError.
   */
  async trySetWithTTL(key: string, value: Buffer, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    return this.write('set', () => this.manager.set(key, value, wholeMs(ttlMs)), value.length).reached;
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    await this.write('delete', () => this.manager.del(key)).settled;
  }

  async exists(key: string): Promise<boolean> {
    this.assertOpen();
    if (!this.connected()) {
      this.errors++;
      return false;
    }
    if (this.shed()) return false;
    const outcome = await within(this.sent(this.keyv.has(key)), this.timeoutMs);
    if (outcome.ok) return outcome.value;
    this.countFailure('read', outcome);
    return false;
  }

  async getMulti(keys: string[]): Promise<Map<string, Buffer | undefined>> {
    this.assertOpen();
    const result = new Map<string, Buffer | undefined>(keys.map((k) => [k, undefined]));
    if (keys.length === 0) return result;
    if (!this.connected()) {
      this.errors++;
      this.misses += result.size;
      return result;
    }
    if (this.shed()) {
      this.misses += result.size;
      return result;
    }
    const outcome = await within(this.sent(this.manager.mget<unknown>(keys)), this.timeoutMs);
    if (!outcome.ok && outcome.timedOut) this.onTimeout();
    keys.forEach((key, i) => {
      const value = outcome.ok ? outcome.value[i] : undefined;
      if (Buffer.isBuffer(value)) result.set(key, value);
    });
    for (const value of result.values()) {
      if (value === undefined) this.misses++;
      else this.hits++;
    }
    return result;
  }

  async setMultiWithTTL(items: Map<string, Buffer>, ttlMs: number): Promise<void> {
    this.assertOpen();
    if (items.size === 0) return;
    const ttl = wholeMs(ttlMs);
    const list = [...items].map(([key, value]) => ({ key, value, ttl }));
    let bytes = 0;
    for (const value of items.values()) bytes += value.length;
    await this.write('set', () => this.manager.mset(list), bytes).settled;
  }

  /**
   * Deletes the keys under the prefix, and only those: SCAN + UNLINK on every master. Unlike the request
   * path it rejects when Redis cannot be reached, so the admin API can say the flush did not happen.
   */
  async flush(): Promise<void> {
    this.assertOpen();
    // An empty prefix would mean "every key in the database", which may not be ours.
    if (this.prefix === '') throw new Error('cache: refusing to flush Redis without cache.redis.key_prefix');
    const masters = await this.connection.masters();
    await Promise.all(
      masters.map(async (node) => {
        for await (const keys of this.connection.scanPrefix(node, this.prefix)) {
          // One key per UNLINK: on a cluster a multi-key UNLINK must stay within one hash slot.
          await this.connection.answered(Promise.all(keys.map((key) => node.unlink(key))), 'UNLINK');
        }
      }),
    );
    this.serverStats.keyCount = 0;
  }

  /** Rejects when Redis (every master, on a cluster) does not answer PING in time. */
  async ping(): Promise<void> {
    this.assertOpen();
    const masters = await this.connection.masters();
    const outcome = await within(Promise.all(masters.map((node) => node.ping())), this.adminTimeoutMs);
    if (!outcome.ok) {
      throw new Error(
        `cache: redis ping failed: ${outcome.timedOut ? 'timed out' : this.errorText(outcome.error)}`,
      );
    }
  }

  /**
   * Counters of this instance (hits, misses, timeouts, errors, dropped_writes, connection_errors) plus three
   * best-effort numbers read from Redis, at most every 10 s, in the background (the returned values may be
   * that old; `refreshStats()` refreshes them now):
   * - key_count: the keys under the prefix, counted by a SCAN of every master (O(keys in the database)), so in
   *   the background at most every KEY_COUNT_REFRESH_MS (longer when a count is slow); refreshStats() counts now;
   * - bytes_used: `used_memory` of INFO memory, summed over masters: the whole server, Redis keeps no
   *   per-prefix account;
   * - evictions: `evicted_keys` of INFO stats, summed over masters (whole server, since its start).
   */
  stats(): RedisCacheStats {
    if (!this.connection.closed) this.serverStats.refreshIfStale();
    const server = this.serverStats;
    return {
      hits: this.hits,
      misses: this.misses,
      key_count: server.keyCount,
      bytes_used: server.bytesUsed,
      evictions: server.evictions,
      timeouts: this.timeouts,
      errors: this.errors,
      dropped_writes: this.droppedWrites,
      connection_errors: this.connection.connectionErrors,
      connected: this.connected() ? 1 : 0,
      pending_write_bytes: this.pendingWriteBytes,
      pending_commands: this.pendingCommands,
      shed_commands: this.shedCommands,
    };
  }

  /** Resolves when the stats refresh under way (if any) is over; for tests and the admin view. */
  async refreshInFlight(): Promise<void> {
    await this.serverStats.inFlight();
  }

  /** Reads key_count, bytes_used and evictions from Redis now; one refresh at a time. */
  async refreshStats(): Promise<void> {
    this.assertOpen();
    return this.serverStats.refresh(true);
  }

  /** Disconnects; every later call rejects with CacheClosedError. In-flight writes get a short grace. */
  async close(): Promise<void> {
    return this.connection.close();
  }

  /**
   * Fire-and-forget safe: `settled` resolves whatever happens, by the timeout at the latest; a failed write is
   * counted, logged and dropped. `reached` resolves once the write is over: whether it reached Redis. `bytes` (the
   * values' size) counts against MAX_PENDING_WRITE_BYTES until Redis answers the write, not just until it times out.
   */
  private write(
    what: string,
    op: () => Promise<unknown>,
    bytes = 0,
  ): { settled: Promise<void>; reached: Promise<boolean> } {
    if (!this.connected()) {
      this.dropWrite(what, new Error('redis is not connected'));
      return { settled: Promise.resolve(), reached: Promise.resolve(false) };
    }
    if (bytes > 0 && this.pendingWriteBytes + bytes > this.maxPendingWriteBytes) {
      this.dropWrite(what, new Error('too many bytes of earlier writes are still waiting for redis'));
      return { settled: Promise.resolve(), reached: Promise.resolve(false) };
    }
    if (this.shed()) {
      this.dropWrite(what, new Error('too many earlier redis commands are still waiting for an answer'));
      return { settled: Promise.resolve(), reached: Promise.resolve(false) };
    }
    this.pendingWriteBytes += bytes;
    const pending = this.sent(op());
    const reached = pending.then(
      () => {
        this.pendingWriteBytes -= bytes;
        return true;
      },
      () => {
        this.pendingWriteBytes -= bytes;
        return false;
      },
    );
    // A write that outlives the timeout keeps going; if it then fails it is still counted as dropped.
    const settled = within(pending, this.timeoutMs, (late) => this.dropWrite(what, late)).then((outcome) => {
      if (outcome.ok) return;
      if (outcome.timedOut) this.onTimeout();
      else {
        this.connection.afterFailure(outcome);
        this.dropWrite(what, outcome.error);
      }
    });
    return { settled, reached };
  }

  /** Counts a command as waiting for Redis until it settles (not until it times out). */
  private sent<T>(command: Promise<T>): Promise<T> {
    this.pendingCommands++;
    const done = () => {
      this.pendingCommands--;
    };
    command.then(done, done);
    return command;
  }

  /** Whether a command must not be sent because MAX_PENDING_COMMANDS are already waiting (counted, logged). */
  private shed(): boolean {
    if (this.pendingCommands < this.maxPendingCommands) return false;
    this.shedCommands++;
    this.warnings.warn(
      'shed',
      `cache: ${this.pendingCommands} redis commands are waiting for an answer (redis stalled?): reads are misses and writes dropped until it answers`,
    );
    return true;
  }

  /** A command outlived timeout_ms: counted, and with a Cluster the slot map may be stale. */
  private onTimeout(): void {
    this.timeouts++;
    this.connection.afterFailure({ timedOut: true });
  }

  private dropWrite(what: string, error: unknown): void {
    this.droppedWrites++;
    this.errors++;
    this.warnings.warn('write', `cache: dropped a redis ${what}: ${this.errorText(error)}`);
  }

  private countFailure(what: string, outcome: Outcome<unknown>): void {
    if (outcome.ok) return;
    if (outcome.timedOut) this.onTimeout();
    else this.onOperationError(what, outcome.error);
  }

  private onOperationError(what: string, error: unknown): void {
    this.errors++;
    this.connection.afterFailure({ timedOut: false, error });
    this.warnings.warn(what, `cache: redis ${what} failed (counted as a miss): ${this.errorText(error)}`);
  }

  private errorText(error: unknown): string {
    return this.connection.errorText(error);
  }

  private miss(): undefined {
    this.misses++;
    return undefined;
  }

  private connected(): boolean {
    return this.connection.connected();
  }

  private assertOpen(): void {
    if (this.connection.closed) throw new CacheClosedError();
  }
}

/** Redis wants whole milliseconds for PX; a sub-millisecond TTL still means "expire very soon". */
function wholeMs(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}
