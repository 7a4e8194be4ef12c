import { createClient } from '@keyv/redis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterRedis } from '../cluster/cluster-redis';
import { systemClock } from '../common/clock';
import type { Outcome } from '../common/within';
import { KeyPool, type KeyPick, type PoolKeyConfig } from './key-pool';
import { keyFingerprint } from './key-sync';
import { RedisCluster } from '../../test/support/redis-cluster';
import {
  rawCommand,
  redisReachableSync,
  RedisServer,
  redisServerAvailable,
} from '../../test/support/redis-server';
import { SharedKeyPools, type KeyPoolScript, type SharedKeyRedis } from './shared-key-pools';

// Real Redis only, through the cluster's real connection (ClusterRedis): the shared Redis on 6379 (unique
// prefixes), a private redis-server for the outage tests, and the cache tests' 3-master cluster harness. Each
// "replica" is a connection, a SharedKeyPools and a KeyPool of its own.
const hasLocalRedis = redisReachableSync('127.0.0.1', 6379);
const hasRedisBinaries = redisServerAvailable(['redis-server', 'redis-cli']);
const RUN = randomUUID().slice(0, 8);
// Roomy for the functional tests on a busy machine; the outage tests use the real default (50 ms).
const FUNCTIONAL_TIMEOUT_MS = 1_000;
const SECRET = 'sk-ant-api03-shared-key-pool-test-secret-000';

/** Counts the scripts a replica sends: each is one round trip (EVALSHA; an EVAL after NOSCRIPT once per node). */
class CountingRedis implements SharedKeyRedis {
  calls = 0;
  constructor(readonly inner: ClusterRedis) {}
  get timeoutMs(): number {
    return this.inner.timeoutMs;
  }
  key(suffix: string): string {
    return this.inner.key(suffix);
  }
  script(
    what: string,
    script: KeyPoolScript,
    keys: string[],
    args: Array<string | number>,
  ): Promise<Outcome<unknown>> {
    this.calls++;
    return this.inner.script(what, script, keys, args);
  }
  subscribe(channel: string, listener: (message: string) => void): void {
    this.inner.subscribe(channel, listener);
  }
  onUp(listener: () => void): void {
    this.inner.onUp(listener);
  }
}

class RecordingLogger {
  readonly warnings: string[] = [];
  readonly lines: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }
  log(message: string): void {
    this.lines.push(message);
  }
}

interface Replica {
  pool: KeyPool;
  shared: SharedKeyPools;
  transport: CountingRedis;
  logger: RecordingLogger;
  close(): Promise<void>;
}

/** Where a replica's connection goes: a standalone URL or cluster seeds. */
type Target = { url: string } | { cluster_nodes: string[] };

const opened: Replica[] = [];

async function replica(
  target: Target,
  prefix: string,
  keys: PoolKeyConfig[],
  options: { timeoutMs?: number; windowMs?: number; pollMs?: number } = {},
): Promise<Replica> {
  const connection = new ClusterRedis(
    { ...target, key_prefix: prefix, timeout_ms: options.timeoutMs ?? FUNCTIONAL_TIMEOUT_MS },
    { logger: { warn: () => undefined, log: () => undefined } },
  );
  await waitUntil(() => connection.isUp(), 10_000);
  // KeyPoolSharingService injects the cluster's ClusterRedis as a SharedKeyRedis: it must have that shape.
  const asInjected: SharedKeyRedis = connection;
  const transport = new CountingRedis(asInjected as ClusterRedis);
  const logger = new RecordingLogger();
  const shared = new SharedKeyPools(
    transport,
    { windowMs: options.windowMs, pollMs: options.pollMs },
    logger,
  );
  const pool = new KeyPool('anthropic', keys, systemClock, Math.random, { windowMs: options.windowMs });
  shared.attach(pool);
  await shared.start();
  // The subscription is made in the background: give it a moment.
  await sleep(50);
  const r: Replica = {
    pool,
    shared,
    transport,
    logger,
    close: async () => {
      await shared.stop();
      await connection.close();
    },
  };
  opened.push(r);
  return r;
}

function key(secret: string, limits: Partial<PoolKeyConfig> = {}): PoolKeyConfig {
  return { key: secret, rpm_limit: 0, itpm_limit: 0, otpm_limit: 0, weight: 1, ...limits };
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - started;
}

/** A replica's pick as a promise (acquire answers at once when it needs no round trip). */
const acquire = async (r: Replica): Promise<KeyPick> => r.pool.acquire();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function keyIdOf(pick: KeyPick): string {
  if (pick.kind !== 'key') throw new Error(`expected a key, got ${pick.kind}`);
  return pick.keyId;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => r.close()));
});

