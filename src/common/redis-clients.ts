import { createClient, createCluster } from '@keyv/redis';
import { parseClusterNodes } from '../config/redis-seeds';

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
  connectTimeoutMs: number;
  commandsQueueMaxLength: number;
  reconnectStrategy: (retries: number) => number;
  /** Connection-level errors (each reconnect attempt), from the client and, for a cluster, its nodes. */
  onError: (error: unknown) => void;
  keepSecret: (secret: string | undefined) => void;
}

export type RedisClients =
  { kind: 'cluster'; cluster: ClusterClient } | { kind: 'standalone'; standalone: StandaloneClient };

function clientDefaults(o: RedisClientOptions) {
  return {
    disableOfflineQueue: true,
    commandsQueueMaxLength: o.commandsQueueMaxLength,
    socket: { connectTimeout: o.connectTimeoutMs, reconnectStrategy: o.reconnectStrategy },
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
