/**
 * The shared Redis connection of `cluster.mode: redis` (a ClusterRedis), or null with `cluster.mode: local`.
 * Inject with `@Inject(CLUSTER_REDIS) redis: ClusterRedis | null`; ClusterModule is global.
 */
export const CLUSTER_REDIS = Symbol('CLUSTER_REDIS');

/** This replica's id in the cluster (a string, see replica-id.ts). */
export const REPLICA_ID = Symbol('REPLICA_ID');

/** The cluster-wide probe lock (a ProbeLock), or null with `cluster.mode: local`. */
export const PROBE_LOCK = Symbol('PROBE_LOCK');
