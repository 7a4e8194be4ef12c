import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CacheConfig } from '../config/relay-config';
import { RedisCluster } from '../../test/support/redis-cluster';
import {
  freePort,
  rawCommand,
  redisReachableSync,
  redisServerAvailable,
  RedisServer,
} from '../../test/support/redis-server';
import { describeCacheContract } from '../../test/unit/cache-contract';
import { CacheClosedError, CacheNotFoundError } from './cache';
import { RedisCache, RedisCacheLogger } from './redis-cache';

// Real Redis only. 127.0.0.1:6379 is the shared one (.ci/run makes sure it is up); the harness starts the
// servers these tests may kill, and a 3-master cluster. Without Redis the suites skip loudly, or fail under CI.
const LOCAL_PORT = 6379;
const hasLocalRedis = redisReachableSync('127.0.0.1', LOCAL_PORT);
const hasRedisBinaries = redisServerAvailable(['redis-server', 'redis-cli']);

const RUN = randomUUID();
// Roomy for the functional tests on a busy machine; the fail-open tests below use the real default (50 ms).
const FUNCTIONAL_TIMEOUT_MS = 500;

/** A logger that keeps what it was told. */
class RecordingLogger implements RedisCacheLogger {
  readonly lines: string[] = [];
  warn(message: string): void {
    this.lines.push(message);
  }
}

/** A clock that only moves when told to (log rate limiting and stats staleness read it). */
class ManualClock {
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
}

function config(redis: {
  url?: string;
  cluster_nodes?: string[];
  key_prefix: string;
  timeout_ms?: number;
}): CacheConfig {
  const c = new CacheConfig();
  c.mode = 'ha';
  c.ttl_ms = 60_000;
  if (redis.url !== undefined) c.redis.url = redis.url;
  if (redis.cluster_nodes !== undefined) c.redis.cluster_nodes = redis.cluster_nodes;
  c.redis.key_prefix = redis.key_prefix;
  c.redis.timeout_ms = redis.timeout_ms ?? FUNCTIONAL_TIMEOUT_MS;
  return c;
}

/** Every cache a test makes, closed after it even when it fails. */
const opened: RedisCache[] = [];
function track(cache: RedisCache): RedisCache {
  opened.push(cache);
  return cache;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

async function expectMiss(p: Promise<Buffer>): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(CacheNotFoundError);
}

/** Waits (polling, bounded) until the cache is connected again. */
async function waitUntilServing(cache: RedisCache): Promise<void> {
  await vi.waitFor(() => cache.ping(), { timeout: 15_000, interval: 50 });
}