describe.skipIf(!hasLocalRedis)('SharedKeyPools on a real Redis', () => {
  const url = { url: 'redis://127.0.0.1:6379' };
  let n = 0;
  const prefix = () => `cc-relay-test:${RUN}:${n++}:`;

  it('a 429 with retry-after on one replica keeps every replica off the key, within 1 s, for the retry-after', async () => {
    const p = prefix();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => replica(url, p, [key(SECRET)])));
    const picked = await a!.pool.acquire();
    const started = Date.now();
    a!.pool.release(keyIdOf(picked));
    a!.pool.recordResponse(keyIdOf(picked), 429, { 'retry-after': '2' });

    const lagB = await waitUntil(() => !b!.pool.hasAvailableKey(), 1_000);
    const lagC = await waitUntil(() => !c!.pool.hasAvailableKey(), 1_000);
    expect(Math.max(lagB, lagC)).toBeLessThan(1_000);
    const blocked = await b!.pool.acquire();
    expect(blocked.kind).toBe('exhausted');
    if (blocked.kind === 'exhausted') expect(blocked.retryAfterMs).toBeGreaterThan(1_000);
    // Still off the key just before the 2 s are over, back right after.
    await sleep(Math.max(0, 1_850 - (Date.now() - started)));
    expect(c!.pool.hasAvailableKey()).toBe(false);
    await sleep(Math.max(0, 2_050 - (Date.now() - started)));
    expect((await c!.pool.acquire()).kind).toBe('key');
    expect((await b!.pool.acquire()).kind).toBe('key');
  });

  it('a replica that missed the message (subscribed later) still honours the cooldown from the periodic read', async () => {
    const p = prefix();
    const a = await replica(url, p, [key(SECRET)]);
    const picked = await a.pool.acquire();
    a.pool.release(keyIdOf(picked));
    a.pool.recordResponse(keyIdOf(picked), 429, { 'retry-after': '5' });
    await sleep(100);
    const late = await replica(url, p, [key(SECRET)]);
    expect(late.pool.hasAvailableKey()).toBe(false);
  });

  it('a parked key (401 confirmed) is parked on every replica; a success elsewhere brings it back everywhere', async () => {
    const p = prefix();
    const [a, b] = await Promise.all([1, 2].map(() => replica(url, p, [key(SECRET), key(`${SECRET}-2`)])));
    const first = keyIdOf(await a!.pool.acquire());
    a!.pool.release(first);
    a!.pool.reject(first);
    const second = first === 'anthropic#0' ? 'anthropic#1' : 'anthropic#0';
    a!.pool.reject(second);
    await waitUntil(() => b!.pool.allRejected(), 1_000);
    expect(b!.pool.snapshot().every((k) => k.rejected !== null)).toBe(true);

    a!.pool.recordResponse(first, 200, {});
    await waitUntil(() => b!.pool.snapshot().find((k) => k.id === first)!.rejected === null, 1_000);
    expect(b!.pool.snapshot().find((k) => k.id === second)!.rejected).not.toBeNull();
  });

  it('an admin reset on one replica clears the penalties on all of them', async () => {
    const p = prefix();
    const [a, b] = await Promise.all([1, 2].map(() => replica(url, p, [key(SECRET)])));
    const id = keyIdOf(await a!.pool.acquire());
    a!.pool.release(id);
    a!.pool.recordResponse(id, 429, { 'retry-after': '30' });
    await waitUntil(() => !b!.pool.hasAvailableKey(), 1_000);
    a!.pool.clearPenalties();
    await waitUntil(() => b!.pool.hasAvailableKey(), 1_000);
  });

  it('rpm_limit: 60 holds across three replicas: exactly 60 of 300 concurrent requests are admitted', async () => {
    const p = prefix();
    const replicas = await Promise.all(
      [1, 2, 3].map(() => replica(url, p, [key(SECRET, { rpm_limit: 60 })])),
    );
    const picks = await Promise.all(Array.from({ length: 300 }, (_, i) => acquire(replicas[i % 3]!)));
    const admitted = picks.filter((x) => x.kind === 'key');
    expect(admitted).toHaveLength(60);
    // Concurrent admissions of a replica go together: a handful of round trips, not 300.
    const admitCalls = replicas.map((r) => r.shared.stats().calls.admit).reduce((x, y) => x + y);
    console.info(`300 concurrent admissions on three replicas: ${admitCalls} admit calls`);
    expect(admitCalls).toBeLessThanOrEqual(15);
    // Each replica on its own would have admitted 60: the shared count is what holds the limit.
    expect(replicas.map((r) => r.shared.stats().admitted_shared).reduce((x, y) => x + y)).toBe(60);
    const refused = picks.find((x) => x.kind === 'exhausted');
    expect(refused && refused.kind === 'exhausted' && refused.retryAfterMs).toBeGreaterThan(50_000);
  });

  it('rpm_limit over time: a 2 s window of 20 admits 20 per window across three replicas under steady load', async () => {
    const p = prefix();
    const windowMs = 2_000;
    const replicas = await Promise.all(
      [1, 2, 3].map(() => replica(url, p, [key(SECRET, { rpm_limit: 20 })], { windowMs })),
    );
    const started = Date.now();
    const admittedAt: number[] = [];
    while (Date.now() - started < 4_000) {
      const picks = await Promise.all(replicas.map((r) => acquire(r)));
      for (const pick of picks) {
        if (pick.kind !== 'key') continue;
        admittedAt.push(Date.now() - started);
      }
      await sleep(10);
    }
    // In any window of 2 s, never more than 20; over 4 s, 40 (the shared windows may hold an amount one bucket
    // longer than the window: a few fewer, never more).
    for (const t of admittedAt)
      expect(admittedAt.filter((u) => u >= t && u < t + windowMs).length).toBeLessThanOrEqual(20);
    expect(admittedAt.length).toBeGreaterThanOrEqual(37);
    expect(admittedAt.length).toBeLessThanOrEqual(40);
  });

  it('itpm holds estimates cluster-wide until the usage is known, then counts the usage', async () => {
    const p = prefix();
    const [a, b] = await Promise.all([1, 2].map(() => replica(url, p, [key(SECRET, { itpm_limit: 1_000 })])));
    const first = await a!.pool.acquire(400);
    const second = await b!.pool.acquire(400);
    expect([first.kind, second.kind]).toEqual(['key', 'key']);
    expect((await a!.pool.acquire(400)).kind).toBe('exhausted'); // 800 held, 400 more would pass 1,000
    // Both answers used 100 input tokens: 200 of 1,000 are used, the corrections reach Redis with the next admission or, alone, within ~600 ms.
    for (const [r, pick] of [
      [a!, first],
      [b!, second],
    ] as const) {
      r.pool.release(keyIdOf(pick));
      r.pool.recordResponse(keyIdOf(pick), 200, {});
      r.pool.recordUsage(keyIdOf(pick), 100, 10);
    }
    await sleep(700);
    const third = await b!.pool.acquire(400);
    const fourth = await a!.pool.acquire(400);
    expect([third.kind, fourth.kind]).toEqual(['key', 'key']);
    expect((await a!.pool.acquire(400)).kind).toBe('exhausted');
  });

  it('otpm counts the output tokens settled after the answers, cluster-wide', async () => {
    const p = prefix();
    const [a, b] = await Promise.all([1, 2].map(() => replica(url, p, [key(SECRET, { otpm_limit: 100 })])));
    const pick = await a!.pool.acquire(10);
    a!.pool.release(keyIdOf(pick));
    a!.pool.recordResponse(keyIdOf(pick), 200, {});
    a!.pool.recordUsage(keyIdOf(pick), 10, 100);
    await sleep(700);
    expect((await b!.pool.acquire(10)).kind).toBe('exhausted');
  });

  it('learned anthropic-ratelimit-* headers reach the other replicas', async () => {
    const p = prefix();
    const [a, b] = await Promise.all([1, 2].map(() => replica(url, p, [key(SECRET)])));
    const id = keyIdOf(await a!.pool.acquire());
    a!.pool.release(id);
    const reset = new Date(Date.now() + 20_000).toISOString();
    a!.pool.recordResponse(id, 200, {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': reset,
    });
    await waitUntil(() => !b!.pool.hasAvailableKey(), 1_500);
    const learned = b!.pool.snapshot()[0]!.learned.requests;
    expect(learned).toEqual({ limit: 50, remaining: 0, reset });
  });

  it('costs one round trip per request on keys with limits and none on keys without', async () => {
    const p = prefix();
    const limited = await replica(url, p, [key(SECRET, { rpm_limit: 10_000, otpm_limit: 1_000_000 })]);
    const free = await replica(url, `${p}free:`, [key(`${SECRET}-free`)]);
    await sleep(50);
    const startLimited = limited.transport.calls;
    const startFree = free.transport.calls;
    const statsBefore = limited.shared.stats().calls;
    const freeStateBefore = free.shared.stats().calls.state;
    for (let i = 0; i < 200; i++) {
      for (const r of [limited, free]) {
        const id = keyIdOf(await r.pool.acquire(50));
        r.pool.release(id);
        r.pool.recordResponse(id, 200, {});
        r.pool.recordUsage(id, 40, 20);
      }
    }
    const stats = limited.shared.stats().calls;
    // The background reads (penalties, every 500 ms) and flushes are not per request: count them apart.
    const background =
      stats.state -
      statsBefore.state +
      (stats.settle - statsBefore.settle) +
      (stats.learn - statsBefore.learn);
    const requestPath = limited.transport.calls - startLimited - background;
    expect(requestPath).toBe(200);
    const freeStats = free.shared.stats().calls;
    expect(freeStats.admit + freeStats.settle + freeStats.learn + freeStats.penalise).toBe(0);
    // Its only calls are the background reads.
    expect(free.transport.calls - startFree).toBe(freeStats.state - freeStateBefore);
    console.info(
      `round trips for 200 requests: limited key ${requestPath} on the request path + ${background} background; key without limits ${freeStats.admit} on the request path`,
    );
  });

  it('never puts the key text in Redis key names or values', async () => {
    const p = prefix();
    const a = await replica(url, p, [key(SECRET, { rpm_limit: 100 })]);
    const id = keyIdOf(await a.pool.acquire(10));
    a.pool.release(id);
    a.pool.recordResponse(id, 429, {
      'retry-after': '1',
      'anthropic-ratelimit-requests-remaining': '3',
      'anthropic-ratelimit-requests-limit': '100',
    });
    a.pool.reject(id);
    await sleep(700);
    const client = createClient(url);
    await client.connect();
    try {
      const names = await client.keys(`${p}*`);
      expect(names.length).toBeGreaterThanOrEqual(3);
      for (const name of names) {
        expect(name).not.toContain(SECRET);
        expect(name).toContain('{kp:anthropic}');
        if (name.includes(':w:')) expect(name).toContain(keyFingerprint(SECRET));
        const fields = await client.hGetAll(name);
        expect(JSON.stringify(fields)).not.toContain(SECRET);
        expect(JSON.stringify(fields)).not.toContain(SECRET.slice(-12));
      }
    } finally {
      await client.close();
    }
  });
});

