import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../fakes/fake-upstream';
import { FakeUpstream } from '../fakes/fake-upstream';
import type { Scenario } from '../fakes/fake-scenario';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// A local Ollama in front of Anthropic: Ollama's Anthropic compatibility serves POST /v1/messages only
// (docs.ollama.com/api/anthropic-compatibility, "Endpoints"), and its router answers any other path with a
// text/plain "404 page not found".
function ollamaRoutes(req: RecordedRequest): Scenario | undefined {
  if (req.path === '/v1/messages') return undefined;
  return {
    kind: 'status',
    status: 404,
    body: '404 page not found',
    headers: { 'content-type': 'text/plain' },
  };
}

const MODEL = 'qwen3-coder';
const COUNT = { model: MODEL, messages: [{ role: 'user' as const, content: 'count me' }] };

describe('mixed providers: an Ollama without count_tokens in front of Anthropic', () => {
  const ollama = new FakeUpstream();
  const anthropic = new FakeUpstream();
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    await ollama.start();
    await anthropic.start();
    relay = await startRelay(
      rawConfig(ollama.url, {
        routing: { strategy: 'failover', debug: true, retry: { max_attempts: 3, budget_ratio: 0 } },
        providers: [
          { name: 'local', type: 'ollama', base_url: ollama.url, priority: 10, keys: [{ key: 'ollama' }] },
          {
            name: 'cloud',
            type: 'anthropic',
            base_url: anthropic.url,
            priority: 0,
            keys: [{ key: PROVIDER_KEY }],
          },
        ],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    ollama.reset();
    anthropic.reset();
  });
  afterAll(async () => {
    await relay.close();
    await ollama.close();
    await anthropic.close();
  });

  it('counts tokens on the next provider when the first has no count_tokens endpoint', async () => {
    ollama.script(ollamaRoutes);
    // budget_ratio 0: no retries at all, yet moving past a provider without the endpoint is not a retry.
    const { data, response } = await client.messages.countTokens(COUNT).withResponse();
    expect(data.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-cc-relay-provider')).toBe('cloud');
    expect(ollama.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens']);
    expect(anthropic.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens']);

    // Messages still go to the local provider, whose circuit the 404s never touched.
    const { response: msg } = await client.messages.create({ ...COUNT, max_tokens: 8 }).withResponse();
    expect(msg.headers.get('x-cc-relay-provider')).toBe('local');
  });

  it('still passes a 404 to messages through: there it is about the request, not a missing endpoint', async () => {
    ollama.script(() => ({
      kind: 'status',
      status: 404,
      errorType: 'not_found_error',
      message: 'model not found',
    }));
    await expect(client.messages.create({ ...COUNT, max_tokens: 8 })).rejects.toMatchObject({ status: 404 });
    expect(anthropic.requests).toHaveLength(0);
  });

  it("wraps a non-Anthropic error body (plain text) into Anthropic's shape when no provider is left", async () => {
    ollama.script(ollamaRoutes);
    anthropic.script(ollamaRoutes);
    const err = await client.messages.countTokens(COUNT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const apiError = err as InstanceType<typeof Anthropic.APIError>;
    expect(apiError.error).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error', message: 'provider "cloud" answered HTTP 404: 404 page not found' },
    });
    expect(apiError.headers?.get('content-type')).toBe('application/json');
  });

  it('answers a redirecting base URL with a 502 that names the provider, never a bare 3xx', async () => {
    const redirect = (): Scenario => ({
      kind: 'status',
      status: 301,
      body: '',
      headers: { location: 'https://elsewhere.invalid/v1/messages' },
    });
    ollama.script(redirect);
    anthropic.script(redirect);
    const err = await client.messages.create({ ...COUNT, max_tokens: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const apiError = err as InstanceType<typeof Anthropic.APIError>;
    expect(apiError.status).toBe(502);
    const body = apiError.error as { error: { type: string; message: string } };
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toContain('provider "cloud" answered HTTP 301, a redirect');
    expect(apiError.headers?.get('location')).toBeNull();
  });
});

describe('mixed providers: a z.ai provider mapping Claude model families by prefix', () => {
  const zai = new FakeUpstream();
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    await zai.start();
    relay = await startRelay(
      rawConfig(zai.url, {
        routing: { debug: true },
        providers: [
          {
            name: 'zai',
            type: 'zai',
            base_url: `${zai.url}/`,
            keys: [{ key: PROVIDER_KEY }],
            models: ['glm-4.6'],
            model_mapping: { 'claude-sonnet-*': 'glm-4.6', 'claude-haiku-*': 'glm-4.5-air' },
          },
        ],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await relay.close();
    await zai.close();
  });

  it('maps the dated ids Claude Code sends and calls z.ai with its bearer key only', async () => {
    const msg = await client.messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.type).toBe('message');
    const [seen] = zai.requests;
    expect(seen?.path).toBe('/v1/messages');
    expect(seen?.body).toMatchObject({ model: 'glm-4.6' });
    expect(seen?.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(seen?.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(seen?.headers)).not.toContain(CLIENT_KEY);
  });
});
