import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisCluster } from '../../test/support/redis-cluster';
import { rawCommand, RedisServer } from '../../test/support/redis-server';
import { CircuitBreakerConfig, ClusterRedisConfig } from '../config/relay-config';
import { BreakerRegistry } from './breaker-registry';
import type { BreakerTransition, CircuitBreaker } from './circuit-breaker';
import { ClusterRedis } from '../cluster/cluster-redis';
import { SharedCircuits } from './shared-circuits';

const quiet = { warn: () => undefined, log: () => undefined };

interface Replica {
  id: string;
  redis: ClusterRedis;
  registry: BreakerRegistry;
  circuits: SharedCircuits;
  breaker: CircuitBreaker;
  transitions: BreakerTransition[];
  stop(): Promise<void>;
}

interface Where {
  url?: string;
  nodes?: string[];
  prefix: string;
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - started;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function replica(
  where: Where,
  id: string,
  breakerSettings: Partial<CircuitBreakerConfig> = {},
  heartbeatMs = 2_000,
): Promise<Replica> {
  const redis = new ClusterRedis(
    Object.assign(new ClusterRedisConfig(), {
      url: where.url ?? 'redis://127.0.0.1:6379',
      cluster_nodes: where.nodes ?? [],
      key_prefix: where.prefix,
      timeout_ms: 50,
    }),
    { logger: quiet },
  );
  const config = Object.assign(new CircuitBreakerConfig(), breakerSettings);
  const registry = new BreakerRegistry(config, ['p']);
  const transitions: BreakerTransition[] = [];
  registry.onTransition((_, t) => transitions.push(t));
  const circuits = new SharedCircuits(redis, registry, { replicaId: id, heartbeatMs });
  circuits.start();
  await until(() => redis.isUp());
  await sleep(50); // subscriptions in place
  return {
    id,
    redis,
    registry,
    circuits,
    breaker: registry.get('p')!,
    transitions,
    stop: async () => {
      circuits.stop();
      await redis.close();
    },
  };
}

async function cluster(
  where: Where,
  n: number,
  settings: Partial<CircuitBreakerConfig> = {},
  heartbeatMs = 2_000,
) {
  return Promise.all(Array.from({ length: n }, (_, i) => replica(where, `r${i + 1}`, settings, heartbeatMs)));
}

/** Lets the fire-and-forget Redis calls of the last record() finish. */
const settle = () => sleep(30);

function fail(r: Replica): void {
  const permit = r.breaker.tryAcquire();
  if (!permit) throw new Error(`${r.id} refused a request`);
  r.breaker.record(permit, 'failure');
}

describe('shared circuits on one Redis (three replicas in one process)', () => {
  let replicas: Replica[] = [];
  const where = (): Where => ({ prefix: `cc-relay-test:${randomUUID()}:` });
  afterEach(async () => {
    const first = replicas[0];
    if (first) {
      const keys = [first.redis.key('circuit:{p}'), first.redis.key('permits:{p}')];
      await first.redis.run('cleanup', (c) =>
        c.eval("return redis.call('DEL', KEYS[1], KEYS[2])", { keys, arguments: [] }),
      );
    }
    await Promise.all(replicas.map((r) => r.stop()));
    replicas = [];
  });

  it('counts failure_threshold across replicas and every replica sees the OPEN within a second', async () => {
    replicas = await cluster(where(), 3, { failure_threshold: 5 });
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    for (const r of [a, b, c, a]) {
      fail(r);
      await settle();
    }
    expect(replicas.map((r) => r.breaker.state)).toEqual(['closed', 'closed', 'closed']);
    expect(c.breaker.snapshot().consecutive_failures).toBe(4);
    fail(b);
    const seenIn = await until(() => replicas.every((r) => r.breaker.state === 'open'), 1_000);
    expect(seenIn).toBeLessThan(1_000);
    expect(c.circuits.sharedState('p')).toMatchObject({
      state: 'open',
      reason: 'failure_threshold',
      by: 'r2',
    });
    expect(a.transitions.map((t) => `${t.from}>${t.to}:${t.reason}`)).toEqual([
      'closed>open:failure_threshold',
    ]);
    expect(a.registry.isRoutable('p')).toBe(false);
  });

  it('a success anywhere resets the shared count; steady-state successes send nothing to Redis', async () => {
    replicas = await cluster(where(), 2, { failure_threshold: 3 });
    const [a, b] = replicas as [Replica, Replica];
    const scripts = vi.spyOn(a.redis, 'script');
    const runs = vi.spyOn(a.redis, 'run');
    for (let i = 0; i < 50; i++) a.breaker.record(a.breaker.tryAcquire()!, 'success');
    await settle();
    expect(scripts).not.toHaveBeenCalled();
    expect(runs).not.toHaveBeenCalled();
    fail(b);
    fail(b);
    await until(() => a.breaker.snapshot().consecutive_failures === 2, 1_000);
    a.breaker.record(a.breaker.tryAcquire()!, 'success');
    await settle();
    fail(b);
    fail(b);
    await settle();
    expect(b.breaker.state).toBe('closed');
    fail(b);
    await until(() => a.breaker.state === 'open', 1_000);
  });

  it('HALF_OPEN admits half_open_probes test requests across the whole cluster, and their successes close it everywhere', async () => {
    replicas = await cluster(where(), 3, {
      failure_threshold: 1,
      open_duration_ms: 200,
      half_open_probes: 2,
    });
    const [a] = replicas as [Replica];
    fail(a);
    await until(() => replicas.every((r) => r.breaker.state === 'open'), 1_000);
    await until(() => replicas.every((r) => r.breaker.state === 'half_open'), 1_000);
    const admitted: Array<{ r: Replica; permit: NonNullable<ReturnType<CircuitBreaker['tryAcquire']>> }> = [];
    const end = Date.now() + 600;
    while (Date.now() < end) {
      for (const r of replicas) {
        const permit = r.breaker.tryAcquire();
        if (permit) admitted.push({ r, permit });
      }
      await sleep(10);
    }
    expect(admitted).toHaveLength(2);
    for (const { r, permit } of admitted) r.breaker.record(permit, 'success');
    await until(() => replicas.every((r) => r.breaker.state === 'closed'), 1_000);
    expect(replicas[2]!.circuits.sharedState('p')).toMatchObject({
      state: 'closed',
      reason: 'half_open_succeeded',
    });
  });

  it('a test request that fails reopens the circuit on every replica with the doubled open duration', async () => {
    replicas = await cluster(where(), 2, {
      failure_threshold: 1,
      open_duration_ms: 150,
      max_open_duration_ms: 10_000,
      half_open_probes: 1,
    });
    const [a, b] = replicas as [Replica, Replica];
    fail(a);
    await until(() => b.breaker.state === 'half_open', 1_000);
    let probe: ReturnType<CircuitBreaker['tryAcquire']>;
    let holder: Replica = a;
    await until(() => {
      for (const r of replicas) {
        probe = r.breaker.tryAcquire();
        if (probe) {
          holder = r;
          return true;
        }
      }
      return false;
    }, 1_000);
    holder.breaker.record(probe!, 'failure');
    await until(() => replicas.every((r) => r.breaker.state === 'open'), 1_000);
    expect(b.breaker.snapshot()).toMatchObject({ open_duration_ms: 300, reopens: 1 });
    expect(b.circuits.sharedState('p')?.reason).toBe('half_open_failure');
  });

  it('a permit held by a killed replica lapses after 3 heartbeats and another replica tests', async () => {
    const heartbeatMs = 200;
    replicas = await cluster(
      where(),
      2,
      { failure_threshold: 1, open_duration_ms: 100, half_open_probes: 1 },
      heartbeatMs,
    );
    const [a, b] = replicas as [Replica, Replica];
    fail(a);
    await until(() => a.breaker.state === 'half_open' && b.breaker.state === 'half_open', 1_000);
    await until(() => a.breaker.tryAcquire() !== undefined, 1_000);
    // a dies with its test request in flight: no outcome, no release, no refresh.
    const killedAt = Date.now();
    await a.stop();
    replicas = [b];
    await until(() => b.breaker.tryAcquire() !== undefined, 3_000);
    const waited = Date.now() - killedAt;
    expect(waited).toBeGreaterThanOrEqual(3 * heartbeatMs - 100);
    expect(waited).toBeLessThan(3 * heartbeatMs + 1_200);
  });

  it('force-open and reset reach every replica and are acknowledged', async () => {
    replicas = await cluster(where(), 3);
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const ack = await b.circuits.command('p', 'open', 60_000, 'drill');
    expect(ack).toEqual({ shared: true, acknowledged: ['r1', 'r2', 'r3'] });
    expect(replicas.map((r) => r.breaker.snapshot().forced)).toEqual([true, true, true]);
    expect(a.circuits.sharedState('p')).toMatchObject({
      state: 'open',
      forced: true,
      detail: 'drill',
      by: 'r2',
    });
    const reset = await c.circuits.command('p', 'reset');
    expect(reset.acknowledged).toEqual(['r1', 'r2', 'r3']);
    expect(replicas.map((r) => r.breaker.state)).toEqual(['closed', 'closed', 'closed']);
  });

  it('a health probe success moves the cluster to HALF_OPEN', async () => {
    replicas = await cluster(where(), 2, { failure_threshold: 1, open_duration_ms: 60_000 });
    const [a, b] = replicas as [Replica, Replica];
    fail(a);
    await until(() => b.breaker.state === 'open', 1_000);
    b.breaker.markProbeSucceeded();
    await until(() => a.breaker.state === 'half_open', 1_000);
    expect(a.circuits.sharedState('p')).toMatchObject({
      state: 'half_open',
      reason: 'probe_succeeded',
      by: 'r2',
    });
  });
});

describe('shared circuits when Redis goes away', () => {
  let server: RedisServer;
  const replicas: Replica[] = [];
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await server.dispose();
  });

