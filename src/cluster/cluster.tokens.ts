/**
 * The shared Redis connection of `cluster.mode: redis` (a ClusterRedis), or null with `cluster.mode: local`.
 * Inject with `@Inject(CLUSTER_REDIS) redis: ClusterRedis | null`; ClusterModule is global.
 */
export const CLUSTER_REDIS = Symbol('CLUSTER_REDIS');

/** This replica's identity in the cluster (a ReplicaIdentity). */
export const REPLICA_IDENTITY = Symbol('REPLICA_IDENTITY');
