import { LuaScript, type ClusterRedis } from './cluster-redis';

/** Taken when free, or renewed by the replica that holds it. ARGV[1] replica, [2] TTL (ms). */
const TAKE = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

/**
 * One prober per OPEN provider per interval across the cluster: a replica probes a provider only while it holds
 * that provider's lock, a key with a TTL of one probe interval. The holder renews it at its next round; when it
 * dies the key lapses and the next replica whose round comes takes over (within one interval plus jitter).
 * Without Redis in time, every replica probes on its own, as in `cluster.mode: local`.
 */
export class ProbeLock {
  constructor(
    private readonly redis: ClusterRedis,
    private readonly replicaId: string,
  ) {}

  async tryTake(provider: string, ttlMs: number): Promise<boolean> {
    const outcome = await this.redis.script(
      'probe lock',
      TAKE,
      [this.redis.key(`probe:{${provider}}`)],
      [this.replicaId, Math.max(1, Math.round(ttlMs))],
    );
    return outcome.ok ? Number(outcome.value) === 1 : true;
  }
}