  it('a stalled Redis (CLIENT PAUSE) costs no request more than timeout_ms: the failure is decided here', async () => {
    const where = { url: server.url, prefix: 'cc-relay-test:paused:' };
    const paused = await cluster(where, 2, { failure_threshold: 2, open_duration_ms: 60_000 });
    replicas.push(...paused);
    const [a, b] = paused as [Replica, Replica];
    await rawCommand(server.port, 'CLIENT PAUSE 1500 ALL');
    const started = performance.now();
    fail(a);
    fail(a);
    expect(performance.now() - started).toBeLessThan(5); // recording never waits
    await until(() => a.breaker.state === 'open', 200); // the scripts timed out after 50 ms: decided here
    expect(a.redis.syncErrors).toBeGreaterThanOrEqual(2);
    expect(b.breaker.state).toBe('closed');
    // When Redis answers again, the replica that decided alone makes its OPEN the cluster's.
    await until(() => b.breaker.state === 'open', 4_000);
    expect(a.transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['closed>open']);
  });

  it('decides locally within timeout_ms, and after Redis returns the replicas agree within 2 s without flapping', async () => {
    const where = { url: server.url, prefix: 'cc-relay-test:down:' };
    const pair = await cluster(where, 2, { failure_threshold: 3, open_duration_ms: 60_000 });
    replicas.push(...pair);
    const [a, b] = pair as [Replica, Replica];
    await server.stop();
    await until(() => !a.redis.isUp(), 2_000);
    const started = performance.now();
    for (let i = 0; i < 3; i++) fail(a);
    await sleep(60);
    expect(performance.now() - started).toBeLessThan(200);
    expect(a.breaker.state).toBe('open');
    expect(b.breaker.state).toBe('closed');
    expect(b.registry.isRoutable('p')).toBe(true);
    await server.restart();
    const back = Date.now();
    await until(() => b.breaker.state === 'open', 3_000);
    expect(Date.now() - back).toBeLessThan(2_000);
    await sleep(600);
    expect(a.breaker.state).toBe('open');
    expect(a.transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['closed>open']);
    expect(b.transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['closed>open']);
    expect(b.circuits.sharedState('p')).toMatchObject({ state: 'open', by: 'r1' });
  });
});

describe('shared circuits on a Redis Cluster', () => {
  let redisCluster: RedisCluster | undefined;
  let replicas: Replica[] = [];
  beforeAll(async () => {
    redisCluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redisCluster?.stop();
  });

  it('counts across replicas, opens everywhere and shares the HALF_OPEN permits', async () => {
    const where = { nodes: redisCluster!.nodes, prefix: `cc-relay-test:${randomUUID()}:` };
    replicas = await cluster(where, 3, { failure_threshold: 3, open_duration_ms: 200, half_open_probes: 1 });
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    fail(a);
    await settle();
    fail(b);
    await settle();
    fail(c);
    await until(() => replicas.every((r) => r.breaker.state === 'open'), 1_000);
    await until(() => replicas.every((r) => r.breaker.state === 'half_open'), 1_000);
    let admitted = 0;
    const end = Date.now() + 400;
    while (Date.now() < end) {
      for (const r of replicas) if (r.breaker.tryAcquire()) admitted += 1;
      await sleep(10);
    }
    expect(admitted).toBe(1);
  });
});
