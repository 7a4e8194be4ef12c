import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { ADMIN_TOKEN, providerStates, SECONDARY_KEY } from './support/breaker-relay';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY, startRelayFromFile, type RunningRelay } from './support/relay-harness';

// Issue 21 point 1: hot reload through POST /admin/config/reload, keeping circuits, key cooldowns and the cache.

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

function configFor(primary: FakeUpstream, secondary: FakeUpstream, patch: Record<string, unknown> = {}) {
  return {
    server: { listen: '127.0.0.1:0', auth: { api_keys: [CLIENT_KEY] } },
    providers: [
      { name: 'primary', base_url: primary.url, priority: 10, keys: [{ key: PROVIDER_KEY }] },
      ...(patch.withSecondary === false
        ? []
        : [{ name: 'secondary', base_url: secondary.url, priority: 5, keys: [{ key: SECONDARY_KEY }] }]),
    ],
    routing: { strategy: 'failover', debug: true, retry: { max_attempts: 1 } },
    health: {
      health_check: { enabled: false },
      circuit_breaker: { failure_threshold: 2, open_duration_ms: 600_000 },
    },
    cache: { mode: 'single' },
    logging: { level: 'info' },
    admin: { token: ADMIN_TOKEN },
    ...(patch.extra as Record<string, unknown> | undefined),
  };
}

