import { createClient, createCluster } from '@keyv/redis';
import { parseClusterNodes } from '../config/redis-seeds';
import { within } from './within';

/**
 * The node-redis client of a `redis:` config section (cache.redis, cluster.redis): a Redis Cluster client when it
 * names cluster nodes, else a standalone client of its URL. Both fail commands at once while disconnected (no offline
 * queue: a queued read would only time out, a queued write arrive late and unbounded), bound their command queue,
 * reconnect by themselves, and hand every password the settings hold to `keepSecret` so messages can blank it out.
 * Credentials and TLS of a cluster go in `defaults`, not in the seeds: the nodes found by discovery need them too.
 */

export type StandaloneClient = ReturnType<typeof newStandalone>;
export type ClusterClient = ReturnType<typeof newCluster>;

export interface RedisClientOptions {
  url: string;
  clusterNodes: readonly string[];
  reconnectStrategy: (retries: number) => number;
  /** Connection-level errors (each reconnect attempt), from the client and, for a cluster, its nodes. */
  onError: (error: unknown) => void;
  keepSecret: (secret: string | undefined) => void;
}

export type RedisClients =
  { kind: 'cluster'; cluster: ClusterClient } | { kind: 'standalone'; standalone: StandaloneClient };

/**
 * The socket connect timeout and the command queue bound of every Redis client. One value each for the cache and
 * the cluster state on purpose: node-redis caches its client classes under the JSON of the last options it saw, and
 * two configurations that alternated (both refreshing their topology in a failover) would rebuild them, ~50 ms of
 * blocked event loop each time. The queue bound is a last resort: the cache sheds far earlier (MAX_PENDING_COMMANDS),
 * and cluster-state calls time out after cluster.redis.timeout_ms.
 */
const REDIS_CONNECT_TIMEOUT_MS = 2_000;
const COMMAND_QUEUE_MAX = 10_000;

function clientDefaults(o: RedisClientOptions) {
  return {
    disableOfflineQueue: true,
    commandsQueueMaxLength: COMMAND_QUEUE_MAX,
    socket: { connectTimeout: REDIS_CONNECT_TIMEOUT_MS, reconnectStrategy: o.reconnectStrategy },
  };
}

function newStandalone(o: RedisClientOptions) {
  return createClient({ url: o.url, ...clientDefaults(o) });
}

function newCluster(o: RedisClientOptions) {
  const defaults = clientDefaults(o);
  const access = parseClusterNodes(o.clusterNodes);
  o.keepSecret(access.password);
  return createCluster({
    rootNodes: access.seeds.map(({ host, port }) => ({ socket: { host, port } })),
    defaults: {
      ...defaults,
      ...(access.username !== undefined && { username: access.username }),
      ...(access.password !== undefined && { password: access.password }),
      socket: access.tls ? { ...defaults.socket, tls: true } : defaults.socket,
    },
  });
}

/** The cluster client of clients made from cluster seeds (which always make one). */
export function clusterOf(clients: RedisClients): ClusterClient {
  if (clients.kind !== 'cluster') throw new Error('cluster seeds gave a standalone client');
  return clients.cluster;
}

export function createRedisClient(o: RedisClientOptions): RedisClients {
  if (o.clusterNodes.length > 0) {
    const cluster = newCluster(o);
    cluster.on('error', o.onError);
    cluster.on('node-error', o.onError);
    return { kind: 'cluster', cluster };
  }
  o.keepSecret(urlPassword(o.url));
  const standalone = newStandalone(o);
  standalone.on('error', o.onError);
  return { kind: 'standalone', standalone };
}
/** The password of a redis:// URL (decoded), if it has one and parses. */
export function urlPassword(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}

/**
 * Whether a failed call may mean a Redis Cluster client's slot map is stale: a timeout, a connection-level error,
 * or a reply that a failover produces (CLUSTERDOWN, TRYAGAIN, MASTERDOWN, LOADING, READONLY). Other replies
 * (`ERR …` from a script, WRONGTYPE, NOSCRIPT, …) come from a node that answers, and say nothing of the topology.
 */
export function pointsAtTopology(failure: { timedOut: boolean; error?: unknown }): boolean {
  if (failure.timedOut) return true;
  const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
  const code = /^([A-Z]{3,})\b/.exec(message)?.[1];
  return code === undefined || TOPOLOGY_REPLIES.has(code);
}

