import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { systemClock, type Clock } from '../common/clock';
import { maskUrlPasswords } from '../config/mask';
import { RateLimitedWarn } from '../common/rate-limited-warn';
import { within, type Outcome } from '../common/within';
import {
  ClusterTopologyRefresh,
  clusterOf,
  connectClusterInBackground,
  createRedisClient,
  reconnectDelay,
  type ClusterClient,
  type StandaloneClient,
} from '../common/redis-clients';
import type { ClusterRedisConfig } from '../config/relay-config';

/**
 * The one Redis connection of `cluster.mode: redis` (standalone or Redis Cluster, as `cache.redis`), shared by
 * everything that keeps cluster state: circuits, heartbeats, probe locks, key pools. A second connection carries
 * pub/sub (a subscribed connection cannot send commands).
 *
 * Every call is bounded by `cluster.redis.timeout_ms` and never rejects: the caller gets an Outcome and, when it is
 * not ok, decides locally. Trouble is logged once per 10 s (RateLimitedWarn) and counted (`syncErrors`); the time
 * spent without Redis is `fallbackSeconds()`. Commands fail at once while disconnected (no offline queue), and the
 * client reconnects by itself with a backoff capped at RECONNECT_CAP_MS, so state converges within ~1 s of
 * Redis' return; listeners of onUp() resynchronise then.
 *
 * In cluster mode a failed call may ask for a fresh slot map (ClusterTopologyRefresh: node-redis learns one only
 * from MOVED/ASK, which a crashed or hung master never sends); the fresh client takes the old one's place, the
 * channels are subscribed on it, and onUp() listeners resynchronise.
 */

/** The commands the cluster state sends; both node-redis client kinds have them. */
export interface ClusterCommands {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  hGetAll(key: string): Promise<Record<string, string>>;
  get(key: string): Promise<string | null>;
  hSet(key: string, field: string, value: string): Promise<unknown>;
  hDel(key: string, fields: string | string[]): Promise<unknown>;
}

interface Subscriber {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
}

/** A Lua script sent by SHA1 (EVALSHA), loaded with EVAL the first time a node does not know it. */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

export interface ClusterRedisDeps {
  logger?: { warn(message: string): void; log?(message: string): void };
  clock?: Clock;
  random?: () => number;
}

const RECONNECT_BASE_MS = 50;
/** Low on purpose: the replicas must agree again within 2 s of Redis' return. */
const RECONNECT_CAP_MS = 500;
const LOG_INTERVAL_MS = 10_000;
/** Admin paths (the cluster-wide admin view) may wait this long; the request path only timeout_ms. */
export const CLUSTER_ADMIN_TIMEOUT_MS = 1_000;

export class ClusterRedis {
  readonly prefix: string;
  readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly warnings: RateLimitedWarn;
  private readonly logger: NonNullable<ClusterRedisDeps['logger']>;
  private readonly secrets: string[] = [];

  private readonly standalone: StandaloneClient | undefined;
  private cluster: ClusterClient | undefined;
  private subscriber: Subscriber;
  private readonly standaloneSubscriber: StandaloneClient | undefined;
  private clusterConnected = false;
  private stopConnecting: () => void = () => undefined;
  private closed = false;
  private readonly topology: ClusterTopologyRefresh | undefined;

  private wasUp = false;
  /** Since when the replica decides locally (epoch ms), or undefined while Redis answers. */
  private downSince: number | undefined;
  private fallbackMsTotal = 0;
  /** Calls that failed or timed out (each means one local decision). */
  syncErrors = 0;
  private readonly upListeners: Array<() => void> = [];
  private readonly channels = new Map<string, Array<(message: string) => void>>();
  private readonly dispatchers = new Map<string, (message: string) => void>();
  private subscriberReady = false;

