import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createServer } from 'node:net';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

/** Asserts Anthropic's error shape and returns the error object. */
async function expectAnthropicError(res: Awaited<ReturnType<typeof request>>, status: number, type: string) {
  expect(res.statusCode).toBe(status);
  const body = (await res.body.json()) as {
    type: string;
    error: { type: string; message: string };
    request_id: string;
  };
  expect(body.type).toBe('error');
  expect(body.error.type).toBe(type);
  expect(typeof body.error.message).toBe('string');
  expect(body.request_id).toBe(res.headers['x-request-id']);
  return body.error;
}

/** A port nobody listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('client auth and relay-made errors', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;
  let unreachable: RunningRelay;

  beforeAll(async () => {
    const upstreamUrl = await fake.start();
    relay = await startRelay(
      rawConfig(upstreamUrl, {
        server: { max_body_bytes: 4096, timeout_ms: 300 },
        routing: { retry: { max_attempts: 1 } },
      }),
    );
    unreachable = await startRelay(
      rawConfig(`http://127.0.0.1:${await closedPort()}`, { routing: { retry: { max_attempts: 1 } } }),
    );
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await relay.close();
    await unreachable.close();
    await fake.close();
  });

  it('rejects a request without credentials with 401 authentication_error', async () => {
    const res = await post(relay.url, '/v1/messages', MINIMAL, { 'x-api-key': '' });
    await expectAnthropicError(res, 401, 'authentication_error');
    expect(fake.requests).toHaveLength(0);
  });

  it('rejects a wrong key without echoing it', async () => {
    const res = await post(relay.url, '/v1/messages', MINIMAL, { 'x-api-key': 'wrong-key-123456' });
    const err = await expectAnthropicError(res, 401, 'authentication_error');
    expect(err.message).not.toContain('wrong-key-123456');
  });

  it('rejects a request without credentials before reading its body', async () => {
    // Not JSON at all, and large: parsed, it would be a 400. Rejected unread, it is a 401.
    const res = await post(relay.url, '/v1/messages', '{'.repeat(4 * 1024 * 1024), { 'x-api-key': '' });
    const error = await expectAnthropicError(res, 401, 'authentication_error');
    expect(error.message).toContain('missing credentials');
    const counts = await post(relay.url, '/v1/messages/count_tokens', 'not json', {
      'x-api-key': 'wrong-key-123456',
    });
    await expectAnthropicError(counts, 401, 'authentication_error');
    expect(fake.requests).toHaveLength(0);
  });

  it('accepts the client key as x-api-key or as Authorization: Bearer', async () => {
    const a = await post(relay.url, '/v1/messages', MINIMAL);
    expect(a.statusCode).toBe(200);
    await a.body.text();
    const b = await post(relay.url, '/v1/messages', MINIMAL, {
      'x-api-key': '',
      authorization: `Bearer ${CLIENT_KEY}`,
    });
    expect(b.statusCode).toBe(200);
    await b.body.text();
  });

  it('answers unknown routes with 404 not_found_error', async () => {
    const res = await request(`${relay.url}/v1/nothing-here`, { headers: { 'x-api-key': CLIENT_KEY } });
    await expectAnthropicError(res, 404, 'not_found_error');
  });

  it('answers invalid JSON with 400 invalid_request_error', async () => {
    const res = await post(relay.url, '/v1/messages', '{"model": "claude', {});
    await expectAnthropicError(res, 400, 'invalid_request_error');
    const missingModel = await post(relay.url, '/v1/messages', { max_tokens: 1, messages: [] });
    const err = await expectAnthropicError(missingModel, 400, 'invalid_request_error');
    expect(err.message).toContain('model');
  });

  it('answers a body over server.max_body_bytes with 413 request_too_large', async () => {
    const big = { ...MINIMAL, messages: [{ role: 'user', content: 'x'.repeat(8000) }] };
    const res = await post(relay.url, '/v1/messages', big);
    await expectAnthropicError(res, 413, 'request_too_large');
    expect(fake.requests).toHaveLength(0);
  });

  it('answers an unreachable upstream with 502 api_error', async () => {
    const res = await post(unreachable.url, '/v1/messages', MINIMAL);
    const err = await expectAnthropicError(res, 502, 'api_error');
    expect(err.message).not.toContain(PROVIDER_KEY);
  });

  it('answers an upstream that never responds with 504 timeout_error', async () => {
    fake.enqueue({ kind: 'hang' });
    const res = await post(relay.url, '/v1/messages', MINIMAL);
    await expectAnthropicError(res, 504, 'timeout_error');
  });

  it('never logs a key', () => {
    const all = [...relay.logs, ...unreachable.logs].join('\n');
    expect(all).not.toContain(PROVIDER_KEY);
    expect(all).not.toContain(CLIENT_KEY);
    expect(all).not.toContain('wrong-key-123456');
  });
});

describe('providers without keys', () => {
  const fake = new FakeUpstream();
  beforeAll(() => fake.start());
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  /** A relay whose one provider has no keys, with or without client keys of its own. */
  async function keyless(apiKeys: string[]): Promise<RunningRelay> {
    const config = rawConfig(fake.url, { server: { auth: { api_keys: apiKeys } } });
    (config.providers as Array<Record<string, unknown>>)[0]!.keys = [];
    return startRelay(config);
  }

  it('never send a relay client key upstream', async () => {
    const relay = await keyless([CLIENT_KEY]);
    try {
      const res = await post(relay.url, '/v1/messages', MINIMAL, { authorization: `Bearer ${CLIENT_KEY}` });
      await res.body.text();
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]!.headers['x-api-key']).toBeUndefined();
      expect(fake.requests[0]!.headers.authorization).toBeUndefined();
      // Its upstream's 401 is the relay's configuration, not the client's key: a 502 that says so.
      fake.enqueue({
        kind: 'status',
        status: 401,
        errorType: 'authentication_error',
        message: 'x-api-key required',
      });
      const refused = await post(relay.url, '/v1/messages', MINIMAL);
      const error = await expectAnthropicError(refused, 502, 'api_error');
      expect(error.message).toContain('it has no keys');
    } finally {
      await relay.close();
    }
  });

  it('forward the client’s own credential on an open relay (pass-through)', async () => {
    const relay = await keyless([]);
    try {
      const res = await post(relay.url, '/v1/messages', MINIMAL, { 'x-api-key': 'sk-ant-users-own-key' });
      await res.body.text();
      expect(fake.requests[0]!.apiKey).toBe('sk-ant-users-own-key');
    } finally {
      await relay.close();
    }
  });

  it('never pass a client’s Anthropic key through to another vendor’s provider on failover', async () => {
    const gateway = new FakeUpstream();
    await gateway.start();
    const config = rawConfig(fake.url, {
      server: { auth: { api_keys: [] } },
      routing: { strategy: 'failover' },
      providers: [
        { name: 'anthropic', type: 'anthropic', base_url: fake.url, priority: 10, keys: [] },
        { name: 'zai', type: 'zai', base_url: gateway.url, priority: 0, keys: [] },
      ],
    });
    const relay = await startRelay(config);
    try {
      // Anthropic is overloaded: the request fails over to the z.ai provider, which has no keys of its own.
      fake.script(() => ({ kind: 'status', status: 529 }));
      const claudeCode = {
        'x-api-key': 'sk-ant-api03-users-own-key',
        authorization: 'Bearer sk-ant-oat01-tok',
      };
      const served = await post(relay.url, '/v1/messages', MINIMAL, claudeCode);
      await served.body.text();
      expect(fake.requests[0]!.apiKey).toBe('sk-ant-api03-users-own-key');
      expect(gateway.requests).toHaveLength(1);
      expect(gateway.requests[0]!.headers['x-api-key']).toBeUndefined();
      expect(gateway.requests[0]!.headers.authorization).toBeUndefined();

      // Its 401 to the missing credential is the relay's configuration, and the client is told so.
      gateway.script(() => ({ kind: 'status', status: 401, errorType: 'authentication_error' }));
      const refused = await post(relay.url, '/v1/messages', MINIMAL, claudeCode);
      const error = await expectAnthropicError(refused, 502, 'api_error');
      expect(error.message).toContain('provider "zai" answered 401: it has no keys');

      // A credential that is not Anthropic's (the gateway's own key) still passes through to it.
      gateway.script(undefined);
      const own = await post(relay.url, '/v1/messages', MINIMAL, {
        authorization: 'Bearer 0a1b2c.zai-own-key',
      });
      await own.body.text();
      expect(gateway.requests.at(-1)!.headers.authorization).toBe('Bearer 0a1b2c.zai-own-key');
    } finally {
      await relay.close();
      await gateway.close();
    }
  });
});
