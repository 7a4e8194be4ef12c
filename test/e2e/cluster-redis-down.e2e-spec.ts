import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, waitUntil } from './support/breaker-relay';
import { adminGet, ClusterWorld, REPLICAS, replicaProviderStates, runLoad } from './support/cluster-world';
import { nginxBinary } from '../support/nginx';
import { redisServerAvailable } from '../support/redis-server';

// Issue 20, "Redis trouble is never an outage": Redis killed under mixed load (JSON + SSE through nginx, one
// provider failing) costs zero client requests; every replica keeps its circuits open on its own; once Redis is
// back (empty, as a restarted cache Redis is), the replicas agree again within 2 s.

const THRESHOLD = 3;

const runnable = redisServerAvailable() && nginxBinary() !== undefined;

/** Every replica's view of both providers, e.g. [{ primary: 'open', secondary: 'closed' }, …]. */
async function views(world: ClusterWorld): Promise<Array<Record<string, string>>> {
  return Promise.all(
    world.replicas.map(async (r) => {
      const answer = await adminGet<{ providers: Array<{ name: string; state: string }> }>(
        r.process.url,
        '/admin/providers',
      );
      return Object.fromEntries(answer.body.providers.map((p) => [p.name, p.state]));
    }),
  );
}

describe.runIf(runnable)('cluster.mode redis: Redis killed under load', () => {
  const world = new ClusterWorld({
    routing: { retry: { max_attempts: 3, base_delay_ms: 0, budget_ratio: 10 } },
    health: { circuit_breaker: { failure_threshold: THRESHOLD, open_duration_ms: 120_000 } },
    cluster: { heartbeat_ms: 500 },
  });

  beforeAll(() => world.start(), 90_000);
  afterAll(() => world.stop(), 30_000);

  it('zero failed requests, circuits still open locally, agreement within 2 s of Redis coming back', async () => {
    world.primary.script(() => ({ kind: 'status', status: 503 }));
    const load = runLoad(world.url, { concurrency: 4, sse: true });
    try {
      await waitUntil('every replica to see the primary open', async () =>
        (await replicaProviderStates(world, 'primary')).every((s) => s === 'open') ? true : undefined,
      );
      const beforeKill = load.done;

      await world.redis.stop();
      await new Promise((r) => setTimeout(r, 3_000));
      // Still serving, from the secondary, and no replica went back to the failing primary.
      expect(load.done - beforeKill).toBeGreaterThan(10);
      expect(await replicaProviderStates(world, 'primary')).toEqual(Array(REPLICAS).fill('open'));
      const sentWhileDown = world.messages(world.primary).length;

      await world.redis.restart();
      let last = '';
      const back = Date.now();
      await waitUntil(
        'the replicas to agree again',
        async () => {
          const seen = await views(world);
          const agreed = seen.every((v) => JSON.stringify(v) === JSON.stringify(seen[0]));
          const replicas = await adminGet<{ replicas?: unknown[] }>(world.url, '/admin/replicas');
          last = `${JSON.stringify(seen)}; GET /admin/replicas ${replicas.status} ${JSON.stringify(replicas.body).slice(0, 300)}`;
          return agreed && replicas.body.replicas?.length === REPLICAS ? seen : undefined;
        },
        { timeoutMs: 2_000, everyMs: 50 },
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; last seen: ${last}`);
      });
      expect(Date.now() - back).toBeLessThanOrEqual(2_000);
      expect(await views(world)).toEqual(Array(REPLICAS).fill({ primary: 'open', secondary: 'closed' }));
      // No flapping: the open circuit never let a request through to the primary on the way back.
      expect(world.messages(world.primary).length).toBe(sentWhileDown);
    } finally {
      const outcome = await load.stop();
      expect(outcome.failed).toEqual([]);
      expect(outcome.done).toBeGreaterThan(20);
    }
    expect((await send(world.url)).status).toBe(200);
  });
});
