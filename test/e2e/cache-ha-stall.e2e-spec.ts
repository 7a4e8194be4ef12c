import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseCache } from '../../src/cache/response-cache.service';
import { FakeUpstream } from '../fakes/fake-upstream';
import { rawCommand, redisServerAvailable, RedisServer } from '../support/redis-server';
import { MINIMAL, post } from './support/http';
import { rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

const canSpawn = redisServerAvailable(['redis-server']);
const stats = (relay: RunningRelay) => relay.app.get(ResponseCache).stats();

describe.runIf(canSpawn)('ha cache: a stalled Redis (connection up, no answers)', () => {
  const fake = new FakeUpstream();
  let redis: RedisServer;
  let relay: RunningRelay;

  beforeAll(async () => {
    redis = await RedisServer.start();
    relay = await startRelay(
      rawConfig(await fake.start(), {
        cache: { mode: 'ha', redis: { url: redis.url, key_prefix: 'stall:', timeout_ms: 50 } },
      }),
    );
    const end = Date.now() + 10_000;
    while (stats(relay).backend_connected !== 1 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 25));
  });
  afterAll(async () => {
    await relay.close();
    await redis.dispose();
    await fake.close();
  });

  it('keeps answering, and the commands waiting for Redis are counted and bounded', async () => {
    await rawCommand(redis.port, 'CLIENT PAUSE 3000 ALL');
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await post(relay.url, '/v1/messages', { ...MINIMAL, max_tokens: 100 + i });
        await res.body.text();
        return res.statusCode;
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const stalled = stats(relay);
    // Each request's read (and the write of its answer) still waits in the client's queue: counted, bounded.
    expect(stalled.backend_pending_commands).toBeGreaterThan(0);
    expect(stalled.backend_pending_commands).toBeLessThanOrEqual(1_000);
    const end = Date.now() + 10_000;
    while ((stats(relay).backend_pending_commands ?? 1) > 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stats(relay).backend_pending_commands).toBe(0);
  });
});