  constructor(config: ClusterRedisConfig, deps: ClusterRedisDeps = {}) {
    this.prefix = config.key_prefix;
    this.timeoutMs = config.timeout_ms;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.logger = deps.logger ?? new Logger('ClusterRedis');
    this.warnings = new RateLimitedWarn(this.logger, this.clock, LOG_INTERVAL_MS);
    this.downSince = this.clock.now();

    const seeds = config.cluster_nodes ?? [];
    const clientsFor = () =>
      createRedisClient({
        url: config.url ?? 'redis://127.0.0.1:6379',
        clusterNodes: seeds,
        reconnectStrategy: (retries) => this.backoff(retries),
        onError: (error) => this.onConnectionError(error),
        keepSecret: (secret) => {
          if (secret !== undefined && !this.secrets.includes(secret)) this.secrets.push(secret);
        },
      });
    const clients = clientsFor();
    if (clients.kind === 'cluster') {
      this.topology = new ClusterTopologyRefresh({
        build: () => clusterOf(clientsFor()),
        now: () => this.clock.now(),
        closed: () => this.closed || !this.clusterConnected,
        replace: (fresh) => this.replaceCluster(fresh),
      });
      this.cluster = clients.cluster;
      // The cluster client keeps pub/sub on a connection of its own.
      this.subscriber = this.cluster;
    } else {
      this.standalone = clients.standalone;
      this.standalone.on('ready', () => this.markUp());
      this.standalone.on('end', () => this.markDown());
      this.standalone.on('reconnecting', () => this.markDown());
      this.standaloneSubscriber = this.standalone.duplicate();
      this.standaloneSubscriber.on('error', (error: unknown) => this.onConnectionError(error));
      this.standaloneSubscriber.on('ready', () => this.onSubscriberReady());
      this.subscriber = this.standaloneSubscriber;
    }
    this.connectInBackground();
  }

  /** The command connection, for modules that send their own commands (key pools); prefer run(). */
  get commands(): ClusterCommands {
    return (this.standalone ?? this.cluster) as unknown as ClusterCommands;
  }

  /** Whether commands can be sent now. */
  isUp(): boolean {
    if (this.closed) return false;
    if (this.standalone) return this.standalone.isReady;
    return this.clusterConnected;
  }

