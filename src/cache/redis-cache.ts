import KeyvRedis, { createClient, createCluster } from '@keyv/redis';
import { Logger } from '@nestjs/common';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { Clock, systemClock } from '../common/clock';
import { RateLimitedWarn } from '../common/rate-limited-warn';
import { within, type Outcome } from '../common/within';
import { maskUrlPasswords } from '../config/mask';
import { parseClusterNodes } from '../config/redis-seeds';
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

/**
 * The `ha` backend: one Redis (standalone or Cluster) shared by every replica, through cache-manager over a
 * Keyv store from @keyv/redis. It fails open, always: a read that errors or takes longer than
 * `cache.redis.timeout_ms` is a miss, a write that fails is dropped with a rate-limited log line, and a Redis
 * that is down never fails, blocks or noticeably slows a request. node-redis reconnects by itself.
 *
 * Values are Buffers. Keyv's serializer stores them as base64 inside its JSON envelope (`{value, expires}`),
 * which round-trips every byte; the envelope also carries the expiry, and Redis gets the same TTL as PX.
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

type StandaloneClient = ReturnType<typeof createClient>;
type ClusterClient = ReturnType<typeof createCluster>;
/** The node-level commands this class sends itself (ping, scan, unlink, info). */
type NodeClient = Pick<StandaloneClient, 'ping' | 'scan' | 'unlink' | 'info'>;

// Reconnect: 50 ms doubling to a 2 s cap, with jitter so replicas do not stampede a Redis that comes back.
const RECONNECT_BASE_MS = 50;
const RECONNECT_CAP_MS = 2_000;
// A hung Redis must not let queued commands pile up in memory: past this, commands fail fast (= misses).
const COMMAND_QUEUE_MAX = 10_000;
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
const CONNECT_TIMEOUT_MS = 2_000;
// ping() and flush() are admin/health paths, not the request path: they may wait a little longer.
const ADMIN_TIMEOUT_FLOOR_MS = 1_000;
const STATS_REFRESH_MS = 10_000;
/**
 * Counting the keys under the prefix is a SCAN of the whole database (MATCH filters after the walk): on a shared
 * Redis of a million keys ~1,000 round trips, each replica, each refresh. The count is refreshed at most this
 * often, and never more often than KEY_COUNT_COST_FACTOR times the last count took, so every replica together
 * keeps Redis busy counting for a small share of its time whatever the database's size.
 */
const KEY_COUNT_REFRESH_MS = 60_000;
const KEY_COUNT_COST_FACTOR = 100;
const LOG_INTERVAL_MS = 10_000;
const SCAN_COUNT = 1_000;