describe.skipIf(!hasLocalRedis)('RedisCache on 127.0.0.1:6379', () => {
  const prefixes: string[] = [];
  const localPrefix = (name: string): string => {
    const p = `cc-relay-test:${RUN}:${name}:`;
    prefixes.push(p);
    return p;
  };
  const local = (name: string, extra: Partial<Parameters<typeof config>[0]> = {}): RedisCache =>
    track(
      new RedisCache(
        config({ url: `redis://127.0.0.1:${LOCAL_PORT}`, key_prefix: localPrefix(name), ...extra }),
      ),
    );

  afterAll(async () => {
    // Leave nothing behind on the shared Redis.
    for (const prefix of prefixes) {
      const cleaner = new RedisCache(config({ url: `redis://127.0.0.1:${LOCAL_PORT}`, key_prefix: prefix }));
      await cleaner.whenReady();
      await cleaner.flush();
      await cleaner.close();
    }
  });

  let contractRun = 0;
  describeCacheContract('ha (Redis standalone)', async () => {
    const cache = new RedisCache(
      config({
        url: `redis://127.0.0.1:${LOCAL_PORT}`,
        key_prefix: localPrefix(`contract-${contractRun++}`),
      }),
    );
    await cache.whenReady();
    return cache;
  });

  it('stores keys as <key_prefix><key>, and flush() deletes only its own prefix', async () => {
    // The second prefix would match the first one's SCAN pattern if glob characters were not escaped.
    const a = local('iso-a*');
    const b = local('iso-ab');
    await Promise.all([a.whenReady(), b.whenReady()]);
    const outsider = `cc-relay-test:${RUN}:outsider`;
    await rawCommand(LOCAL_PORT, `SET ${outsider} untouched`);

    try {
      await a.set('k', Buffer.from('from a'));
      await b.set('k', Buffer.from('from b'));
      expect((await a.get('k')).toString()).toBe('from a');
      expect((await b.get('k')).toString()).toBe('from b');
      expect(await rawCommand(LOCAL_PORT, `EXISTS cc-relay-test:${RUN}:iso-a*:k`)).toBe(':1\r\n');

      await a.flush();
      await expectMiss(a.get('k'));
      expect((await b.get('k')).toString()).toBe('from b');
      expect(await rawCommand(LOCAL_PORT, `GET ${outsider}`)).toContain('untouched');
    } finally {
      await rawCommand(LOCAL_PORT, `DEL ${outsider}`);
    }
  });

  it('two replicas share entries: one writes, the other hits; a delete is seen by both', async () => {
    const prefix = localPrefix('replicas');
    const url = `redis://127.0.0.1:${LOCAL_PORT}`;
    const replica1 = track(new RedisCache(config({ url, key_prefix: prefix })));
    const replica2 = track(new RedisCache(config({ url, key_prefix: prefix })));
    await Promise.all([replica1.whenReady(), replica2.whenReady()]);

    await replica1.set('answer', Buffer.from([0, 1, 2, 255]));
    expect((await replica2.get('answer')).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
    expect(replica2.stats().hits).toBe(1);
    await replica2.delete('answer');
    await expectMiss(replica1.get('answer'));
  });

  it('refreshStats counts the keys under the prefix and reads memory and evictions from INFO', async () => {
    const cache = local('stats');
    await cache.whenReady();
    await cache.setMultiWithTTL(
      new Map(Array.from({ length: 25 }, (_, i) => [`k${i}`, Buffer.from('v')])),
      60_000,
    );
    await cache.refreshStats();
    const stats = cache.stats();
    expect(stats.key_count).toBe(25);
    expect(stats.bytes_used).toBeGreaterThan(0);
    expect(stats.evictions).toBeGreaterThanOrEqual(0);
    expect(stats.connected).toBe(1);
  });
});

describe.skipIf(!hasRedisBinaries)('RedisCache when Redis fails (harness redis-server)', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    await server?.dispose();
  });

  function onServer(clock = new ManualClock(), logger = new RecordingLogger(), timeout_ms = 50) {
    const cache = track(
      new RedisCache(config({ url: server.url, key_prefix: `t:${randomUUID()}:`, timeout_ms }), {
        clock,
        logger,
      }),
    );
    return { cache, clock, logger };
  }

  it('Redis killed under load: reads are misses, writes resolve, nothing is thrown; hits resume after restart', async () => {
    if (!server.running) await server.restart();
    const { cache, logger } = onServer();
    await cache.whenReady();
    await cache.set('hot', Buffer.from('cached'));
    expect((await cache.get('hot')).toString()).toBe('cached');

    await server.stop();
    const before = cache.stats();
    const load = 40;
    const reads = Array.from({ length: load }, (_, i) => cache.get(i % 2 ? 'hot' : `k${i}`));
    const writes = Array.from({ length: load }, (_, i) => cache.set(`w${i}`, Buffer.from('x')));
    const settled = await Promise.allSettled([
      ...reads,
      ...writes,
      cache.exists('hot'),
      cache.getMulti(['hot']),
    ]);

    const readResults = settled.slice(0, load);
    expect(readResults.every((r) => r.status === 'rejected' && r.reason instanceof CacheNotFoundError)).toBe(
      true,
    );
    expect(settled.slice(load, 2 * load).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(settled[2 * load]).toEqual({ status: 'fulfilled', value: false });
    expect(settled[2 * load + 1]).toEqual({ status: 'fulfilled', value: new Map([['hot', undefined]]) });

    const after = cache.stats();
    expect(after.misses - before.misses).toBe(load + 1);
    expect(after.hits).toBe(before.hits);
    // Each failed operation is accounted for, as an error or as a timeout.
    expect(after.errors + after.timeouts - before.errors - before.timeouts).toBeGreaterThanOrEqual(load + 2);
    await vi.waitFor(() => expect(cache.stats().dropped_writes - before.dropped_writes).toBe(load));
    await expect(cache.ping()).rejects.toThrow();

    // The clock did not move: one line per kind of trouble, not one per dropped write.
    expect(logger.lines.filter((l) => l.includes('dropped a redis set'))).toHaveLength(1);
    expect(logger.lines.length).toBeLessThanOrEqual(4);

    await server.restart();
    await waitUntilServing(cache);
    expect(cache.stats().connected).toBe(1);
    await cache.set('hot', Buffer.from('cached again'));
    expect((await cache.get('hot')).toString()).toBe('cached again');
    expect(unhandled).toEqual([]);
  });

  it('a slow Redis: a read that outlives timeout_ms is a miss counted as a timeout', async () => {
    if (!server.running) await server.restart();
    const { cache } = onServer();
    await cache.whenReady();
    await cache.set('k', Buffer.from('v'));
    const before = cache.stats();

    await rawCommand(server.port, 'CLIENT PAUSE 1000 ALL');
    await expectMiss(cache.get('k'));
    expect(cache.stats().timeouts - before.timeouts).toBe(1);
    expect(cache.stats().misses - before.misses).toBe(1);

    // Once Redis answers again, so does the cache.
    await vi.waitFor(async () => expect((await cache.get('k')).toString()).toBe('v'), { timeout: 5_000 });
    expect(unhandled).toEqual([]);
  });

  it('does not wait for Redis at start: down at construction, misses at once, connects when Redis comes up', async () => {
    await server.stop();
    const { cache, logger } = onServer();
    await expectMiss(cache.get('k'));
    await expect(cache.set('k', Buffer.from('v'))).resolves.toBeUndefined();
    await expect(cache.ping()).rejects.toThrow();
    expect(cache.stats().connected).toBe(0);
    await vi.waitFor(() => expect(logger.lines.some((l) => l.includes('connection error'))).toBe(true));

    await server.restart();
    await cache.whenReady();
    await cache.set('k', Buffer.from('v'));
    expect((await cache.get('k')).toString()).toBe('v');
    expect(unhandled).toEqual([]);
  });

  it('close() while Redis is unreachable resolves, and later calls reject with CacheClosedError', async () => {
    const nobody = await freePort();
    const cache = new RedisCache(config({ url: `redis://127.0.0.1:${nobody}`, key_prefix: 'x:' }), {
      logger: new RecordingLogger(),
    });
    const ready = cache.whenReady();
    await expect(cache.close()).resolves.toBeUndefined();
    await expect(ready).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.ping()).rejects.toBeInstanceOf(CacheClosedError);
  });

  it('a cluster whose seeds are all down: misses at once, closes cleanly', async () => {
    const nobody = await freePort();
    const cache = new RedisCache(config({ cluster_nodes: [`127.0.0.1:${nobody}`], key_prefix: 'x:' }), {
      logger: new RecordingLogger(),
    });
    await expectMiss(cache.get('k'));
    await expect(cache.set('k', Buffer.from('v'))).resolves.toBeUndefined();
    await expect(cache.flush()).rejects.toThrow();
    await expect(cache.close()).resolves.toBeUndefined();
    expect(unhandled).toEqual([]);
  });
});

