import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server';
import { ClusterRedisConfig } from '../config/relay-config';
import { ClusterRedis, LuaScript } from './cluster-redis';

const quiet = { warn: () => undefined, log: () => undefined };

function config(url: string, timeoutMs = 50): ClusterRedisConfig {
  return Object.assign(new ClusterRedisConfig(), {
    url,
    cluster_nodes: [],
    key_prefix: `cc-relay-test:${randomUUID()}:`,
    timeout_ms: timeoutMs,
  });
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ClusterRedis on the shared Redis', () => {
  const opened: ClusterRedis[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((r) => r.close()));
  });

  it('runs scripts by SHA (loading them once) and carries pub/sub between connections', async () => {
    const a = new ClusterRedis(config('redis://127.0.0.1:6379'), { logger: quiet });
    const b = new ClusterRedis(Object.assign(config('redis://127.0.0.1:6379'), { key_prefix: a.prefix }), {
      logger: quiet,
    });
    opened.push(a, b);
    await until(() => a.isUp() && b.isUp());
    const script = new LuaScript(`return redis.call('INCRBY', KEYS[1], ARGV[1]) -- ${randomUUID()}`);
    const first = await a.script('incr', script, [a.key('n')], [2]);
    const second = await a.script('incr', script, [a.key('n')], [3]);
    expect(first).toEqual({ ok: true, value: 2 });
    expect(second).toEqual({ ok: true, value: 5 });
    const seen: string[] = [];
    b.subscribe('events', (m) => seen.push(m));
    await new Promise((r) => setTimeout(r, 100));
    a.publish('events', 'hello');
    await until(() => seen.length === 1);
    expect(seen).toEqual(['hello']);
    await a.run('cleanup', (c) =>
      c.eval("return redis.call('DEL', KEYS[1])", { keys: [a.key('n')], arguments: [] }),
    );
  });
});

describe('ClusterRedis when Redis goes away', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('answers "decide locally" within timeout_ms while Redis is down, counts it, and is back within a second', async () => {
    const warnings: string[] = [];
    const redis = new ClusterRedis(config(server.url, 30), {
      logger: { warn: (m) => warnings.push(m), log: () => undefined },
    });
    let ups = 0;
    redis.onUp(() => (ups += 1));
    try {
      await until(() => redis.isUp());
      await server.stop();
      const started = performance.now();
      const outcome = await redis.run('get', (c) => c.get(redis.key('x')));
      expect(performance.now() - started).toBeLessThan(40);
      expect(outcome.ok).toBe(false);
      expect(redis.syncErrors).toBeGreaterThan(0);
      await server.restart();
      const back = Date.now();
      await until(() => redis.isUp(), 3_000);
      expect(Date.now() - back).toBeLessThan(1_500);
      expect(ups).toBe(2);
      expect((await redis.run('get', (c) => c.get(redis.key('x')))).ok).toBe(true);
      expect(redis.fallbackSeconds()).toBeGreaterThan(0);
      expect(warnings.length).toBeGreaterThan(0);
    } finally {
      await redis.close();
    }
  });
});