/** The Redis-backed cache of `cache.mode: ha`. */
export class RedisCache
  implements Cache, Finder, StatsProvider, Pinger, MultiGetter, MultiSetter, Flusher, ReportingWriter
{
  private readonly prefix: string;
  private readonly defaultTtlMs: number;
  private readonly timeoutMs: number;
  private readonly adminTimeoutMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  /** Credentials this cache knows, blanked out of every message it logs or throws (belt and braces). */
  private readonly secrets: string[] = [];

  private readonly standalone: StandaloneClient | undefined;
  private readonly cluster: ClusterClient | undefined;
  private readonly manager: ReturnType<typeof createCache>;
  private readonly keyv: Keyv;

  private closed = false;
  private readonly ready: Promise<void>;
  private settleReady: (error?: Error) => void = () => undefined;
  private clusterConnected = false;
  private clusterRetry: NodeJS.Timeout | undefined;

  private hits = 0;
  private misses = 0;
  private timeouts = 0;
  private errors = 0;
  private droppedWrites = 0;
  private connectionErrors = 0;
  private keyCount = 0;
  private bytesUsed = 0;
  private evictions = 0;
  private pendingWriteBytes = 0;
  private pendingCommands = 0;
  private shedCommands = 0;
  private readonly maxPendingCommands: number;
  private readonly maxPendingWriteBytes: number;
  private statsAt = Number.NEGATIVE_INFINITY;
  private keyCountAt = Number.NEGATIVE_INFINITY;
  private statsRefreshCounts = false;
  private keyCountEveryMs = KEY_COUNT_REFRESH_MS;
  private statsRefresh: Promise<void> | undefined;
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
    this.random = deps.random ?? Math.random;
    this.maxPendingWriteBytes = deps.maxPendingWriteBytes ?? MAX_PENDING_WRITE_BYTES;
    this.maxPendingCommands = deps.maxPendingCommands ?? MAX_PENDING_COMMANDS;

    // Commands fail at once while disconnected instead of queueing until Redis returns: a queued read would
    // only time out, and a queued write would arrive late and unbounded.
    const clientDefaults = {
      disableOfflineQueue: true,
      commandsQueueMaxLength: COMMAND_QUEUE_MAX,
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: (retries: number) => this.backoff(retries),
      },
    };
    let client: StandaloneClient | ClusterClient;
    if (redis.cluster_nodes.length > 0) {
      // Credentials and TLS go in `defaults`, not in the seeds: the nodes found by discovery need them too.
      const access = parseClusterNodes(redis.cluster_nodes);
      this.keepSecret(access.password);
      this.cluster = createCluster({
        rootNodes: access.seeds.map(({ host, port }) => ({ socket: { host, port } })),
        defaults: {
          ...clientDefaults,
          ...(access.username !== undefined && { username: access.username }),
          ...(access.password !== undefined && { password: access.password }),
          socket: access.tls ? { ...clientDefaults.socket, tls: true } : clientDefaults.socket,
        },
      });
      this.cluster.on('error', (error: unknown) => this.onConnectionError(error));
      this.cluster.on('node-error', (error: unknown) => this.onConnectionError(error));
      client = this.cluster;
    } else {
      this.keepSecret(urlPassword(redis.url));
      this.standalone = createClient({ url: redis.url, ...clientDefaults });
      this.standalone.on('error', (error: unknown) => this.onConnectionError(error));
      client = this.standalone;
    }

    // The prefix is the Keyv namespace with an empty separator, so stored keys are exactly `<prefix><key>`.
    const store = new KeyvRedis(client, { keyPrefixSeparator: '', throwOnErrors: true, useUnlink: true });
    this.keyv = new Keyv({
      store,
      namespace: this.prefix || undefined,
      useKeyPrefix: false,
      throwOnErrors: true,
    });
    this.keyv.on('error', () => undefined); // counted where the operation fails; the event itself is noise
    this.manager = createCache({ stores: [this.keyv], ttl: this.defaultTtlMs });
    // cache-manager turns read errors into misses and reports them only as events.
    this.manager.on('get', ({ error }) => {
      if (error !== undefined) this.onOperationError('read', error);
    });
    this.manager.on('mget', ({ error }) => {
      if (error !== undefined) this.onOperationError('read', error);
    });

    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => (error ? reject(error) : resolve());
    });
    this.ready.catch(() => undefined); // nobody has to wait for it
    this.connectInBackground();
  }

  /**
   * Resolves once the first connection is up (rejects with CacheClosedError if closed first). Nothing needs
   * to wait for it, the cache works (as misses) before; it is for start-up logs and tests.
   */
  async whenReady(): Promise<void> {
    return this.ready;
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
      if (outcome.timedOut) this.timeouts++;
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
    if (!outcome.ok && outcome.timedOut) this.timeouts++;
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
    const masters = await this.masters();
    await Promise.all(
      masters.map(async (node) => {
        for await (const keys of this.scanPrefix(node)) {
          // One key per UNLINK: on a cluster a multi-key UNLINK must stay within one hash slot.
          await this.answered(Promise.all(keys.map((key) => node.unlink(key))), 'UNLINK');
        }
      }),
    );
    this.keyCount = 0;
  }

  /** Rejects when Redis (every master, on a cluster) does not answer PING in time. */
  async ping(): Promise<void> {
    this.assertOpen();
    const masters = await this.masters();
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
    const now = this.clock.now();
    if (!this.closed && now - this.statsAt >= STATS_REFRESH_MS) {
      this.refreshServerStats(now - this.keyCountAt >= this.keyCountEveryMs).catch(() => undefined);
    }
    return {
      hits: this.hits,
      misses: this.misses,
      key_count: this.keyCount,
      bytes_used: this.bytesUsed,
      evictions: this.evictions,
      timeouts: this.timeouts,
      errors: this.errors,
      dropped_writes: this.droppedWrites,
      connection_errors: this.connectionErrors,
      connected: this.connected() ? 1 : 0,
      pending_write_bytes: this.pendingWriteBytes,
      pending_commands: this.pendingCommands,
      shed_commands: this.shedCommands,
    };
  }

  /** Resolves when the stats refresh under way (if any) is over; for tests and the admin view. */
  async refreshInFlight(): Promise<void> {
    await this.statsRefresh?.catch(() => undefined);
  }

  /** Reads key_count, bytes_used and evictions from Redis now; one refresh at a time. */
  async refreshStats(): Promise<void> {
    this.assertOpen();
    return this.refreshServerStats(true);
  }

  /** One refresh at a time; a refresh that must count keys waits for one under way that does not, then counts. */
  private refreshServerStats(countKeys: boolean): Promise<void> {
    const running = this.statsRefresh;
    if (running && (this.statsRefreshCounts || !countKeys)) return running;
    const start = running ? running.catch(() => undefined) : Promise.resolve();
    const refresh = start
      .then(() => this.readServerStats(countKeys))
      .finally(() => {
        if (this.statsRefresh === refresh) this.statsRefresh = undefined;
      });
    this.statsRefresh = refresh;
    this.statsRefreshCounts = countKeys;
    return refresh;
  }

  /** Disconnects; every later call rejects with CacheClosedError. In-flight writes get a short grace. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.settleReady(new CacheClosedError());
    clearTimeout(this.clusterRetry);
    const client = this.cluster ?? this.standalone;
    if (!client) return;
    try {
      const graceful = within(client.close(), this.adminTimeoutMs);
      if (!(await graceful).ok) client.destroy();
    } catch {
      // close() throws when the socket was never opened; nothing to release then
    }
  }

  private async readServerStats(countKeys: boolean): Promise<void> {
    this.statsAt = this.clock.now();
    const masters = await this.masters();
    countKeys &&= this.prefix !== '';
    let keys = 0;
    let bytes = 0;
    let evicted = 0;
    const countStarted = this.clock.now();
    for (const node of masters) {
      if (countKeys) {
        for await (const batch of this.scanPrefix(node)) keys += batch.length;
      }
      const info = await node.info();
      bytes += infoField(info, 'used_memory');
      evicted += infoField(info, 'evicted_keys');
    }
    if (countKeys) {
      this.keyCountAt = this.clock.now();
      this.keyCountEveryMs = Math.max(
        KEY_COUNT_REFRESH_MS,
        KEY_COUNT_COST_FACTOR * (this.keyCountAt - countStarted),
      );
      this.keyCount = keys;
    }
    this.bytesUsed = bytes;
    this.evictions = evicted;
  }

  private async *scanPrefix(node: NodeClient): AsyncGenerator<string[]> {
    const match = `${escapeGlob(this.prefix)}*`;
    let cursor = '0';
    do {
      const reply = await this.answered(node.scan(cursor, { MATCH: match, COUNT: SCAN_COUNT }), 'SCAN');
      cursor = String(reply.cursor);
      if (reply.keys.length > 0) yield reply.keys;
    } while (cursor !== '0');
  }

  /**
   * One step of an admin or stats walk (a SCAN page, a batch of UNLINKs) within the admin timeout: a Redis that
   * keeps the connection but stops answering made DELETE /admin/cache wait forever. Rejects with what happened.
   */
  private async answered<T>(op: Promise<T>, what: string): Promise<T> {
    const outcome = await within(op, this.adminTimeoutMs);
    if (outcome.ok) return outcome.value;
    throw new Error(
      outcome.timedOut
        ? `cache: redis did not answer ${what} within ${this.adminTimeoutMs} ms`
        : `cache: redis ${what} failed: ${this.errorText(outcome.error)}`,
    );
  }

  /** The clients of every master (the one client when standalone); rejects when Redis is unreachable. */
  private async masters(): Promise<NodeClient[]> {
    if (!this.connected()) throw new Error('cache: redis is not connected');
    if (this.standalone) return [this.standalone];
    const cluster = this.cluster!;
    const outcome = await within(
      Promise.all(cluster.masters.map((master) => cluster.nodeClient(master))),
      this.adminTimeoutMs,
    );
    if (!outcome.ok) throw new Error('cache: a redis cluster master is not reachable');
    return outcome.value;
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
      if (outcome.timedOut) this.timeouts++;
      else this.dropWrite(what, outcome.error);
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

  private dropWrite(what: string, error: unknown): void {
    this.droppedWrites++;
    this.errors++;
    this.warnings.warn('write', `cache: dropped a redis ${what}: ${this.errorText(error)}`);
  }

  private countFailure(what: string, outcome: Outcome<unknown>): void {
    if (outcome.ok) return;
    if (outcome.timedOut) this.timeouts++;
    else this.onOperationError(what, outcome.error);
  }

  private onOperationError(what: string, error: unknown): void {
    this.errors++;
    this.warnings.warn(what, `cache: redis ${what} failed (counted as a miss): ${this.errorText(error)}`);
  }

  private onConnectionError(error: unknown): void {
    this.connectionErrors++;
    this.warnings.warn('connection', `cache: redis connection error, reconnecting: ${this.errorText(error)}`);
  }

  /** An error as one line, with URL credentials masked and every credential of this cache blanked out. */
  private errorText(error: unknown): string {
    let text = maskUrlPasswords(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    for (const secret of this.secrets) text = text.split(secret).join('****');
    return text;
  }

  private keepSecret(secret: string | undefined): void {
    if (secret === undefined || secret === '') return;
    // As given and as it would appear inside a URL.
    for (const form of new Set([secret, encodeURIComponent(secret)])) this.secrets.push(form);
    // Longest first, so a secret that contains another is blanked whole.
    this.secrets.sort((a, b) => b.length - a.length);
  }

  private miss(): undefined {
    this.misses++;
    return undefined;
  }

  private connected(): boolean {
    if (this.closed) return false;
    if (this.standalone) return this.standalone.isReady;
    return this.clusterConnected;
  }

  /** Never blocks the constructor (nor app start): the first connection is made in the background. */
  private connectInBackground(): void {
    if (this.standalone) {
      // With a reconnect strategy that never gives up, connect() settles only once connected (or closed).
      this.standalone.connect().then(
        () => this.settleReady(),
        (error: unknown) => this.onConnectionError(error),
      );
      return;
    }
    this.connectCluster(0);
  }

  // A cluster client does not retry its first topology discovery by itself, so retry it here.
  private connectCluster(attempt: number): void {
    const cluster = this.cluster!;
    cluster.connect().then(
      () => {
        if (this.closed) {
          cluster.destroy();
          return;
        }
        this.clusterConnected = true;
        this.settleReady();
      },
      (error: unknown) => {
        this.onConnectionError(error);
        if (this.closed) return;
        this.clusterRetry = setTimeout(() => this.connectCluster(attempt + 1), this.backoff(attempt));
        this.clusterRetry.unref();
      },
    );
  }

  private backoff(retries: number): number {
    const capped = Math.min(RECONNECT_BASE_MS * 2 ** retries, RECONNECT_CAP_MS);
    return Math.round(capped * (0.5 + this.random() / 2));
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }
}

/** Redis wants whole milliseconds for PX; a sub-millisecond TTL still means "expire very soon". */
function wholeMs(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

/** The password of a redis:// URL (decoded), if it has one and parses. */
function urlPassword(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}