async function reload(url: string) {
  const res = await request(`${url}/admin/config/reload`, { method: 'POST', headers: auth });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function send(url: string, body: unknown = MINIMAL) {
  const res = await post(url, '/v1/messages', body);
  const text = await res.body.text();
  return { status: res.statusCode, provider: res.headers['x-cc-relay-provider'], text };
}

describe('config reload (admin call)', () => {
  const primary = new FakeUpstream();
  const secondary = new FakeUpstream();
  let dir: string;
  let file: string;
  let relay: RunningRelay;
  const write = (config: unknown, raw?: string) =>
    writeFileSync(file, raw ?? JSON.stringify(config, null, 2));

  beforeAll(async () => {
    await primary.start();
    await secondary.start();
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-relay-reload-'));
    file = join(dir, 'cc-relay.yaml');
    write(configFor(primary, secondary, { withSecondary: false }));
    // No file watch here: each reload is the admin call's (the watch has its own suite).
    relay = await startRelayFromFile(file, { watch: false });
  });
  afterEach(async () => {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
    primary.reset();
    secondary.reset();
  });
  afterAll(async () => {
    await primary.close();
    await secondary.close();
  });

  it('applies a new provider and weights while streams run: no request fails, the new routing serves', async () => {
    primary.script(() => ({ kind: 'sse', delayMs: 40, deltas: 6 }));
    const streams = Array.from({ length: 4 }, () => send(relay.url, { ...MINIMAL, stream: true }));
    await new Promise((r) => setTimeout(r, 60));
    write(
      configFor(primary, secondary, {
        extra: { routing: { strategy: 'weighted_round_robin', debug: true, retry: { max_attempts: 1 } } },
      }),
    );
    // Weighted with the secondary heavily favoured.
    const cfg = configFor(primary, secondary) as {
      providers: Array<Record<string, unknown>>;
      routing: unknown;
    };
    cfg.providers[0]!.weight = 1;
    cfg.providers[1]!.weight = 1000;
    cfg.routing = { strategy: 'weighted_round_robin', debug: true, retry: { max_attempts: 1 } };
    write(cfg);
    const answer = await reload(relay.url);
    expect(answer.body).toMatchObject({ result: 'applied' });
    for (const s of await Promise.all(streams)) {
      expect(s.status).toBe(200);
      expect(s.provider).toBe('primary');
      expect(s.text).toContain('message_stop');
    }
    const after = await Promise.all(
      Array.from({ length: 5 }, (_, i) => send(relay.url, { ...MINIMAL, max_tokens: 20 + i })),
    );
    expect(after.every((a) => a.status === 200)).toBe(true);
    expect(after.filter((a) => a.provider === 'secondary').length).toBeGreaterThanOrEqual(4);
    const shown = await request(`${relay.url}/admin/config`, { headers: auth });
    const view = (await shown.body.json()) as { source: string; hash: string; config: unknown };
    expect(view.source).toBe('admin');
    expect(JSON.stringify(view)).not.toContain(PROVIDER_KEY);
    expect(JSON.stringify(view)).not.toContain(ADMIN_TOKEN);
    expect(JSON.stringify(view)).not.toContain(CLIENT_KEY);
  });

  it('keeps an OPEN circuit, a cooling key and cached answers of a provider that remains; drops a removed one', async () => {
    write(configFor(primary, secondary));
    expect((await reload(relay.url)).status).toBe(200);
    // A cached answer (primary serves it), then the secondary's circuit opens and the primary's key cools down.
    const cachedBody = { ...MINIMAL, max_tokens: 7 };
    expect((await send(relay.url, cachedBody)).status).toBe(200);
    expect((await send(relay.url, cachedBody)).status).toBe(200);
    const upstreamCalls = primary.requests.length;
    expect((await send(relay.url, cachedBody)).status).toBe(200);
    expect(primary.requests.length).toBe(upstreamCalls); // a cache hit
    primary.script(() => ({ kind: 'status', status: 429, headers: { 'retry-after': '600' } }));
    expect((await send(relay.url, { ...MINIMAL, max_tokens: 5 })).status).toBe(429);
    primary.script(undefined);
    secondary.script(() => ({ kind: 'status', status: 503 }));
    for (let i = 0; i < 2; i++) await send(relay.url, { ...MINIMAL, max_tokens: 6 });
    const before = await providerStates(relay.url);
    expect(before.secondary?.state).toBe('open');
    const cooling = (before.primary as unknown as { keys: Array<{ cooldown_until: string | null }> }).keys[0];
    expect(cooling?.cooldown_until).not.toBeNull();

    // A reload that keeps both (and changes a breaker setting and the cache TTL).
    const cfg = configFor(primary, secondary, {
      extra: { cache: { mode: 'single', ttl_ms: 7_200_000 }, logging: { level: 'debug' } },
    });
    write(cfg);
    expect((await reload(relay.url)).body.result).toBe('applied');
    const kept = await providerStates(relay.url);
    expect(kept.secondary?.state).toBe('open');
    expect(kept.secondary?.opened_at).toBe(before.secondary?.opened_at);
    const keptKey = (kept.primary as unknown as { keys: Array<{ cooldown_until: string | null }> }).keys[0];
    expect(keptKey?.cooldown_until).toBe(cooling?.cooldown_until);
    const hit = await send(relay.url, cachedBody);
    expect(hit.status).toBe(200);
    expect(primary.requests.length).toBe(upstreamCalls + 1); // only the 429 reached it

    // Removing the secondary drops its state; adding it back starts CLOSED.
    write(configFor(primary, secondary, { withSecondary: false }));
    expect((await reload(relay.url)).body.result).toBe('applied');
    expect(Object.keys(await providerStates(relay.url))).toEqual(['primary']);
    write(configFor(primary, secondary));
    expect((await reload(relay.url)).body.result).toBe('applied');
    expect((await providerStates(relay.url)).secondary?.state).toBe('closed');
  });

  it.each([
    ['a syntax error', 'providers: [\n  - name: x\n', undefined],
    ['an unknown key', undefined, { extra: { routingg: {} } }],
    ['a bad value', undefined, { extra: { routing: { strategy: 'fastest' } } }],
  ] as Array<[string, string | undefined, Record<string, unknown> | undefined]>)(
    'refuses a file with %s with 400, keeps serving and counts it',
    async (_what, raw, patch) => {
      write(configFor(primary, secondary, { withSecondary: false, ...(patch ?? {}) }), raw);
      const answer = await reload(relay.url);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect((answer.body.error as { message: string }).message).toContain('config reload refused');
      expect((await send(relay.url)).status).toBe(200);
      expect(relay.logs.some((l) => l.includes('config reload refused'))).toBe(true);
      const metrics = await (await request(`${relay.url}/metrics`)).body.text();
      expect(metrics).toContain('cc_relay_config_reloads_total{result="invalid"} 1');
    },
  );

  it('refuses a server.listen change with a restart message and applies the rest', async () => {
    const cfg = configFor(primary, secondary, { withSecondary: false }) as unknown as Record<
      string,
      Record<string, unknown>
    >;
    cfg.server!.listen = '127.0.0.1:1';
    cfg.admin = { token: 'a-new-admin-token-0123456789' };
    write(cfg);
    const answer = await reload(relay.url);
    expect(answer.status).toBe(200);
    expect(answer.body.restart_required).toEqual(['server.listen']);
    expect(relay.logs.some((l) => l.includes('server.listen changed but needs a restart'))).toBe(true);
    // The new admin token applies; the old one no longer does.
    const old = await request(`${relay.url}/admin/config`, { headers: auth });
    expect(old.statusCode).toBe(401);
    await old.body.dump();
    const shown = await request(`${relay.url}/admin/config`, {
      headers: { authorization: 'Bearer a-new-admin-token-0123456789' },
    });
    const view = (await shown.body.json()) as {
      config: { server: { listen: string } };
      restart_pending: string[];
    };
    expect(view.config.server.listen).toBe('127.0.0.1:0');
    expect(view.restart_pending).toEqual(['server.listen']);
  });

  it('applies logging.level, routing.debug and the client keys at once', async () => {
    const before = await send(relay.url);
    expect(before.status).toBe(200);
    expect(before.provider).toBe('primary');
    const accessLines = () => relay.logs.filter((l) => l.includes('"msg":"request"')).length;
    const seen = accessLines();
    expect(seen).toBeGreaterThan(0);

    const cfg = configFor(primary, secondary, { withSecondary: false }) as unknown as Record<
      string,
      Record<string, unknown>
    >;
    cfg.logging = { level: 'warn' };
    cfg.routing = { ...cfg.routing, debug: false };
    cfg.server = { ...cfg.server, auth: { api_keys: ['a-second-client-key-0123456789'] } };
    write(cfg);
    expect((await reload(relay.url)).status).toBe(200);

    // The old client key is refused now; the new one is served, without debug headers and without an info line.
    const refused = await send(relay.url);
    expect(refused.status).toBe(401);
    const res = await request(`${relay.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'a-second-client-key-0123456789',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify(MINIMAL),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(res.headers['x-cc-relay-provider']).toBeUndefined();
    expect(accessLines()).toBe(seen);
  });
});
