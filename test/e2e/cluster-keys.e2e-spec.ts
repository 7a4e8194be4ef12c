import Anthropic from '@anthropic-ai/sdk';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { rawCommand, redisReachableSync, RedisServer, redisServerAvailable } from '../support/redis-server';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';
import { ask, keyOf, messagesOf, sleep } from './support/routing-world';

// Two relays (each its own app and Redis connection) behind no ingress, sharing one fake provider and the Redis
// on 6379 under a prefix of their own: cluster.mode: redis makes their key pools one pool.
const hasRedis = redisReachableSync('127.0.0.1', 6379);
const hasRedisBinaries = redisServerAvailable(['redis-server']);

/** Calls of each command the server has answered (INFO commandstats), e.g. { evalsha: 12, publish: 1 }. */
async function commandCounts(port: number): Promise<Record<string, number>> {
  const info = await rawCommand(port, 'INFO commandstats');
  const counts: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) counts[m[1]!] = Number(m[2]);
  return counts;
}

/**
 * Round trips: the scripts the relays sent (EVALSHA / EVAL; commandstats also counts the commands a script runs,
 * which cost no round trip of their own), and any other command a client sent itself.
 */
const IN_SCRIPT = new Set([
  'time',
  'hgetall',
  'hincrby',
  'hdel',
  'hset',
  'hget',
  'pexpire',
  'del',
  'publish',
]);
const HOUSEKEEPING = new Set(['info', 'ping', 'client|setinfo', 'hello', 'subscribe', 'select']);
function roundTrips(counts: Record<string, number>): number {
  return Object.entries(counts)
    .filter(([name]) => !IN_SCRIPT.has(name) && !HOUSEKEEPING.has(name))
    .reduce((sum, [, n]) => sum + n, 0);
}

function total(counts: Record<string, number>): number {
  return Object.entries(counts)
    .filter(([name]) => !HOUSEKEEPING.has(name))
    .reduce((sum, [, n]) => sum + n, 0);
}

