import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adapterOf } from '../../src/providers/adapters';
import { FakeGoogleTokenEndpoint, FakeVertex, googleError } from '../fakes/fake-vertex';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Claude on Vertex AI behind the relay, driven with the official SDK: the relay rewrites the Messages call into
// rawPredict / streamRawPredict with a Google OAuth token (service-account JWT grant against a fake token
// endpoint), and answers Google's error shapes as Anthropic's.

const PROJECT = 'relay-test-project';
const REGION = 'europe-west1';
const ask = (extra: Record<string, unknown> = {}) => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hello' }],
  ...extra,
});

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('vertex provider', () => {
  const tokens = new FakeGoogleTokenEndpoint();
  const vertex = new FakeVertex(tokens, PROJECT, REGION);
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    await tokens.start();
    await vertex.start();
    const credentials = join(mkdtempSync(join(tmpdir(), 'vertex-sa-')), 'sa.json');
    tokens.writeServiceAccount(credentials, PROJECT);
    relay = await startRelay(
      rawConfig(vertex.url, {
        routing: { debug: true, retry: { max_attempts: 1 } },
        health: { circuit_breaker: { failure_threshold: 100 } },
        providers: [
          {
            name: 'vertex-eu',
            type: 'vertex',
            base_url: vertex.url,
            gcp_project_id: PROJECT,
            gcp_region: REGION,
            credentials_file: credentials,
            model_mapping: { 'claude-sonnet-4-5': 'claude-sonnet-4-5@20250929' },
          },
        ],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    vertex.reset();
    vertex.override = undefined;
  });
  afterAll(async () => {
    await relay.close();
    await vertex.close();
    await tokens.close();
  });

  it('answers a JSON message through rawPredict, with one OAuth token for many calls', async () => {
    vertex.inner.enqueue({ kind: 'json', text: 'hello from vertex' });
    const msg = await client.messages.create(ask());
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'hello from vertex' });
    expect(vertex.refusals).toEqual([]);
    expect(vertex.accepted[0]!.path).toBe(
      `/v1/projects/${PROJECT}/locations/${REGION}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict`,
    );
    expect(vertex.accepted[0]!.body).not.toHaveProperty('model');
    expect(vertex.accepted[0]!.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16' });
    await client.messages.create(ask());
    await client.messages.create(ask());
    expect(vertex.refusals).toEqual([]);
    expect(tokens.issued).toHaveLength(1);
  });

  it('streams through streamRawPredict, passing anthropic-beta on', async () => {
    vertex.inner.enqueue({ kind: 'sse', text: 'streamed words here' });
    const final = await client.messages
      .stream(ask(), { headers: { 'anthropic-beta': 'context-1m-2025-08-07' } })
      .finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'streamed words here' });
    expect(vertex.accepted[0]!.path).toMatch(/:streamRawPredict$/);
    expect(vertex.accepted[0]!.headers['anthropic-beta']).toBe('context-1m-2025-08-07');
  });

  it('counts tokens through count-tokens:rawPredict', async () => {
    const count = await client.messages.countTokens({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'count me' }],
    });
    expect(count.input_tokens).toBeGreaterThan(0);
    expect(vertex.refusals).toEqual([]);
    expect(vertex.accepted[0]!.path).toMatch(/\/models\/count-tokens:rawPredict$/);
    expect(vertex.accepted[0]!.body).toMatchObject({ model: 'claude-sonnet-4-5@20250929' });
  });

  it.each([
    ['RESOURCE_EXHAUSTED', 429, 429, Anthropic.RateLimitError, 'rate_limit_error'],
    ['UNAVAILABLE', 503, 529, Anthropic.InternalServerError, 'overloaded_error'],
    ['INVALID_ARGUMENT', 400, 400, Anthropic.BadRequestError, 'invalid_request_error'],
    ['PERMISSION_DENIED', 403, 403, Anthropic.PermissionDeniedError, 'permission_error'],
  ] as const)('answers Google %s as an Anthropic %s', async (status, code, expected, cls, type) => {
    vertex.override = () => googleError(code, status, `${status} from google`);
    const err = await rejectionOf(client.messages.create(ask()));
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject({ status: expected, type });
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type, message: expect.stringContaining(`${status} from google`) as string },
    });
  });

  it('passes an Anthropic overload Vertex relays from Claude on as it is', async () => {
    vertex.inner.enqueue({ kind: 'status', status: 529 });
    const err = await rejectionOf(client.messages.create(ask()));
    expect(err).toMatchObject({ status: 529, type: 'overloaded_error' });
  });

  it('ends a stream that fails mid-way with an error event, never a clean end', async () => {
    vertex.inner.enqueue({ kind: 'error_event', afterEvents: 4, text: 'one two three four' });
    const err = await rejectionOf(client.messages.stream(ask()).finalMessage());
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ type: 'overloaded_error' });
  });

  it('probes with an authenticated count-tokens call, spending no tokens', async () => {
    const probe = await adapterOf(relay.config.providers[0]!)!.probe('models');
    expect(probe).toMatchObject({ kind: 'count_tokens', method: 'POST' });
    const res = await fetch(probe.url, { method: probe.method, headers: probe.headers, body: probe.body });
    expect(res.status).toBe(200);
    expect(vertex.refusals).toEqual([]);
    expect(vertex.accepted[0]!.path).toMatch(/\/models\/count-tokens:rawPredict$/);
    expect(vertex.inner.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens']);
  });

  it('on an open relay, tells a refused Google token as the relay’s configuration, not the client’s key', async () => {
    const credentials = join(mkdtempSync(join(tmpdir(), 'vertex-sa-')), 'sa.json');
    tokens.writeServiceAccount(credentials, PROJECT);
    const open = await startRelay(
      rawConfig(vertex.url, {
        server: { auth: { api_keys: [] } },
        routing: { retry: { max_attempts: 1 } },
        providers: [
          {
            name: 'vertex-open',
            type: 'vertex',
            base_url: vertex.url,
            gcp_project_id: PROJECT,
            gcp_region: REGION,
            credentials_file: credentials,
          },
        ],
      }),
    );
    try {
      vertex.override = () => googleError(401, 'UNAUTHENTICATED', 'token revoked');
      const anyone = new Anthropic({ baseURL: open.url, apiKey: 'whatever-the-client-has', maxRetries: 0 });
      const err = await rejectionOf(anyone.messages.create(ask()));
      expect(err).not.toBeInstanceOf(Anthropic.AuthenticationError);
      expect(err).toMatchObject({ status: 502, type: 'api_error' });
      expect((err as Error).message).toContain('rejected the relay');
    } finally {
      await open.close();
    }
  });

  it('never writes the OAuth token or the private key into its logs', () => {
    const logs = relay.logs.join('\n');
    for (const token of tokens.issued) expect(logs).not.toContain(token);
    expect(logs).not.toContain('PRIVATE KEY');
  });
});
