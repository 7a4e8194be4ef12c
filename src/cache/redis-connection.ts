import { within } from '../common/within';
import type { RateLimitedWarn } from '../common/rate-limited-warn';
import { maskUrlPasswords } from '../config/mask';
import {
  ClusterTopologyRefresh,
  clusterOf,
  connectClusterInBackground,
  createRedisClient,
  reconnectDelay,
  type ClusterClient,
  type StandaloneClient,
} from '../common/redis-clients';
import type { CacheConfig } from '../config/relay-config';
import { CacheClosedError } from './cache';

/**
 * The connection of the `ha` cache: one node-redis client (standalone or Cluster) that connects in the background,
 * reconnects by itself with a jittered backoff, fails commands at once while disconnected, and keeps its
 * credentials out of every message (RedisCache does the operations, RedisServerStats the server's numbers). A
 * Cluster client is replaced by one with a fresh slot map after failed calls (`afterFailure`, see
 * ClusterTopologyRefresh): without it the slots of a crashed or hung master stay misses after its replica took over.
 */

export type { ClusterClient, StandaloneClient };
/** The node-level commands the cache sends itself (ping, scan, unlink, info). */
export type NodeClient = Pick<StandaloneClient, 'ping' | 'scan' | 'unlink' | 'info'>;

// Reconnect: 50 ms doubling to a 2 s cap, with jitter so replicas do not stampede a Redis that comes back.
const RECONNECT_BASE_MS = 50;
const RECONNECT_CAP_MS = 2_000;
const SCAN_COUNT = 1_000;

/** One Redis connection of the cache, standalone or Cluster. */
export class RedisConnection {
  /** Connection-level errors reported by the client (each reconnect attempt counts). */
  connectionErrors = 0;
  private readonly standalone: StandaloneClient | undefined;
  private cluster: ClusterClient | undefined;
  private readonly topology: ClusterTopologyRefresh | undefined;
  private readonly replacedListeners: Array<(client: ClusterClient) => void> = [];
  /** Replaced Cluster clients, destroyed after a grace for the commands already sent on them (or on close). */
  private readonly retired = new Set<ClusterClient>();
  /** Credentials this cache knows, blanked out of every message it logs or throws (belt and braces). */
  private readonly secrets: string[] = [];
  private isClosed = false;
  private readonly ready: Promise<void>;
  private settleReady: (error?: Error) => void = () => undefined;
  private clusterConnected = false;
  private stopConnecting: () => void = () => undefined;