describe.skipIf(!hasRedisBinaries)('SharedKeyPools when Redis is down or stalled', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  }, 30_000);
  afterAll(async () => {
    await server.dispose();
  });

  it('decides locally within timeout_ms, logs once, counts it, and shares again once Redis is back', async () => {
    const timeoutMs = 50;
    const p = `cc-relay-test:${RUN}:down:`;
    const [a, b] = await Promise.all(
      [1, 2].map(() => replica({ url: server.url }, p, [key(SECRET, { rpm_limit: 1_000 })], { timeoutMs })),
    );
    expect((await a!.pool.acquire()).kind).toBe('key');

    // Stalled: the server takes the connection's commands and does not answer.
    await rawCommand(server.port, 'CLIENT PAUSE 1500 ALL');
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const pick = await a!.pool.acquire();
      waits.push(performance.now() - started);
      expect(pick.kind).toBe('key');
    }
    // The first request finds out (at most timeout_ms); the next ones decide locally at once.
    expect(waits[0]).toBeLessThan(timeoutMs + 40);
    expect(Math.max(...waits.slice(1))).toBeLessThan(10);
    console.info(`stalled Redis: request waits ${waits.map((w) => w.toFixed(1)).join(', ')} ms`);

    // Down: refused at once.
    await server.stop();
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      expect((await b!.pool.acquire()).kind).toBe('key');
      expect(performance.now() - started).toBeLessThan(timeoutMs + 40);
    }
    // A 429 while Redis is down: honoured locally at once, shared once Redis is back.
    const id = 'anthropic#0';
    a!.pool.recordResponse(id, 429, { 'retry-after': '4' });
    expect(a!.pool.hasAvailableKey()).toBe(false);
    expect(b!.pool.hasAvailableKey()).toBe(true);
    expect(a!.shared.stats().local_fallbacks).toBeGreaterThanOrEqual(5);
    expect(a!.shared.stats().healthy).toBe(0);
    expect(a!.logger.warnings).toHaveLength(1);
    expect(a!.logger.warnings[0]).toContain('decided locally');

    // Back (empty): within 2 s the replicas answer again, say so, and the cooldown of the outage reaches b.
    const restarting = Date.now();
    await server.restart();
    const up = Date.now() - restarting;
    const converged = await waitUntil(
      () => a!.shared.stats().healthy === 1 && b!.shared.stats().healthy === 1 && !b!.pool.hasAvailableKey(),
      2_000,
    );
    console.info(
      `Redis answered PING ${up} ms after the restart began; replicas converged ${converged} ms after that`,
    );
    expect(a!.logger.lines.some((l) => l.includes('answers again'))).toBe(true);
    expect(a!.shared.stats().fallback_ms).toBeGreaterThan(0);
  }, 20_000);
});

