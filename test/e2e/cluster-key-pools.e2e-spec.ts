import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECONDARY_KEY, send } from './support/breaker-relay';
import { ClusterWorld, REPLICAS } from './support/cluster-world';
import { MINIMAL } from './support/http';
import { PROVIDER_KEY } from './support/relay-harness';
import { nginxBinary } from '../support/nginx';
import { redisServerAvailable } from '../support/redis-server';

// Issue 20, "How it is checked", key pools: through a real nginx in front of three relay processes sharing one
// Redis (cluster.mode: redis), a key's 429 cooldown is honoured by every replica, and a key's rpm_limit holds for the
// cluster, not per replica. With cluster.mode: local both fail (the other replicas keep using the key; each
// replica admits rpm_limit on its own).

const RPM = 60;
const LIMITED_KEY = 'sk-ant-limited-provider-key-00112233445566';
/** The model the rate-limited provider serves (the primary serves MINIMAL's). */
const LIMITED_MODEL = 'claude-haiku-4-5';

const runnable = redisServerAvailable() && nginxBinary() !== undefined;

describe.runIf(runnable)('cluster.mode redis: key pools shared across three replicas', () => {
  const world = new ClusterWorld({
    routing: { retry: { max_attempts: 3, base_delay_ms: 0, budget_ratio: 10 } },
    // Room for a busy test machine: an admission that misses timeout_ms is decided locally (by design, and covered
    // by the unit specs), which would let a replica admit past the cluster's rpm_limit here.
    cluster: { redis: { timeout_ms: 250 } },
  });
  // `primary` serves MINIMAL's model with one key; `limited` (the same fake) serves LIMITED_MODEL with one key
  // under rpm_limit; `secondary` serves both, behind them.
  const providers = () => [
    {
      name: 'primary',
      type: 'anthropic',
      base_url: world.primary.url,
      priority: 10,
      keys: [{ key: PROVIDER_KEY }],
      models: [MINIMAL.model],
    },
    {
      name: 'limited',
      type: 'anthropic',
      base_url: world.primary.url,
      priority: 10,
      keys: [{ key: LIMITED_KEY, rpm_limit: RPM }],
      models: [LIMITED_MODEL],
    },
    {
      name: 'secondary',
      type: 'anthropic',
      base_url: world.secondary.url,
      priority: 5,
      keys: [{ key: SECONDARY_KEY }],
      models: [MINIMAL.model, LIMITED_MODEL],
    },
  ];
  world.configure = (config) => ({ ...config, providers: providers() });

  beforeAll(() => world.start(), 90_000);
  afterAll(() => world.stop(), 30_000);
  afterEach(() => world.resetFakes());

  it('a 429 with retry-after: 2 on one replica: no replica uses that key for 2 s, then all use it again', async () => {
    let limitedAt: number | undefined;
    world.primary.script((req) => {
      if (req.apiKey !== PROVIDER_KEY || limitedAt !== undefined) return undefined;
      limitedAt = req.receivedAt;
      return { kind: 'status', status: 429, headers: { 'retry-after': '2' } };
    });
    const onKey = () => world.messages(world.primary).filter((s) => s.rec.apiKey === PROVIDER_KEY);
    const usedAgainBy = () =>
      new Set(
        onKey()
          .filter((s) => limitedAt !== undefined && s.rec.receivedAt >= limitedAt + 1_900)
          .map((s) => s.replica),
      );
    // One request at a time through the ingress (every replica gets its turn many times) until every replica has
    // used the key again after its retry-after, or 10 s.
    const until = Date.now() + 10_000;
    while (Date.now() < until && usedAgainBy().size < REPLICAS) {
      const answer = await send(world.url);
      expect(answer.status, answer.body).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(limitedAt).toBeDefined();
    // The 429 itself, then nothing on that key until its retry-after has run out (minus what the clocks of two
    // processes may disagree by in a few ms: 100 ms).
    const during = onKey().filter(
      (s) => s.rec.receivedAt > limitedAt! && s.rec.receivedAt < limitedAt! + 1_900,
    );
    expect(during.map((s) => s.replica)).toEqual([]);
    // The secondary carried the traffic meanwhile, from every replica.
    expect(new Set(world.messages(world.secondary).map((s) => s.replica)).size).toBe(REPLICAS);
    // Then the key is back in use, on every replica.
    expect(usedAgainBy().size).toBe(REPLICAS);
  });

  it(`rpm_limit: ${RPM} across three replicas admits ${RPM} ± 3 requests a minute`, async () => {
    // Well inside one minute: 2 x rpm_limit requests, 6 at a time through the ingress. The key may take RPM of
    // them; the rest go to the secondary. Per-replica limits would let the key take every one of them (3 x 60).
    const total = 2 * RPM;
    let next = 0;
    const statuses: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < total) {
          next++;
          const answer = await send(world.url, { ...MINIMAL, model: LIMITED_MODEL });
          statuses.push(answer.status);
        }
      }),
    );
    expect(Date.now() - started).toBeLessThan(50_000);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const onKey = world.messages(world.primary).filter((s) => s.rec.apiKey === LIMITED_KEY);
    expect(onKey.length).toBeGreaterThanOrEqual(RPM - 3);
    expect(onKey.length).toBeLessThanOrEqual(RPM + 3);
    expect(new Set(onKey.map((s) => s.replica)).size).toBe(REPLICAS);
    expect(world.messages(world.secondary)).toHaveLength(total - onKey.length);
  });
});