  constructor(
    redis: CacheConfig['redis'],
    private readonly warnings: RateLimitedWarn,
    private readonly random: () => number,
    /** ping(), flush() and the stats walks are admin/health paths: they may wait longer than a request. */
    readonly adminTimeoutMs: number,
  ) {
    const clientsFor = () =>
      createRedisClient({
        url: redis.url,
        clusterNodes: redis.cluster_nodes,
        reconnectStrategy: (retries) => this.backoff(retries),
        onError: (error) => this.onConnectionError(error),
        keepSecret: (secret) => this.keepSecret(secret),
      });
    const clients = clientsFor();
    this.cluster = clients.kind === 'cluster' ? clients.cluster : undefined;
    this.standalone = clients.kind === 'standalone' ? clients.standalone : undefined;
    if (this.cluster) {
      this.topology = new ClusterTopologyRefresh({
        build: () => clusterOf(clientsFor()),
        now: () => Date.now(),
        closed: () => this.isClosed || !this.clusterConnected,
        replace: (fresh) => this.replaceCluster(fresh),
      });
    }

    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => (error ? reject(error) : resolve());
    });
    this.ready.catch(() => undefined); // nobody has to wait for it
  }

  /** The client commands go through now (a Cluster client may be replaced: see onReplaced). */
  get client(): StandaloneClient | ClusterClient {
    return this.cluster ?? (this.standalone as StandaloneClient);
  }

  /** Called with each fresh Cluster client once it has taken the old one's place. */
  onReplaced(listener: (client: ClusterClient) => void): void {
    this.replacedListeners.push(listener);
  }

  /** A call failed or timed out: with a Cluster, its slot map may be stale (ClusterTopologyRefresh decides). */
  afterFailure(failure: { timedOut: boolean; error?: unknown }): void {
    this.topology?.afterFailure(failure);
  }

  /** Cluster clients that replaced the first one (failovers or reshardings seen without a MOVED reply). */
  get topologyRefreshes(): number {
    return this.topology?.replaced ?? 0;
  }

  private replaceCluster(fresh: ClusterClient): void {
    const old = this.cluster;
    this.cluster = fresh;
    for (const listener of this.replacedListeners) listener(fresh);
    if (!old) return;
    // Commands already sent on the old client get a moment to finish; it is not used again.
    this.retired.add(old);
    setTimeout(() => this.retire(old), this.adminTimeoutMs).unref();
  }

  private retire(client: ClusterClient): void {
    if (!this.retired.delete(client)) return;
    try {
      client.destroy();
    } catch {
      // gone either way
    }
  }

  /**
   * Resolves once the first connection is up (rejects with CacheClosedError if closed first). Nothing needs
   * to wait for it, the cache works (as misses) before; it is for start-up logs and tests.
   */
  async whenReady(): Promise<void> {
    return this.ready;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Disconnects; every later call rejects with CacheClosedError. In-flight writes get a short grace. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.settleReady(new CacheClosedError());
    this.stopConnecting();
    for (const old of [...this.retired]) this.retire(old);
    const client = this.cluster ?? this.standalone;
    if (!client) return;
    try {
      const graceful = within(client.close(), this.adminTimeoutMs);
      if (!(await graceful).ok) client.destroy();
    } catch {
      // close() throws when the socket was never opened; nothing to release then
    }
  }

  /** The keys under `prefix` on one node, a SCAN page at a time (each within the admin timeout). */
  async *scanPrefix(node: NodeClient, prefix: string): AsyncGenerator<string[]> {
    const match = `${escapeGlob(prefix)}*`;
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
  async answered<T>(op: Promise<T>, what: string): Promise<T> {
    const outcome = await within(op, this.adminTimeoutMs);
    if (outcome.ok) return outcome.value;
    throw new Error(
      outcome.timedOut
        ? `cache: redis did not answer ${what} within ${this.adminTimeoutMs} ms`
        : `cache: redis ${what} failed: ${this.errorText(outcome.error)}`,
    );
  }

  /** The clients of every master (the one client when standalone); rejects when Redis is unreachable. */
  async masters(): Promise<NodeClient[]> {
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

  private onConnectionError(error: unknown): void {
    this.connectionErrors++;
    this.warnings.warn('connection', `cache: redis connection error, reconnecting: ${this.errorText(error)}`);
  }

  /** An error as one line, with URL credentials masked and every credential of this cache blanked out. */
  errorText(error: unknown): string {
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

  /** Whether commands can be sent now (false once closed). */
  connected(): boolean {
    if (this.isClosed) return false;
    if (this.standalone) return this.standalone.isReady;
    return this.clusterConnected;
  }

  /** Never blocks the caller (nor app start): the first connection is made in the background. */
  connectInBackground(): void {
    if (this.standalone) {
      // With a reconnect strategy that never gives up, connect() settles only once connected (or closed).
      this.standalone.connect().then(
        () => this.settleReady(),
        (error: unknown) => this.onConnectionError(error),
      );
      return;
    }
    this.stopConnecting = connectClusterInBackground(this.cluster!, {
      backoff: (attempt) => this.backoff(attempt),
      closed: () => this.isClosed,
      onError: (error) => this.onConnectionError(error),
      onConnected: () => {
        this.clusterConnected = true;
        this.settleReady();
      },
    });
  }

  private backoff(retries: number): number {
    return reconnectDelay(retries, RECONNECT_BASE_MS, RECONNECT_CAP_MS, this.random);
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