describe.skipIf(!hasRedisBinaries)('SharedKeyPools on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('shares cooldowns and holds rpm_limit across three replicas, for providers on different nodes', async () => {
    const p = `cc-relay-test:${RUN}:cluster:`;
    const replicas = await Promise.all(
      [1, 2, 3].map(() =>
        replica({ cluster_nodes: cluster!.nodes }, p, [key(SECRET, { rpm_limit: 30 }), key(`${SECRET}-2`)]),
      ),
    );
    // Two keys: the limited one admits 30 across the cluster, the other takes the rest.
    const picks = await Promise.all(Array.from({ length: 90 }, (_, i) => acquire(replicas[i % 3]!)));
    const limitedKeyUses = picks.filter((x) => x.kind === 'key' && x.keyId === 'anthropic#0').length;
    expect(limitedKeyUses).toBe(30);
    expect(picks.every((x) => x.kind === 'key')).toBe(true);
    for (const x of picks) replicas[0]!.pool.release(keyIdOf(x));

    replicas[0]!.pool.recordResponse('anthropic#1', 429, { 'retry-after': '2' });
    await waitUntil(
      () => replicas.slice(1).every((r) => r.pool.snapshot()[1]!.cooldown_until !== null),
      1_000,
    );
  }, 30_000);
});