const TOPOLOGY_REPLIES = new Set(['CLUSTERDOWN', 'TRYAGAIN', 'MASTERDOWN', 'LOADING', 'READONLY']);

export interface TopologyRefreshOptions {
  /**
   * A new, unconnected cluster client made with exactly the options of the first one: node-redis builds its client
   * classes (~400 commands) anew, ~50 ms of blocked event loop, whenever the options' JSON differs from the last
   * client's (a one-entry cache), so the seeds are not reordered; node-redis starts discovery at a random seed anyway.
   */
  build: () => ClusterClient;
  /** How long the fresh client may take to discover the slot map and connect (1 s). */
  connectTimeoutMs?: number;
  /** The most often a slot map is fetched (once a second). */
  intervalMs?: number;
  now: () => number;
  /** Whether the owner was closed (a fresh client is then destroyed, not handed over). */
  closed: () => boolean;
  /** The fresh client, connected: the owner puts it in the old one's place and destroys the old one. */
  replace: (fresh: ClusterClient) => void;
}

/**
 * A node-redis Cluster client learns a new slot map only from a MOVED/ASK reply, and a master that crashed or hangs
 * never sends one: after its replica is promoted, every command for its slots still goes to it, until it comes back.
 * So after a failed call that points at the topology, the owner asks for a refresh: a new client discovers the slot
 * map from the seeds (node-redis starts at a random one and tries them all), and once connected (within
 * connectTimeoutMs) it takes the old one's place. At most one refresh runs, and one starts per intervalMs.
 */
export class ClusterTopologyRefresh {
  private running = false;
  private lastAt = Number.NEGATIVE_INFINITY;
  /** Fresh clients put in place. */
  replaced = 0;

  private readonly connectTimeoutMs: number;
  private readonly intervalMs: number;

  constructor(private readonly o: TopologyRefreshOptions) {
    this.connectTimeoutMs = o.connectTimeoutMs ?? 1_000;
    this.intervalMs = o.intervalMs ?? 1_000;
  }

  /** After a failed call: refresh unless the failure says nothing of the topology or a refresh is recent. */
  afterFailure(failure: { timedOut: boolean; error?: unknown }): void {
    if (this.running || this.o.closed() || !pointsAtTopology(failure)) return;
    const now = this.o.now();
    if (now - this.lastAt < this.intervalMs) return;
    this.lastAt = now;
    this.running = true;
    void this.refresh().finally(() => {
      this.running = false;
    });
  }

  private async refresh(): Promise<void> {
    const fresh = this.o.build();
    // A connect that fails after the timer is of a client already destroyed below: nothing to report.
    const connected = await within(fresh.connect(), this.connectTimeoutMs, () => undefined);
    if (!connected.ok || this.o.closed()) {
      try {
        fresh.destroy();
      } catch {
        // it never connected
      }
      return;
    }
    this.replaced += 1;
    this.o.replace(fresh);
  }
}

/** A reconnect delay: base·2^retries capped at capMs, with jitter (50–100% of it) so replicas do not stampede. */
export function reconnectDelay(retries: number, baseMs: number, capMs: number, random: () => number): number {
  const capped = Math.min(baseMs * 2 ** retries, capMs);
  return Math.round(capped * (0.5 + random() / 2));
}

export interface BackgroundConnectOptions {
  /** The wait before attempt n + 1 after attempt n failed. */
  backoff: (attempt: number) => number;
  closed: () => boolean;
  onError: (error: unknown) => void;
  onConnected: () => void;
}

/**
 * Connects a cluster client in the background. node-redis does not retry a cluster's first topology discovery, so a
 * failed connect is tried again after `backoff(attempt)` until it succeeds or the owner is closed; a client that
 * connects after its owner was closed is destroyed. Returns what close() calls to stop the retries.
 */
export function connectClusterInBackground(cluster: ClusterClient, o: BackgroundConnectOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  const attempt = (n: number): void => {
    if (o.closed()) return;
    cluster.connect().then(
      () => {
        if (!o.closed()) return o.onConnected();
        try {
          cluster.destroy();
        } catch {
          // closed while connecting: nothing left to release
        }
      },
      (error: unknown) => {
        o.onError(error);
        if (o.closed()) return;
        timer = setTimeout(() => attempt(n + 1), o.backoff(n));
        timer.unref();
      },
    );
  };
  attempt(0);
  return () => clearTimeout(timer);
}
