import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

const ADMIN_TOKEN = 'admin-token-e2e-0123456789abcdef';
/** POD_NAME of the relays this file starts (the Downward API sets it on Kubernetes). */
const POD = 'cc-relay-e2e-7d9f8-abcde';
const SECOND_KEY = 'sk-ant-second-provider-key-fedcba9876543210';
const DORMANT_KEY = 'sk-ant-dormant-provider-key-1111222233334444';
const URL_PASSWORD = 'hunter2-url-password';
const URL_QUERY_SECRET = 'query-secret-5555666677778888';
const SECRETS = [
  PROVIDER_KEY,
  SECOND_KEY,
  DORMANT_KEY,
  ADMIN_TOKEN,
  CLIENT_KEY,
  URL_PASSWORD,
  URL_QUERY_SECRET,
];

const MODELS = [MINIMAL.model];

interface AdminAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body, as loosely typed as JSON.parse makes it. */
  json: () => ReturnType<typeof JSON.parse>;
}

/** Every admin response body of this file, checked at the end for secrets. */
const seen: string[] = [];

async function call(
  base: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  opts: { token?: string | null; authorization?: string; body?: unknown } = {},
): Promise<AdminAnswer> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  else if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(base + path, {
    method,
    headers,
    body:
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  seen.push(text);
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

function expectError(res: AdminAnswer, status: number, type: string): { type: string; message: string } {
  expect(res.status).toBe(status);
  const body = res.json();
  expect(body.type).toBe('error');
  expect(body.error.type).toBe(type);
  expect(typeof body.request_id).toBe('string');
  return body.error;
}

/** The two providers these tests route between: primary first (failover), secondary behind it. */
function twoProviders(primaryUrl: string, secondaryUrl: string, secondary: Record<string, unknown> = {}) {
  return [
    { name: 'primary', base_url: primaryUrl, priority: 10, keys: [{ key: PROVIDER_KEY }], models: MODELS },
    {
      name: 'secondary',
      base_url: secondaryUrl,
      priority: 5,
      keys: [{ key: SECOND_KEY }],
      models: MODELS,
      ...secondary,
    },
  ];
}

/** Starts a relay as a replica whose pod is called `pod` (the admin module reads POD_NAME once, at boot). */
async function startReplica(pod: string, raw: Record<string, unknown>): Promise<RunningRelay> {
  const before = process.env.POD_NAME;
  process.env.POD_NAME = pod;
  try {
    return await startRelay(raw);
  } finally {
    if (before === undefined) delete process.env.POD_NAME;
    else process.env.POD_NAME = before;
  }
}

/** Every admin route, with a body that would be valid. */
const ROUTES: Array<{ method: 'GET' | 'POST' | 'DELETE'; path: string; body?: unknown }> = [
  { method: 'GET', path: '/admin/providers' },
  { method: 'GET', path: '/admin/providers/primary' },
  { method: 'POST', path: '/admin/providers/primary/reset' },
  { method: 'POST', path: '/admin/providers/primary/open', body: { duration_ms: 60_000 } },
  { method: 'GET', path: '/admin/cache/stats' },
  { method: 'DELETE', path: '/admin/cache' },
  { method: 'GET', path: '/admin/stats/timeseries' },
  { method: 'GET', path: '/admin/docs' },
  { method: 'GET', path: '/admin/docs-json' },
];

describe('admin API', () => {
  const primaryFake = new FakeUpstream();
  const secondaryFake = new FakeUpstream();
  let relay: RunningRelay;
  let noToken: RunningRelay;
  let emptyToken: RunningRelay;

  beforeAll(async () => {
    const primaryUrl = await primaryFake.start();
    const secondaryUrl = await secondaryFake.start();
    relay = await startReplica(
      POD,
      rawConfig(primaryUrl, {
        providers: [
          ...twoProviders(primaryUrl, secondaryUrl, {
            weight: 3,
            keys: [{ key: SECOND_KEY, rpm_limit: 100 }],
          }),
          {
            name: 'dormant',
            enabled: false,
            base_url: `http://ops:${URL_PASSWORD}@127.0.0.1:9/anthropic?key=${URL_QUERY_SECRET}`,
            keys: [{ key: DORMANT_KEY }],
            models: MODELS,
          },
        ],
        routing: { strategy: 'failover', retry: { max_attempts: 3, base_delay_ms: 0, max_delay_ms: 0 } },
        admin: { token: ADMIN_TOKEN },
      }),
    );
    noToken = await startRelay(rawConfig(primaryUrl));
    // `token: ${CC_RELAY_ADMIN_TOKEN:-}` with the variable unset: the admin API is off, not open.
    emptyToken = await startRelay(rawConfig(primaryUrl, { admin: { token: '' } }));
  });
  afterEach(async () => {
    primaryFake.reset();
    secondaryFake.reset();
    for (const name of ['primary', 'secondary']) {
      await call(relay.url, 'POST', `/admin/providers/${name}/reset`);
    }
  });
  afterAll(async () => {
    await relay.close();
    await noToken.close();
    await emptyToken.close();
    await primaryFake.close();
    await secondaryFake.close();
  });

  it('answers 404 on every admin route when no admin token is configured, even to a bearer token', async () => {
    for (const target of [noToken, emptyToken]) {
      for (const route of ROUTES) {
        const res = await call(target.url, route.method, route.path, { body: route.body });
        expect(res.status, `${route.method} ${route.path}`).toBe(404);
        expectError(res, 404, 'not_found_error');
      }
    }
  });

  it('answers 401 authentication_error without a token, with a wrong one, or with another scheme', async () => {
    const wrong = 'wrong-admin-token-abcdef0123456789';
    for (const route of ROUTES) {
      for (const opts of [
        { token: null },
        { token: wrong },
        { authorization: `Token ${ADMIN_TOKEN}` },
        { authorization: `Bearer ${ADMIN_TOKEN}x` },
      ]) {
        const res = await call(relay.url, route.method, route.path, { ...opts, body: route.body });
        const what = `${route.method} ${route.path} ${JSON.stringify(opts)}`;
        expect(res.status, what).toBe(401);
        const err = expectError(res, 401, 'authentication_error');
        expect(err.message).not.toContain(wrong);
        expect(res.headers['cache-control'], what).toBe('no-store');
        // The docs ask a browser for Basic credentials; the API challenges for the bearer token.
        const challenge = route.path.startsWith('/admin/docs')
          ? /^Basic realm=/
          : /^Bearer realm="cc-relay admin"/;
        expect(res.headers['www-authenticate'], what).toMatch(challenge);
        // Who answered is for callers holding the token only.
        expect(res.headers['x-cc-relay-instance'], what).toBeUndefined();
      }
    }
    const missing = await call(relay.url, 'GET', '/admin/providers', { token: null });
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="cc-relay admin"');
    const invalid = await call(relay.url, 'GET', '/admin/providers', { token: wrong });
    expect(invalid.headers['www-authenticate']).toBe('Bearer realm="cc-relay admin", error="invalid_token"');
    // The rejected force-open did nothing.
    expect((await call(relay.url, 'GET', '/admin/providers/primary')).json().state).toBe('closed');
  });

  it('refuses an admin action before reading its body: 401 (or 404 with the admin API off), never 400', async () => {
    const bad = '{not json';
    const unauthorized = await call(relay.url, 'POST', '/admin/providers/primary/open', {
      token: null,
      body: bad,
    });
    expectError(unauthorized, 401, 'authentication_error');
    expect(unauthorized.headers['www-authenticate']).toBe('Bearer realm="cc-relay admin"');
    const off = await call(noToken.url, 'POST', '/admin/providers/primary/open', { body: bad });
    expectError(off, 404, 'not_found_error');
    // With the token the body is read, and its fault named.
    expectError(
      await call(relay.url, 'POST', '/admin/providers/primary/open', { body: bad }),
      400,
      'invalid_request_error',
    );
  });

  it('names the answering replica and says no-store on every authenticated admin answer, errors included', async () => {
    const answers: Array<[string, AdminAnswer]> = [];
    for (const route of ROUTES.filter((r) => !r.path.startsWith('/admin/docs'))) {
      answers.push([
        `${route.method} ${route.path}`,
        await call(relay.url, route.method, route.path, { body: route.body }),
      ]);
    }
    answers.push(['unknown provider', await call(relay.url, 'GET', '/admin/providers/nope')]);
    answers.push([
      'invalid force-open body',
      await call(relay.url, 'POST', '/admin/providers/primary/open', { body: { duration_ms: 5 } }),
    ]);
    for (const [what, res] of answers) {
      expect(res.headers['x-cc-relay-instance'], what).toBe(POD);
      expect(res.headers['cache-control'], what).toBe('no-store');
    }
    expect(answers.map(([, res]) => res.status)).toEqual([200, 200, 200, 200, 200, 204, 200, 404, 400]);
    // Every JSON body but the errors (Anthropic's shape, unchanged) names the replica too.
    for (const [what, res] of [...answers.slice(0, 5), answers[6]!])
      expect(res.json().instance, what).toBe(POD);
    for (const [, res] of answers.slice(7))
      expect(Object.keys(res.json()).sort()).toEqual(['error', 'request_id', 'type']);
  });

  it('lists every configured provider in config order, with breaker state, load and masked keys', async () => {
    const res = await call(relay.url, 'GET', '/admin/providers');
    expect(res.status).toBe(200);
    const { instance, providers } = res.json();
    expect(instance).toBe(POD);
    expect(providers.map((p: { name: string }) => p.name)).toEqual(['primary', 'secondary', 'dormant']);

    const [primary, secondary, dormant] = providers;
    expect(primary).toMatchObject({
      name: 'primary',
      type: 'anthropic',
      base_url: primaryFake.url,
      enabled: true,
      priority: 10,
      state: 'closed',
      consecutive_failures: 0,
      opened_at: null,
      retry_at: null,
      forced: false,
      half_open_in_flight: 0,
      half_open_successes: 0,
      last_error: null,
      in_flight: 0,
    });
    expect(primary.keys).toHaveLength(1);
    expect(primary.keys[0].key).toMatch(/…cdef$/);
    expect(secondary).toMatchObject({ priority: 5, weight: 3, state: 'closed' });
    expect(secondary.keys[0]).toMatchObject({ key: expect.stringMatching(/…3210$/), limits: { rpm: 100 } });
    expect(dormant).toMatchObject({ enabled: false, state: 'closed', keys: [] });
    expect(dormant.base_url).toBe('http://***:***@127.0.0.1:9/anthropic?key=***');
  });

  it('shows one provider, and 404 not_found_error for an unknown name', async () => {
    const one = await call(relay.url, 'GET', '/admin/providers/secondary');
    expect(one.status).toBe(200);
    expect(one.json()).toMatchObject({ name: 'secondary', base_url: secondaryFake.url, state: 'closed' });

    expectError(await call(relay.url, 'GET', '/admin/providers/nope'), 404, 'not_found_error');
    expectError(await call(relay.url, 'POST', '/admin/providers/nope/reset'), 404, 'not_found_error');
    expectError(
      await call(relay.url, 'POST', '/admin/providers/nope/open', { body: { duration_ms: 60_000 } }),
      404,
      'not_found_error',
    );
  });

  it('shows upstream failures on the provider, and reset clears the failure count', async () => {
    primaryFake.script(() => ({ kind: 'status', status: 503 }));
    const res = await post(relay.url, '/v1/messages', MINIMAL);
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(secondaryFake.requests).toHaveLength(1);

    const failing = (await call(relay.url, 'GET', '/admin/providers/primary')).json();
    expect(failing.state).toBe('closed');
    expect(failing.consecutive_failures).toBe(primaryFake.requests.length);
    expect(failing.consecutive_failures).toBeGreaterThan(0);
    expect(failing.last_error).toMatchObject({
      status: 503,
      message: expect.any(String),
      at: expect.any(String),
    });

    const reset = await call(relay.url, 'POST', '/admin/providers/primary/reset');
    expect(reset.status).toBe(200);
    expect(reset.json()).toMatchObject({ name: 'primary', state: 'closed', consecutive_failures: 0 });
  });

  it('reset brings back keys parked after a 401 or cooling after a 429, clears the last error and says so', async () => {
    // The operator's situation: primary's key was revoked (401 on everything), secondary's is rate limited.
    primaryFake.script(() => ({ kind: 'status', status: 401 }));
    secondaryFake.script(() => ({ kind: 'status', status: 429, headers: { 'retry-after': '600' } }));
    const failed = await post(relay.url, '/v1/messages', MINIMAL);
    await failed.body.text();
    expect(failed.statusCode).not.toBe(200);

    const parked = (await call(relay.url, 'GET', '/admin/providers/primary')).json();
    expect(parked.keys[0].rejected).toMatchObject({ status: 401 });
    const cooling = (await call(relay.url, 'GET', '/admin/providers/secondary')).json();
    expect(cooling.keys[0].cooldown_until).not.toBeNull();
    expect(cooling.last_error).toMatchObject({ status: 429 });

    // Both fixed: the operator resets, and need not wait out the parking nor restart.
    primaryFake.script(undefined);
    secondaryFake.script(undefined);
    const primary = await call(relay.url, 'POST', '/admin/providers/primary/reset');
    expect(primary.status).toBe(200);
    expect(primary.json()).toMatchObject({
      name: 'primary',
      state: 'closed',
      cleared: { circuit: false, parked_keys: 1, cooling_keys: 0, last_error: false },
    });
    expect(primary.json().keys[0]).toMatchObject({ rejected: null, available: true });
    const secondary = await call(relay.url, 'POST', '/admin/providers/secondary/reset');
    expect(secondary.json()).toMatchObject({
      name: 'secondary',
      state: 'closed',
      last_error: null,
      cleared: { circuit: true, parked_keys: 0, cooling_keys: 1, last_error: true },
    });
    expect(secondary.json().keys[0]).toMatchObject({ cooldown_until: null, available: true });

    const before = primaryFake.requests.length;
    const after = await post(relay.url, '/v1/messages', MINIMAL);
    expect(after.statusCode).toBe(200);
    await after.body.text();
    expect(primaryFake.requests.length).toBeGreaterThan(before);
  });

  it('force-open moves traffic to the next provider until reset (the failover drill)', async () => {
    const before = Date.now();
    const opened = await call(relay.url, 'POST', '/admin/providers/primary/open', {
      body: { duration_ms: 60_000, reason: 'failover drill' },
    });
    expect(opened.status).toBe(200);
    const view = opened.json();
    expect(view).toMatchObject({ name: 'primary', state: 'open', forced: true });
    expect(Date.parse(view.retry_at) - Date.parse(view.opened_at)).toBe(60_000);
    expect(Date.parse(view.opened_at)).toBeGreaterThanOrEqual(before - 1);

    const during = await post(relay.url, '/v1/messages', MINIMAL);
    expect(during.statusCode).toBe(200);
    await during.body.text();
    expect(primaryFake.requests).toHaveLength(0);
    expect(secondaryFake.requests).toHaveLength(1);
    // Nest's Logger is process-wide: with three relays in one process its lines land in the last one's stream.
    const logs = [...relay.logs, ...noToken.logs, ...emptyToken.logs];
    expect(logs.some((l) => l.includes('forced open') && l.includes('failover drill'))).toBe(true);

    const reset = await call(relay.url, 'POST', '/admin/providers/primary/reset');
    expect(reset.json()).toMatchObject({ state: 'closed', forced: false, retry_at: null });
    const after = await post(relay.url, '/v1/messages', MINIMAL);
    expect(after.statusCode).toBe(200);
    await after.body.text();
    expect(primaryFake.requests).toHaveLength(1);
    expect(secondaryFake.requests).toHaveLength(1);
  });

  it('rejects an invalid force-open body with 400 invalid_request_error naming what is wrong', async () => {
    const cases: Array<{ body: unknown; mentions: string[] }> = [
      { body: {}, mentions: ['duration_ms'] },
      { body: { duration_ms: 10 }, mentions: ['duration_ms', '1000'] },
      { body: { duration_ms: 86_400_001 }, mentions: ['duration_ms', '86400000'] },
      { body: { duration_ms: '60000' }, mentions: ['duration_ms'] },
      { body: { duration_ms: 1500.5 }, mentions: ['duration_ms'] },
      { body: { duration_ms: 60_000, reason: 42 }, mentions: ['reason'] },
      { body: { duration: 60_000 }, mentions: ['duration', 'duration_ms'] },
      { body: [60_000], mentions: [] },
      { body: 'null', mentions: ['duration_ms'] },
    ];
    for (const { body, mentions } of cases) {
      const res = await call(relay.url, 'POST', '/admin/providers/primary/open', { body });
      const err = expectError(res, 400, 'invalid_request_error');
      for (const m of mentions) expect(err.message, JSON.stringify(body)).toContain(m);
    }
    // Both problems at once.
    const both = expectError(
      await call(relay.url, 'POST', '/admin/providers/primary/open', { body: { duration_ms: 5, reason: 7 } }),
      400,
      'invalid_request_error',
    );
    expect(both.message).toContain('duration_ms');
    expect(both.message).toContain('reason');
    // A bad duration is one sentence, not every rule it breaks.
    for (const body of [{}, { duration_ms: 10 }, { duration_ms: 'soon' }]) {
      const one = expectError(
        await call(relay.url, 'POST', '/admin/providers/primary/open', { body }),
        400,
        'invalid_request_error',
      );
      expect(one.message, JSON.stringify(body)).toBe(
        'invalid request body: duration_ms must be an integer number of milliseconds from 1000 to 86400000',
      );
    }
    expect((await call(relay.url, 'GET', '/admin/providers/primary')).json().state).toBe('closed');
  });

  it('lists the answering replica alone under GET /admin/replicas in cluster.mode local, behind the token', async () => {
    expect(
      (await call(relay.url, 'GET', '/admin/replicas', { authorization: 'Bearer wrong-token-0000000000' }))
        .status,
    ).toBe(401);
    const res = await call(relay.url, 'GET', '/admin/replicas');
    expect(res.status).toBe(200);
    const body = res.json() as { replicas: Array<Record<string, unknown>> };
    expect(body.replicas).toHaveLength(1);
    expect(body.replicas[0]).toMatchObject({ in_flight: expect.any(Number), config_differs: false });
    expect(Object.keys(body.replicas[0]!).sort()).toEqual([
      'config_differs',
      'config_hash',
      'id',
      'in_flight',
      'last_seen',
      'started_at',
      'version',
    ]);
  });

  it('reports the cache as disabled and accepts a flush when no cache admin is wired', async () => {
    const stats = await call(relay.url, 'GET', '/admin/cache/stats');
    expect(stats.status).toBe(200);
    expect(stats.json()).toMatchObject({ instance: POD, mode: 'disabled' });
    const flush = await call(relay.url, 'DELETE', '/admin/cache');
    expect(flush.status).toBe(204);
    expect(flush.text).toBe('');
    expect(flush.headers['x-cc-relay-instance']).toBe(POD);
  });

  it("logs each operator action with the admin request's id", async () => {
    const open = await call(relay.url, 'POST', '/admin/providers/secondary/open', {
      body: { duration_ms: 60_000, reason: 'drill' },
    });
    const reset = await call(relay.url, 'POST', '/admin/providers/secondary/reset');
    const lines = relay.logs.map((l) => JSON.parse(l) as { request_id?: string; msg: string });
    const lineOf = (text: string) => lines.filter((l) => l.msg.includes(text)).at(-1);
    expect(lineOf('circuit forced open for 60000 ms by the admin API: drill')?.request_id).toBe(
      open.headers['x-request-id'],
    );
    expect(lineOf('"secondary" circuit reset to closed by the admin API')?.request_id).toBe(
      reset.headers['x-request-id'],
    );
  });

  it('serves the OpenAPI document and Swagger UI behind the admin token', async () => {
    const doc = await call(relay.url, 'GET', '/admin/docs-json');
    expect(doc.status).toBe(200);
    const openapi = doc.json();
    expect(openapi.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.paths).sort()).toEqual([
      '/admin/cache',
      '/admin/cache/stats',
      '/admin/config',
      '/admin/config/reload',
      '/admin/providers',
      '/admin/providers/{name}',
      '/admin/providers/{name}/open',
      '/admin/providers/{name}/reset',
      '/admin/replicas',
      '/admin/stats/timeseries',
    ]);
    expect(openapi.components.schemas.ForceOpenDto.required).toEqual(['duration_ms']);
    expect(openapi.components.schemas.ProviderStatusDto.properties.state.enum).toEqual([
      'closed',
      'open',
      'half_open',
    ]);
    expect(openapi.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });

    const page = await call(relay.url, 'GET', '/admin/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.text).toContain('swagger-ui-bundle.js');
    const bundle = await request(`${relay.url}/admin/docs/swagger-ui-bundle.js`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(bundle.statusCode).toBe(200);
    expect((await bundle.body.text()).length).toBeGreaterThan(100_000);

    // A browser cannot send a bearer token to open a page: it is asked for Basic credentials instead.
    const anonymous = await call(relay.url, 'GET', '/admin/docs', { token: null });
    expectError(anonymous, 401, 'authentication_error');
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic /);
    const basic = `Basic ${Buffer.from(`operator:${ADMIN_TOKEN}`).toString('base64')}`;
    expect((await call(relay.url, 'GET', '/admin/docs', { authorization: basic })).status).toBe(200);
    const wrongBasic = `Basic ${Buffer.from('operator:not-the-token').toString('base64')}`;
    expect((await call(relay.url, 'GET', '/admin/docs-json', { authorization: wrongBasic })).status).toBe(
      401,
    );
    // Basic is for the docs page only; the API stays bearer-only.
    expect((await call(relay.url, 'GET', '/admin/providers', { authorization: basic })).status).toBe(401);
  });

  it('never shows a key, the admin token or URL credentials in an admin response or a log line', () => {
    expect(seen.length).toBeGreaterThan(50);
    const logs = [...relay.logs, ...noToken.logs, ...emptyToken.logs].join('\n');
    expect(logs).toContain('forced open');
    for (const secret of SECRETS) {
      for (const body of seen) expect(body).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });
});

describe('admin API across replicas', () => {
  const primaryFake = new FakeUpstream();
  const secondaryFake = new FakeUpstream();
  let a: RunningRelay;
  let b: RunningRelay;

  beforeAll(async () => {
    const primaryUrl = await primaryFake.start();
    const secondaryUrl = await secondaryFake.start();
    const raw = rawConfig(primaryUrl, {
      providers: twoProviders(primaryUrl, secondaryUrl),
      routing: { strategy: 'failover' },
      cache: { mode: 'single' },
      admin: { token: ADMIN_TOKEN },
    });
    // Two pods of one deployment, as an ingress would spread admin calls over them.
    a = await startReplica('cc-relay-pod-a', raw);
    b = await startReplica('cc-relay-pod-b', raw);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await primaryFake.close();
    await secondaryFake.close();
  });

  it('shows that a force-open acts on the replica that answered, and which one each answer came from', async () => {
    const opened = await call(a.url, 'POST', '/admin/providers/primary/open', {
      body: { duration_ms: 60_000 },
    });
    expect(opened.headers['x-cc-relay-instance']).toBe('cc-relay-pod-a');
    expect(opened.json()).toMatchObject({ instance: 'cc-relay-pod-a', name: 'primary', state: 'open' });

    const onA = await call(a.url, 'GET', '/admin/providers');
    const onB = await call(b.url, 'GET', '/admin/providers');
    expect([onA.json().instance, onA.json().providers[0].state]).toEqual(['cc-relay-pod-a', 'open']);
    expect([onB.json().instance, onB.json().providers[0].state]).toEqual(['cc-relay-pod-b', 'closed']);
    expect(onB.headers['x-cc-relay-instance']).toBe('cc-relay-pod-b');

    // B still sends to the primary: the drill moved only A's share of the traffic.
    const viaB = await post(b.url, '/v1/messages', MINIMAL);
    await viaB.body.text();
    expect(primaryFake.requests).toHaveLength(1);

    const reset = await call(a.url, 'POST', '/admin/providers/primary/reset');
    expect(reset.json()).toMatchObject({ instance: 'cc-relay-pod-a', state: 'closed' });
  });

  it("shows each replica's own single cache in its stats, and a flush empties only the one that answered", async () => {
    const stats = async (r: RunningRelay) => (await call(r.url, 'GET', '/admin/cache/stats')).json();
    const before = { a: (await stats(a)).backend_key_count, b: (await stats(b)).backend_key_count };
    const stored = await post(a.url, '/v1/messages', { ...MINIMAL, max_tokens: 17 });
    await stored.body.text();
    // The entry is written as the answer ends: give it a moment rather than a fixed sleep.
    for (let i = 0; i < 50 && (await stats(a)).backend_key_count === before.a; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await stats(a)).toMatchObject({
      instance: 'cc-relay-pod-a',
      mode: 'single',
      backend_key_count: before.a + 1,
    });
    expect(await stats(b)).toMatchObject({
      instance: 'cc-relay-pod-b',
      mode: 'single',
      backend_key_count: before.b,
    });

    const flushed = await call(b.url, 'DELETE', '/admin/cache');
    expect(flushed.status).toBe(204);
    expect(flushed.headers['x-cc-relay-instance']).toBe('cc-relay-pod-b');
    expect((await stats(b)).backend_key_count).toBe(0);
    expect((await stats(a)).backend_key_count).toBe(before.a + 1);
  });
});
