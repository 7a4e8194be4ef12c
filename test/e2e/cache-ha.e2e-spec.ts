import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseCache } from '../../src/cache/response-cache.service';
import { FakeUpstream } from '../fakes/fake-upstream';
import { redisReachableSync, redisServerAvailable, RedisServer } from '../support/redis-server';
import { waitUntil } from '../support/wait-until';
import { MINIMAL, post } from './support/http';
import { rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Real Redis only: the shared one on 6379 and one the harness starts, kills and restarts. Under CI these throw
// instead of skipping when Redis is missing (a skipped Redis suite is a failure).
const sharedRedis = redisReachableSync('127.0.0.1', 6379);
const canSpawn = redisServerAvailable();

const stats = (relay: RunningRelay) => relay.app.get(ResponseCache).stats();

describe.runIf(sharedRedis)('ha cache: replicas share one Redis', () => {
  const fake = new FakeUpstream();
  const prefix = `cc-relay-e2e-${randomUUID()}:`;
  let a: RunningRelay;
  let b: RunningRelay;

  beforeAll(async () => {
    const url = await fake.start();
    const cfg = rawConfig(url, {
      cache: { mode: 'ha', redis: { url: 'redis://127.0.0.1:6379', key_prefix: prefix, timeout_ms: 200 } },
    });
    a = await startRelay(cfg);
    b = await startRelay(cfg);
    await waitUntil('both replicas connected', () =>
      stats(a).backend_connected === 1 && stats(b).backend_connected === 1 ? true : undefined,
    );
  });
  afterAll(async () => {
    await a.app.get(ResponseCache).flush();
    await a.close();
    await b.close();
    await fake.close();
  });

  it('an answer cached by one replica is a hit on the other', async () => {
    const body = { ...MINIMAL, max_tokens: 11 };
    const first = await post(a.url, '/v1/messages', body);
    expect(first.headers['x-cc-relay-cache']).toBe('MISS');
    const answer = await first.body.json();
    await waitUntil('the write reached Redis', () => ((stats(a).stored ?? 0) >= 1 ? true : undefined));
    const second = await post(b.url, '/v1/messages', body);
    expect(second.headers['x-cc-relay-cache']).toBe('HIT');
    expect(await second.body.json()).toEqual(answer);
    expect(fake.requests).toHaveLength(1);
  });
});

describe.runIf(canSpawn)('ha cache: Redis dies under load', () => {
  const fake = new FakeUpstream();
  let redis: RedisServer;
  let relay: RunningRelay;

  beforeAll(async () => {
    redis = await RedisServer.start();
    relay = await startRelay(
      rawConfig(await fake.start(), {
        cache: { mode: 'ha', redis: { url: redis.url, key_prefix: 'e2e:', timeout_ms: 50 } },
      }),
    );
    await waitUntil('relay connected to Redis', () =>
      stats(relay).backend_connected === 1 ? true : undefined,
    );
  });
  afterAll(async () => {
    await relay.close();
    await redis.dispose();
    await fake.close();
  });

  it('fails no request while Redis is killed, and caches again once it is back', async () => {
    const statuses: number[] = [];
    let killed = false;
    // 4 clients x 60 requests over a small key space (so there are hits as well as misses); Redis is killed midway.
    const client = async (id: number) => {
      for (let i = 0; i < 60; i++) {
        if (id === 0 && i === 20) {
          await redis.stop();
          killed = true;
        }
        const res = await post(relay.url, '/v1/messages', {
          ...MINIMAL,
          max_tokens: 1 + ((i * 7 + id) % 10),
        });
        statuses.push(res.statusCode);
        await res.body.text();
      }
    };
    await Promise.all([0, 1, 2, 3].map(client));
    expect(killed).toBe(true);
    expect(statuses).toHaveLength(240);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(stats(relay).backend_connected).toBe(0);

    await redis.restart();
    await waitUntil('relay reconnected', () => (stats(relay).backend_connected === 1 ? true : undefined));
    const body = { ...MINIMAL, max_tokens: 55 };
    await (await post(relay.url, '/v1/messages', body)).body.text();
    await waitUntil('a hit from the restarted Redis', async () => {
      const res = await post(relay.url, '/v1/messages', body);
      await res.body.text();
      return res.headers['x-cc-relay-cache'] === 'HIT' ? true : undefined;
    });
  });
});

describe.runIf(canSpawn)('ha cache: what the admin API says while Redis is down', () => {
  const fake = new FakeUpstream();
  const token = 'cache-ha-e2e-admin-token-0123456789';
  let redis: RedisServer;
  let relay: RunningRelay;

  beforeAll(async () => {
    redis = await RedisServer.start();
    relay = await startRelay(
      rawConfig(await fake.start(), {
        cache: { mode: 'ha', redis: { url: redis.url, key_prefix: 'e2e-flush:', timeout_ms: 50 } },
        admin: { token },
      }),
    );
    await waitUntil('relay connected to Redis', () =>
      stats(relay).backend_connected === 1 ? true : undefined,
    );
  });
  afterAll(async () => {
    await relay.close();
    await redis.dispose();
    await fake.close();
  });

  const flush = () =>
    request(`${relay.url}/admin/cache`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });

  it('says the flush did not happen and why (503), then flushes once Redis is back', async () => {
    await redis.stop();
    await waitUntil('relay saw Redis go', () => (stats(relay).backend_connected === 0 ? true : undefined));
    const refused = await flush();
    expect(refused.statusCode).toBe(503);
    const body = (await refused.body.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toMatch(/^cache not flushed .*redis is not connected/);

    await redis.restart();
    await waitUntil('relay reconnected', () => (stats(relay).backend_connected === 1 ? true : undefined));
    const done = await flush();
    expect(done.statusCode).toBe(204);
    await done.body.text();
  });

  it('counts an answer whose write never reached Redis as a write error, not as stored', async () => {
    await redis.stop();
    await waitUntil('relay saw Redis go', () => (stats(relay).backend_connected === 0 ? true : undefined));
    const before = stats(relay);
    const miss = await post(relay.url, '/v1/messages', { ...MINIMAL, max_tokens: 23 });
    expect(miss.statusCode).toBe(200);
    await miss.body.text();
    await waitUntil('the dropped write counted', () =>
      stats(relay).backend_dropped_writes! > before.backend_dropped_writes! ? true : undefined,
    );
    await waitUntil('the write error counted', () =>
      stats(relay).write_errors! > before.write_errors! ? true : undefined,
    );
    expect(stats(relay).stored).toBe(before.stored);

    await redis.restart();
    await waitUntil('relay reconnected', () => (stats(relay).backend_connected === 1 ? true : undefined));
    const stored = await post(relay.url, '/v1/messages', { ...MINIMAL, max_tokens: 24 });
    await stored.body.text();
    await waitUntil('the write counted as stored', () =>
      stats(relay).stored! > before.stored! ? true : undefined,
    );
    expect(stats(relay).write_errors).toBe(before.write_errors! + 1);
  });
});