// Issue 20: the master of the pool's slot hangs (SIGSTOP: connections open, no answer) and its replica takes over.
describe.skipIf(!hasRedisBinaries)('SharedKeyPools across a Redis Cluster failover', () => {
  let cluster: RedisCluster | undefined;
  let pair: Replica[] = [];
  beforeAll(async () => {
    cluster = await RedisCluster.start({ replicas: 1 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(pair.map((r) => r.close()));
    await cluster?.stop();
  });

  it('no pick waits past timeout_ms while the slot has no master, and a 429 is honoured locally', async () => {
    const timeoutMs = 50;
    const p = `cc-relay-test:${RUN}:failover:`;
    pair = await Promise.all(
      [1, 2].map(() =>
        replica({ cluster_nodes: cluster!.nodes }, p, [key(SECRET, { rpm_limit: 100_000 })], { timeoutMs }),
      ),
    );
    opened.splice(0); // closed in afterAll: the next test goes on with them
    const [a, b] = pair as [Replica, Replica];
    expect((await a.pool.acquire()).kind).toBe('key');
    const hashKey = `${p}{kp:anthropic}`;
    await cluster!.killMasterOf(hashKey, 'SIGSTOP');
    let promoted = false;
    const promotion = cluster!.waitForPromotion(hashKey, 30_000).then(() => {
      promoted = true;
    });
    const waits: number[] = [];
    while (!promoted) {
      for (const r of pair) {
        const started = performance.now();
        const pick = await r.pool.acquire();
        waits.push(performance.now() - started);
        expect(pick.kind).toBe('key');
        if (pick.kind === 'key') r.pool.release(pick.keyId);
      }
      await sleep(20);
    }
    await promotion;
    console.info(
      `key pools during failover: ${waits.length} picks, max wait ${Math.max(...waits).toFixed(1)} ms`,
    );
    expect(Math.max(...waits)).toBeLessThanOrEqual(timeoutMs + 100);
    expect(a.shared.stats().local_fallbacks).toBeGreaterThan(0);
    a.pool.recordResponse('anthropic#0', 429, { 'retry-after': '30' });
    expect(a.pool.hasAvailableKey()).toBe(false);
    expect(b.pool.hasAvailableKey()).toBe(true); // not shared while the slot has no master
  }, 60_000);

  // As in shared-circuits.failover.spec.ts: shared again once ClusterRedis has fetched the new slot map.
  it('after the promotion a 429 cooldown is shared again within a few seconds', async () => {
    const [a, b] = pair as [Replica, Replica];
    expect(pair).toHaveLength(2);
    a.pool.recordResponse('anthropic#0', 429, { 'retry-after': '30' });
    await waitUntil(() => !b.pool.hasAvailableKey(), 5_000);
  }, 30_000);
});