describe.skipIf(!hasRedis)('cluster e2e: key pools shared between replicas (cluster.mode: redis)', () => {
  const relays: RunningRelay[] = [];
  let fake: FakeUpstream | undefined;
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await fake?.close();
    fake = undefined;
  });

  async function replicas(
    n: number,
    keys: Record<string, unknown>[],
    patch: Record<string, unknown> = {},
    redisUrl = 'redis://127.0.0.1:6379',
  ): Promise<Anthropic[]> {
    fake = new FakeUpstream();
    const url = await fake.start();
    const prefix = `cc-relay-e2e:${randomUUID().slice(0, 8)}:`;
    const raw = rawConfig(url, {
      providers: [
        {
          name: 'alpha',
          type: 'anthropic',
          base_url: url,
          keys,
          models: ['claude-sonnet-4-6'],
        },
      ],
      routing: { deadline_ms: 1_000, retry: { base_delay_ms: 10, max_delay_ms: 40 } },
      health: { health_check: { enabled: false }, circuit_breaker: { failure_threshold: 10_000 } },
      logging: { level: 'warn' },
      // Roomy: on a busy machine a call slower than the default 50 ms is decided locally (tested in the unit spec).
      cluster: { mode: 'redis', redis: { url: redisUrl, key_prefix: prefix, timeout_ms: 1_000 } },
      ...patch,
    });
    for (let i = 0; i < n; i++) relays.push(await startRelay(raw));
    // The cluster connection comes up in the background.
    await sleep(300);
    return relays.map((r) => new Anthropic({ baseURL: r.url, apiKey: CLIENT_KEY, maxRetries: 0 }));
  }

  it('a 429 with retry-after: 2 on one replica keeps the other off that key for 2 s', async () => {
    const [a, b] = await replicas(2, [{ key: keyOf('alpha', 'one') }, { key: keyOf('alpha', 'two') }]);
    const limited = keyOf('alpha', 'one');
    let limitedOnce = false;
    fake!.script((req) => {
      if (req.apiKey !== limited || limitedOnce) return undefined;
      limitedOnce = true;
      return { kind: 'status', status: 429, headers: { 'retry-after': '2' } };
    });
    for (let i = 0; i < 4 && !limitedOnce; i++) await a!.messages.create(ask());
    expect(limitedOnce).toBe(true);
    const hit = messagesOf(fake!).find((r) => r.apiKey === limited)!;

    // Replica b never saw the 429; for 2 s it must not send on key one.
    await sleep(100);
    for (let i = 0; i < 6; i++) {
      expect((await b!.messages.create(ask())).type).toBe('message');
      await sleep(150);
    }
    const during = messagesOf(fake!).filter(
      (r) => r.index > hit.index && r.receivedAt < hit.receivedAt + 2_000,
    );
    expect(during.length).toBeGreaterThanOrEqual(6);
    expect(during.filter((r) => r.apiKey === limited)).toEqual([]);

    await sleep(Math.max(0, hit.receivedAt + 2_100 - Date.now()));
    const after = messagesOf(fake!).length;
    for (let i = 0; i < 4; i++) await b!.messages.create(ask());
    expect(
      messagesOf(fake!)
        .slice(after)
        .some((r) => r.apiKey === limited),
    ).toBe(true);
  });

  it('rpm_limit holds across replicas: 8 of 20 requests through two replicas reach the provider', async () => {
    const clients = await replicas(2, [{ key: keyOf('alpha', 'one'), rpm_limit: 8 }]);
    const answers = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => clients[i % 2]!.messages.create(ask())),
    );
    expect(messagesOf(fake!)).toHaveLength(8);
    expect(answers.filter((x) => x.status === 'fulfilled')).toHaveLength(8);
    const refused = answers.find((x) => x.status === 'rejected');
    expect(refused && refused.status === 'rejected' && refused.reason).toBeInstanceOf(
      Anthropic.RateLimitError,
    );
  });

  describe.skipIf(!hasRedisBinaries)(
    'Redis commands per request (a private redis-server, INFO commandstats)',
    () => {
      let server: RedisServer | undefined;
      afterEach(async () => {
        await server?.dispose();
        server = undefined;
      });

      it('one round trip per request on a key with limits, none on a key without', async () => {
        server = await RedisServer.start();
        const measure = async (
          keys: Record<string, unknown>[],
        ): Promise<{ perRequest: number; commandsPerRequest: number; background: number }> => {
          const [client] = await replicas(1, keys, {}, server!.url);
          // Background round trips (the periodic read of penalties, the flushes) over a quiet second...
          const quietStart = roundTrips(await commandCounts(server!.port));
          await sleep(1_000);
          const quiet = roundTrips(await commandCounts(server!.port)) - quietStart;
          // ...then 100 requests, one after the other.
          const before = await commandCounts(server!.port);
          const began = Date.now();
          for (let i = 0; i < 100; i++) await client!.messages.create(ask());
          const elapsedS = (Date.now() - began) / 1_000;
          const after = await commandCounts(server!.port);
          await Promise.all(relays.splice(0).map((r) => r.close()));
          await fake?.close();
          fake = undefined;
          const background = quiet * elapsedS;
          return {
            perRequest: (roundTrips(after) - roundTrips(before) - background) / 100,
            commandsPerRequest: (total(after) - total(before)) / 100,
            background: quiet,
          };
        };
        const limited = await measure([
          { key: keyOf('alpha', 'one'), rpm_limit: 10_000, otpm_limit: 10_000_000 },
        ]);
        const unlimited = await measure([{ key: keyOf('alpha', 'one') }]);
        console.info(
          `Redis round trips per request: key with limits ${limited.perRequest.toFixed(2)} (${limited.commandsPerRequest.toFixed(1)} commands run, inside the script), key without ${unlimited.perRequest.toFixed(2)}; background ${limited.background}/s and ${unlimited.background}/s`,
        );
        expect(limited.perRequest).toBeGreaterThan(0.95);
        expect(limited.perRequest).toBeLessThan(1.2);
        expect(unlimited.perRequest).toBeLessThan(0.1);
      }, 30_000);
    },
  );
});