describe.skipIf(!hasRedisBinaries)('RedisCache on a 3-master Redis Cluster (harness)', () => {
  let cluster: RedisCluster | undefined;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    await cluster?.stop();
  });

  const onCluster = (prefix: string): RedisCache =>
    track(new RedisCache(config({ cluster_nodes: cluster!.nodes, key_prefix: prefix })));

  let contractRun = 0;
  describeCacheContract('ha (Redis Cluster)', async () => {
    const cache = new RedisCache(config({ cluster_nodes: cluster!.nodes, key_prefix: `c${contractRun++}:` }));
    await cache.whenReady();
    return cache;
  });

  it('spreads keys over every master; flush() clears the prefix on all of them and nothing else', async () => {
    const mine = onCluster('mine:');
    const other = onCluster('other:');
    await Promise.all([mine.whenReady(), other.whenReady()]);
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
    await mine.setMultiWithTTL(new Map(keys.map((k) => [k, Buffer.from(k)])), 60_000);
    await other.set('survivor', Buffer.from('still here'));

    // Every master holds some of them (the keys really are spread over the slots).
    const perMaster = await Promise.all(cluster!.ports.map((p) => rawCommand(p, 'DBSIZE')));
    expect(perMaster.every((reply) => Number(reply.slice(1)) > 0)).toBe(true);
    await mine.refreshStats();
    expect(mine.stats().key_count).toBe(60);

    const found = await mine.getMulti(keys);
    expect([...found.values()].every((v, i) => v?.toString() === keys[i])).toBe(true);

    await mine.flush();
    const afterFlush = await mine.getMulti(keys);
    expect([...afterFlush.values()].every((v) => v === undefined)).toBe(true);
    expect((await other.get('survivor')).toString()).toBe('still here');
    await mine.refreshStats();
    expect(mine.stats().key_count).toBe(0);
  });

  it('close() during the first connection leaves no connection behind', async () => {
    const clients = async () =>
      Promise.all(
        cluster!.ports.map(
          async (p) => /connected_clients:(\d+)/.exec(await rawCommand(p, 'INFO clients'))?.[1],
        ),
      );
    for (let i = 0; i < 5; i++) {
      const cache = new RedisCache(config({ cluster_nodes: cluster!.nodes, key_prefix: 'early:' }));
      await cache.close();
    }
    // Only the INFO connection itself remains on each node.
    await vi.waitFor(async () => expect(await clients()).toEqual(cluster!.ports.map(() => '1')), {
      timeout: 5_000,
    });
  });

  it('two replicas on the cluster see each other’s writes', async () => {
    const a = onCluster('shared:');
    const b = onCluster('shared:');
    await Promise.all([a.whenReady(), b.whenReady()]);
    await a.ping();
    await a.set('x', Buffer.from('from a'));
    expect((await b.get('x')).toString()).toBe('from a');
  });
});
