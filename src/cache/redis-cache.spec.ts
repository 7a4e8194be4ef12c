import type { createCluster } from '@keyv/redis';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../config/config-error';
import { parseConfigText } from '../config/config-loader';
import { parseClusterNodes } from '../config/redis-seeds';
import { CacheConfig, RedisConfig } from '../config/relay-config';
import { RedisCluster } from '../../test/support/redis-cluster';
import {
  freePort,
  rawCommand,
  redisReachableSync,
  redisServerAvailable,
  RedisServer,
  redisTlsAvailable,
} from '../../test/support/redis-server';
import { describeCacheContract } from '../../test/unit/cache-contract';
import { CacheClosedError, CacheNotFoundError } from './cache';
import { RedisCache, RedisCacheLogger } from './redis-cache';

// Real Redis only. 127.0.0.1:6379 is the shared one (.ci/run makes sure it is up); the harness starts the
// servers these tests may kill, and a 3-master cluster. Without Redis the suites skip loudly, or fail under CI.
const LOCAL_PORT = 6379;
const hasLocalRedis = redisReachableSync('127.0.0.1', LOCAL_PORT);
const hasRedisBinaries = redisServerAvailable(['redis-server', 'redis-cli']);
const hasRedisTls = hasRedisBinaries && redisTlsAvailable();

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

  it('counts keys in the background at most once a minute (a SCAN walks the whole database), INFO every 10 s', async () => {
    const clock = new ManualClock();
    const cache = track(
      new RedisCache(
        config({ url: `redis://127.0.0.1:${LOCAL_PORT}`, key_prefix: localPrefix('count-rate') }),
        {
          clock,
        },
      ),
    );
    await cache.whenReady();
    const write = (from: number, n: number) =>
      cache.setMultiWithTTL(
        new Map(Array.from({ length: n }, (_, i) => [`k${from + i}`, Buffer.from('v')])),
        60_000,
      );
    /** What a scrape would read once the background refresh it started is over. */
    const scrape = async () => {
      cache.stats();
      await cache.refreshInFlight();
      return cache.stats();
    };

    await write(0, 5);
    expect((await scrape()).key_count).toBe(5);
    await write(5, 5);
    clock.t += 11_000;
    const afterInfoOnly = await scrape();
    expect(afterInfoOnly.key_count).toBe(5);
    expect(afterInfoOnly.bytes_used).toBeGreaterThan(0);
    clock.t += 50_000;
    expect((await scrape()).key_count).toBe(10);
    // An explicit refresh counts now.
    await write(10, 1);
    await cache.refreshStats();
    expect(cache.stats().key_count).toBe(11);
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

  it('a stalled Redis: a flush gives up after the admin timeout, saying so, instead of waiting for ever', async () => {
    if (!server.running) await server.restart();
    const { cache } = onServer();
    await cache.whenReady();
    await cache.set('k', Buffer.from('v'));

    await rawCommand(server.port, 'CLIENT PAUSE 4000 ALL');
    await expect(cache.flush()).rejects.toThrow(/did not answer SCAN within 1000 ms/);

    await vi.waitFor(async () => expect((await cache.get('k')).toString()).toBe('v'), { timeout: 8_000 });
    await cache.flush();
    await expectMiss(cache.get('k'));
    expect(unhandled).toEqual([]);
  });

  it('a stalled Redis: writes waiting for it hold at most maxPendingWriteBytes, the rest are dropped at once', async () => {
    if (!server.running) await server.restart();
    const cache = track(
      new RedisCache(config({ url: server.url, key_prefix: `t:${randomUUID()}:`, timeout_ms: 50 }), {
        logger: new RecordingLogger(),
        maxPendingWriteBytes: 1024 * 1024,
      }),
    );
    await cache.whenReady();
    const value = Buffer.alloc(256 * 1024, 1);
    const before = cache.stats();

    // Long enough for the writes below to time out while Redis holds them; it then answers by itself.
    await rawCommand(server.port, 'CLIENT PAUSE 3000 ALL');
    // Each write times out (and resolves) while its command still waits in the client's queue, value and all.
    await Promise.all(Array.from({ length: 8 }, (_, i) => cache.set(`big${i}`, value)));
    const stalled = cache.stats();
    expect(stalled.pending_write_bytes).toBe(4 * value.length);
    expect(stalled.dropped_writes - before.dropped_writes).toBe(4);
    await cache.setMultiWithTTL(new Map([['batch', value]]), 60_000);
    expect(cache.stats().dropped_writes - before.dropped_writes).toBe(5);

    // Once Redis answers, the queued writes land and give their bytes back.
    await vi.waitFor(() => expect(cache.stats().pending_write_bytes).toBe(0), { timeout: 10_000 });
    expect((await cache.get('big0')).length).toBe(value.length);
    await cache.set('after', value);
    expect(cache.stats().dropped_writes - before.dropped_writes).toBe(5);
    expect((await cache.get('after')).length).toBe(value.length);
    expect(unhandled).toEqual([]);
  });

  it('a stalled Redis: commands waiting for it stay within maxPendingCommands, the rest are misses or dropped at once', async () => {
    if (!server.running) await server.restart();
    const cache = track(
      new RedisCache(config({ url: server.url, key_prefix: `t:${randomUUID()}:`, timeout_ms: 50 }), {
        logger: new RecordingLogger(),
        maxPendingCommands: 20,
      }),
    );
    await cache.whenReady();
    await cache.set('k0', Buffer.from('v'));

    await rawCommand(server.port, 'CLIENT PAUSE 3000 ALL');
    // Every read answers (a miss, by the timeout at the latest) while Redis holds the first 20 commands.
    const reads = await Promise.all(Array.from({ length: 200 }, (_, i) => cache.find(`k${i}`)));
    expect(reads.every((v) => v === undefined)).toBe(true);
    const stalled = cache.stats();
    expect(stalled.pending_commands).toBe(20);
    expect(stalled.shed_commands).toBe(180);
    await cache.set('later', Buffer.from('x'));
    expect(cache.stats().pending_commands).toBe(20);
    expect(cache.stats().dropped_writes).toBe(1);

    // Once Redis answers, the held commands settle and the cache works again.
    await vi.waitFor(() => expect(cache.stats().pending_commands).toBe(0), { timeout: 10_000 });
    expect((await cache.get('k0')).toString()).toBe('v');
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

// A crashed or hung master's slots: node-redis only learns the new slot map from a MOVED/ASK reply, which that master
// never sends, so without a topology refresh its keys would stay misses (and writes dropped) until it came back.
describe.skipIf(!hasRedisBinaries).each([
  { signal: 'SIGKILL' as const, what: 'crashes' },
  { signal: 'SIGSTOP' as const, what: 'hangs' },
])('RedisCache when the master of a key $what and its replica takes over', ({ signal }) => {
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    cluster = await RedisCluster.start({ replicas: 1 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    await cluster?.stop();
  });

  it('answers misses within timeout_ms meanwhile, and caches that key again within a few seconds of the promotion', async () => {
    const timeoutMs = 50;
    const cache = new RedisCache(
      config({ cluster_nodes: cluster!.nodes, key_prefix: 'fo:', timeout_ms: timeoutMs }),
      { logger: { warn: () => undefined } },
    );
    await cache.whenReady();
    await cache.set('k', Buffer.from('before'));
    expect((await cache.get('k')).toString()).toBe('before');

    await cluster!.killMasterOf('fo:k', signal);
    let promoted = false;
    const promotion = cluster!.waitForPromotion('fo:k', 30_000).then(() => {
      promoted = true;
    });
    const waits: number[] = [];
    while (!promoted) {
      const started = performance.now();
      expect(await cache.find('k')).toBeUndefined();
      waits.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
    await promotion;
    expect(Math.max(...waits)).toBeLessThanOrEqual(timeoutMs + 100);

    // The replica holds the key written before (replication), and new writes to that slot land again.
    const backAt = Date.now();
    await vi.waitFor(
      async () => {
        await cache.set('k', Buffer.from('after'));
        expect((await cache.find('k'))?.toString()).toBe('after');
      },
      { timeout: 5_000, interval: 100 },
    );
    console.info(
      `cache after a failover (${signal}): caching again ${Date.now() - backAt} ms after the promotion`,
    );
  }, 60_000);
});

/** Fails when a secret, as written or URL-encoded, is in any of the texts. */
function expectNoSecret(texts: readonly string[], ...secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of [secret, encodeURIComponent(secret)]) {
      expect(texts.filter((t) => t.includes(form))).toEqual([]);
    }
  }
}

describe('cluster_nodes seeds: host:port or redis[s]:// URLs (no Redis needed)', () => {
  const ONE_PROVIDER = 'providers:\n  - name: a\n    keys: [{ key: sk-test-1234567890 }]\n';
  const withSeeds = (nodes: string[]) =>
    parseConfigText(
      `${ONE_PROVIDER}cache:\n  mode: ha\n  redis:\n    cluster_nodes: ${JSON.stringify(nodes)}\n`,
      'yaml',
      {},
    );
  const configError = (nodes: string[]): ConfigError => {
    try {
      withSeeds(nodes);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it('mixes host:port and URL seeds; the URL credentials (URL-decoded) apply to every seed', () => {
    const nodes = [
      '10.0.0.1:7000',
      'redis://app:p%40ss%2Fw%3Ard%25@10.0.0.2:7001',
      'redis://app:p%40ss%2Fw%3Ard%25@[::1]:7002',
    ];
    expect(withSeeds(nodes).config.cache.redis.cluster_nodes).toEqual(nodes);
    expect(parseClusterNodes(nodes)).toEqual({
      seeds: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
      username: 'app',
      password: 'p@ss/w:rd%',
    });
    // host:port only, as before: no credentials, no TLS.
    expect(parseClusterNodes(['h1:1', 'h2:2'])).toEqual({
      seeds: [
        { host: 'h1', port: 1 },
        { host: 'h2', port: 2 },
      ],
      tls: false,
    });
  });

  it('rediss:// turns TLS on for the whole cluster; a password alone needs no username', () => {
    expect(parseClusterNodes(['h1:6379', 'rediss://:s3cret@h2:6380'])).toEqual({
      seeds: [
        { host: 'h1', port: 6379 },
        { host: 'h2', port: 6380 },
      ],
      tls: true,
      password: 's3cret',
    });
  });

  it('seeds that disagree on scheme, username or password are a config error that shows no password', () => {
    const secret = 'hunter2hunter2TOPSECRET';
    const cases: [string[], RegExp][] = [
      [
        [`redis://:${secret}@h:1`, `rediss://:${secret}@h:2`],
        /cluster_nodes\[1\] disagrees with cluster_nodes\[0\] on the scheme/,
      ],
      [
        [`redis://a:${secret}@h:1`, 'h:2', `redis://b:${secret}@h:3`],
        /cluster_nodes\[2\] disagrees .* on the username/,
      ],
      [
        [`redis://:${secret}@h:1`, `redis://:${secret}X@h:2`],
        /cluster_nodes\[1\] disagrees .* on the password/,
      ],
      [[`redis://:${secret}@h:1`, 'redis://h:2'], /on the password/],
    ];
    for (const [nodes, why] of cases) {
      const err = configError(nodes);
      expect(err.problems).toEqual([
        {
          path: 'cache.redis.cluster_nodes',
          value: 'a list',
          expected: expect.stringMatching(why) as string,
        },
      ]);
      expect(err.message).not.toContain('TOPSECRET');
      // The validator's own message says what disagrees, and names no credential either.
      const redis = plainToInstance(RedisConfig, { cluster_nodes: nodes });
      const messages = validateSync(redis).flatMap((e) => Object.values(e.constraints ?? {}));
      expect(messages.join('\n')).toMatch(why);
      expect(messages.join('\n')).not.toContain('TOPSECRET');
      expect(() => parseClusterNodes(nodes)).toThrow(why);
      expect(() => new RedisCache(config({ cluster_nodes: nodes, key_prefix: 'x:' }))).toThrow(why);
    }
  });

  it('rejects malformed seeds one by one, with URL credentials masked', () => {
    const err = configError([
      'h:1',
      'redis://:hunter2hunter2@h',
      'http://h:1',
      'redis://:bad%zzTOPSECRET@h:2',
      'h:70000',
    ]);
    expect(err.problems.map((p) => p.path)).toEqual([
      'cache.redis.cluster_nodes[1]',
      'cache.redis.cluster_nodes[2]',
      'cache.redis.cluster_nodes[3]',
    ]);
    expect(err.message).toContain('got "redis://:hu…ter2@h"');
    expect(err.message).not.toContain('hunter2hunter2');
    expect(err.message).not.toContain('TOPSECRET');
    expect(() => parseClusterNodes(['h:70000'])).toThrow(/cluster_nodes\[0\] is not host:port/);
    expect(() => parseClusterNodes(['redis://:%E0%A4@h:1'])).toThrow(/badly URL-encoded/);
  });

  it('hands node-redis the credentials and tls: true as cluster defaults, keeping the client defaults', async () => {
    const nobody = await freePort();
    const cache = track(
      new RedisCache(
        config({
          cluster_nodes: [`rediss://ops:pa%3Ass@127.0.0.1:${nobody}`, `127.0.0.1:${nobody}`],
          key_prefix: 'x:',
        }),
        { logger: new RecordingLogger() },
      ),
    );
    // The client RedisCache's connection (redis-connection.ts) made.
    const options = (
      cache as unknown as {
        connection: { client: { _options: NonNullable<Parameters<typeof createCluster>[0]> } };
      }
    ).connection.client._options;
    expect(options.rootNodes).toEqual([
      { socket: { host: '127.0.0.1', port: nobody } },
      { socket: { host: '127.0.0.1', port: nobody } },
    ]);
    expect(options.defaults).toMatchObject({
      username: 'ops',
      password: 'pa:ss',
      disableOfflineQueue: true,
      commandsQueueMaxLength: 10_000,
      socket: { tls: true, connectTimeout: 2_000, reconnectStrategy: expect.any(Function) as unknown },
    });
  });
});

const CLUSTER_PASSWORD = `s3cret:p@ss/${RUN.slice(0, 8)}%`;

describe.skipIf(!hasRedisBinaries)('RedisCache on a password-protected Redis Cluster (harness)', () => {
  let cluster: RedisCluster | undefined;

  beforeAll(async () => {
    cluster = await RedisCluster.start({ password: CLUSTER_PASSWORD });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    await cluster?.stop();
  });

  it('redis://:<password>@ seeds: stores and reads on every master; the password never reaches the log', async () => {
    const logger = new RecordingLogger();
    // The password on one seed only: discovery (from the first, bare seed) and every master still get it.
    const seeds = [cluster!.nodes[0]!, cluster!.nodes[1]!, cluster!.urls()[2]!];
    expect(seeds[2]).toContain(encodeURIComponent(CLUSTER_PASSWORD));
    const cache = track(new RedisCache(config({ cluster_nodes: seeds, key_prefix: 'auth:' }), { logger }));
    await cache.whenReady();
    await cache.ping();
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
    await cache.setMultiWithTTL(new Map(keys.map((k) => [k, Buffer.from(k)])), 60_000);

    const perMaster = await Promise.all(cluster!.ports.map((p) => cluster!.command(p, 'DBSIZE')));
    expect(perMaster.every((reply) => /^:\d+/.test(reply) && Number(reply.slice(1)) > 0)).toBe(true);
    const found = await cache.getMulti(keys);
    expect([...found.values()].map((v) => v?.toString())).toEqual(keys);
    expect((await cache.get('key-7')).toString()).toBe('key-7');

    // A second replica with every seed as a URL sees the same entries.
    const other = track(
      new RedisCache(config({ cluster_nodes: cluster!.urls(), key_prefix: 'auth:' }), { logger }),
    );
    await other.whenReady();
    expect((await other.get('key-42')).toString()).toBe('key-42');
    expectNoSecret(logger.lines, CLUSTER_PASSWORD);
  });

  it('the same seeds without the password, or with a wrong one, fail open: misses, nothing thrown, no password logged', async () => {
    const authed = track(new RedisCache(config({ cluster_nodes: cluster!.urls(), key_prefix: 'open:' })));
    await authed.whenReady();
    await authed.set('k', Buffer.from('v'));
    const wrongPassword = `WRONG-${RUN}`;

    for (const [seeds, refusal] of [
      [cluster!.urls(null), /NOAUTH/],
      [cluster!.urls(wrongPassword), /WRONGPASS/],
    ] as const) {
      const logger = new RecordingLogger();
      const cache = track(
        new RedisCache(config({ cluster_nodes: [...seeds], key_prefix: 'open:' }), { logger }),
      );
      await expectMiss(cache.get('k'));
      expect(await cache.getMulti(['k'])).toEqual(new Map([['k', undefined]]));
      await expect(cache.set('k', Buffer.from('overwritten'))).resolves.toBeUndefined();
      await vi.waitFor(() => expect(logger.lines.join('\n')).toMatch(refusal), { timeout: 10_000 });
      const pingError = await cache.ping().then(
        () => 'answered',
        (error: unknown) => String(error),
      );
      expect(pingError).not.toBe('answered');
      expect(cache.stats().connected).toBe(0);
      expectNoSecret([...logger.lines, pingError], CLUSTER_PASSWORD, wrongPassword);
    }
    expect((await authed.get('k')).toString()).toBe('v');
    expect(unhandled).toEqual([]);
  });
});

describe.skipIf(!hasRedisTls)('RedisCache on a TLS + password Redis Cluster (harness)', () => {
  let cluster: RedisCluster | undefined;
  let rejectUnauthorized: string | undefined;

  beforeAll(async () => {
    cluster = await RedisCluster.start({ password: CLUSTER_PASSWORD, tls: true });
    // The harness certificate is self-signed and cache.redis has no CA setting (a managed Redis has a publicly
    // trusted one), so certificate checks are off while these tests run; the connections are still TLS.
    rejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    if (rejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = rejectUnauthorized;
    await cluster?.stop();
  });

  it('rediss:// seeds reach every master over TLS; redis:// to the same ports fails open', async () => {
    const logger = new RecordingLogger();
    const cache = track(
      new RedisCache(config({ cluster_nodes: cluster!.urls(), key_prefix: 'tls:' }), { logger }),
    );
    await cache.whenReady();
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    await cache.setMultiWithTTL(new Map(keys.map((k) => [k, Buffer.from(k)])), 60_000);
    const perMaster = await Promise.all(cluster!.ports.map((p) => cluster!.command(p, 'DBSIZE')));
    expect(perMaster.every((reply) => /^:\d+/.test(reply) && Number(reply.slice(1)) > 0)).toBe(true);
    const found = await cache.getMulti(keys);
    expect([...found.values()].map((v) => v?.toString())).toEqual(keys);

    const plain = cluster!.urls().map((url) => url.replace(/^rediss:/, 'redis:'));
    const plainLogger = new RecordingLogger();
    const insecure = track(
      new RedisCache(config({ cluster_nodes: plain, key_prefix: 'tls:' }), { logger: plainLogger }),
    );
    await expectMiss(insecure.get('key-1'));
    await vi.waitFor(() => expect(plainLogger.lines.some((l) => l.includes('connection error'))).toBe(true), {
      timeout: 10_000,
    });
    expectNoSecret([...logger.lines, ...plainLogger.lines], CLUSTER_PASSWORD);
  });
});