  /** A key under `cluster.redis.key_prefix`. */
  key(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  /**
   * Runs one operation on the command connection within `timeoutMs` (default: cluster.redis.timeout_ms). Never
   * rejects; a failure or a timeout is counted, logged (rate-limited) and returned for a local decision.
   */
  async run<T>(
    what: string,
    op: (commands: ClusterCommands) => Promise<T>,
    timeoutMs = this.timeoutMs,
  ): Promise<Outcome<T>> {
    if (!this.isUp()) {
      this.syncErrors += 1;
      this.topology?.afterFailure({ timedOut: false, error: 'not connected' });
      return { ok: false, timedOut: false, error: new Error('cluster Redis is not connected') };
    }
    let started: Promise<T>;
    try {
      started = op(this.commands);
    } catch (error) {
      started = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const outcome = await within(started, timeoutMs, (error) => this.onLate(what, error));
    if (!outcome.ok) {
      this.syncErrors += 1;
      this.topology?.afterFailure(outcome);
      this.warnings.warn(
        what,
        `cluster state: ${what} ${outcome.timedOut ? `took over ${timeoutMs} ms` : `failed: ${this.describe(outcome.error)}`}; deciding locally`,
      );
    }
    return outcome;
  }

  /** EVALSHA, falling back to EVAL when the node does not have the script yet. */
  async evalScript(
    commands: ClusterCommands,
    script: LuaScript,
    keys: string[],
    args: Array<string | number>,
  ): Promise<unknown> {
    const options = { keys, arguments: args.map(String) };
    try {
      return await commands.evalSha(script.sha, options);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return commands.eval(script.source, options);
    }
  }

  /** Runs a Lua script within the timeout (see run). */
  script(
    what: string,
    script: LuaScript,
    keys: string[],
    args: Array<string | number>,
    timeoutMs?: number,
  ): Promise<Outcome<unknown>> {
    return this.run(what, (c) => this.evalScript(c, script, keys, args), timeoutMs);
  }

  /** Publishes on a channel under the prefix; fire and forget (a lost message is caught by the periodic read). */
  publish(channel: string, message: string): void {
    void this.run(`publish ${channel}`, (c) => c.publish(this.key(channel), message));
  }

  /** Subscribes to a channel under the prefix (resubscribed by the client after a reconnect). */
  subscribe(channel: string, listener: (message: string) => void): void {
    const full = this.key(channel);
    const listeners = this.channels.get(full);
    if (listeners) {
      listeners.push(listener);
      return;
    }
    this.channels.set(full, [listener]);
    const dispatch = (message: string): void => {
      for (const l of [...(this.channels.get(full) ?? [])]) {
        try {
          l(message);
        } catch {
          // One listener's bug must not stop the others.
        }
      }
    };
    this.dispatchers.set(full, dispatch);
    if (this.subscriberReady) this.listen(full, dispatch);
  }

  private listen(channel: string, dispatch: (message: string) => void): void {
    const subscriber = this.subscriber;
    subscriber.subscribe(channel, dispatch).catch((error: unknown) => {
      // A client replaced by a topology refresh may fail its last subscriptions; the new one has them.
      if (subscriber === this.subscriber) this.onConnectionError(error);
    });
  }

  /** The subscriber connection is up for the first time: subscribe (node-redis resubscribes after reconnects). */
  private onSubscriberReady(): void {
    if (this.subscriberReady || this.closed) return;
    this.subscriberReady = true;
    for (const [channel, dispatch] of this.dispatchers) this.listen(channel, dispatch);
  }

  /** Called on every (re)connection, so state kept locally while Redis was away is resynchronised. */
  onUp(listener: () => void): void {
    this.upListeners.push(listener);
  }

  /** Seconds this replica has decided locally since start (Redis absent, failing or slow), current stretch included. */
  fallbackSeconds(): number {
    const current = this.downSince === undefined ? 0 : this.clock.now() - this.downSince;
    return (this.fallbackMsTotal + current) / 1_000;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopConnecting();
    const quit = async (c: { destroy(): void } | undefined): Promise<void> => {
      try {
        c?.destroy();
      } catch {
        // closing anyway
      }
    };
    await quit(this.standaloneSubscriber);
    await quit(this.standalone);
    await quit(this.cluster);
  }

  /** Topology refreshes that replaced the cluster client (a failover or a resharding seen without MOVED). */
  get topologyRefreshes(): number {
    return this.topology?.replaced ?? 0;
  }

  /** A fresh cluster client (ClusterTopologyRefresh) takes the old one's place, subscriptions and all. */
  private replaceCluster(fresh: ClusterClient): void {
    const old = this.cluster;
    this.cluster = fresh;
    this.subscriber = fresh;
    for (const [channel, dispatch] of this.dispatchers) this.listen(channel, dispatch);
    try {
      old?.destroy();
    } catch {
      // the old client is gone either way
    }
    this.markUp();
  }

  private markUp(): void {
    if (this.closed) return;
    if (this.downSince !== undefined) {
      this.fallbackMsTotal += this.clock.now() - this.downSince;
      this.downSince = undefined;
    }
    if (this.wasUp) this.logger.log?.('cluster state: Redis is back; resynchronising');
    this.wasUp = true;
    for (const l of [...this.upListeners]) {
      try {
        l();
      } catch {
        // observers never break the connection handling
      }
    }
  }

  private markDown(): void {
    if (this.downSince === undefined) this.downSince = this.clock.now();
  }

  private connectInBackground(): void {
    if (this.standalone) {
      this.standalone.connect().catch((error: unknown) => this.onConnectionError(error));
      this.standaloneSubscriber?.connect().catch((error: unknown) => this.onConnectionError(error));
      return;
    }
    this.stopConnecting = connectClusterInBackground(this.cluster!, {
      backoff: (attempt) => this.backoff(attempt),
      closed: () => this.closed,
      onError: (error) => this.onConnectionError(error),
      onConnected: () => {
        this.clusterConnected = true;
        this.onSubscriberReady();
        this.markUp();
      },
    });
  }

  private onConnectionError(error: unknown): void {
    if (this.closed) return;
    this.markDown();
    this.warnings.warn(
      'connection',
      `cluster state: Redis connection trouble (${this.describe(error)}); deciding locally until it is back`,
    );
  }

  private onLate(what: string, error: unknown): void {
    this.warnings.warn(`${what}:late`, `cluster state: ${what} failed late: ${this.describe(error)}`);
  }

  private describe(error: unknown): string {
    let text = maskUrlPasswords(error instanceof Error ? error.message : String(error));
    for (const secret of this.secrets) text = text.split(secret).join('***');
    return text;
  }

  private backoff(retries: number): number {
    return reconnectDelay(retries, RECONNECT_BASE_MS, RECONNECT_CAP_MS, this.random);
  }
}
