import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isProbeSuccess } from '../../src/health/probe-policy';
import { adapterOf } from '../../src/providers/adapters';
import { bedrockError, FakeBedrock } from '../fakes/fake-bedrock';
import { FakeOpenAI } from '../fakes/fake-openai';
import { FakeUpstream } from '../fakes/fake-upstream';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// An OpenAI Chat Completions endpoint behind the relay, driven with the official Anthropic SDK: the request
// translated to POST /chat/completions with the pool key as a Bearer token, the answers (JSON and streams, tool
// calls in fragments) translated back, OpenAI's errors answered as Anthropic's.

const OPENAI_KEY = 'sk-openai-secret-0123456789abcdef';
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

describe('openai provider', () => {
  const openai = new FakeOpenAI([OPENAI_KEY]);
  const anthropic = new FakeUpstream();
  let openaiUrl: string;
  let relay: RunningRelay;
  let client: Anthropic;

  const relayConfig = (maxAttempts: number) =>
    rawConfig(anthropic.url, {
      routing: { debug: true, retry: { max_attempts: maxAttempts } },
      health: { circuit_breaker: { failure_threshold: 100 } },
      providers: [
        {
          name: 'gpt',
          type: 'openai',
          base_url: openaiUrl,
          priority: 10,
          keys: [{ key: OPENAI_KEY }],
          model_mapping: { 'claude-*': 'gpt-5' },
        },
        // Serves count_tokens, which an OpenAI-compatible provider does not.
        {
          name: 'counter',
          type: 'anthropic',
          base_url: anthropic.url,
          priority: 0,
          keys: [{ key: PROVIDER_KEY }],
        },
      ],
    });

  beforeAll(async () => {
    openaiUrl = await openai.start();
    await anthropic.start();
    relay = await startRelay(relayConfig(1));
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    openai.requests.length = 0;
    openai.script.length = 0;
    anthropic.reset();
  });
  afterAll(async () => {
    await relay.close();
    await openai.close();
    await anthropic.close();
  });

  it('answers a JSON message through POST /chat/completions with the Bearer key', async () => {
    openai.script.push({ kind: 'text', text: 'hello from gpt' });
    const res = await client.messages.create(ask({ system: 'be brief' })).withResponse();
    expect(res.data).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'hello from gpt' }],
    });
    expect(res.data.usage.output_tokens).toBeGreaterThan(0);
    expect(res.response.headers.get('x-cc-relay-provider')).toBe('gpt');
    const sent = openai.requests[0]!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(sent.headers['x-api-key']).toBeUndefined();
    expect(sent.body).toMatchObject({
      model: 'gpt-5',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello' },
      ],
    });
  });

  it('streams the chunks as Anthropic SSE events', async () => {
    openai.script.push({ kind: 'text', text: 'streamed from the chat completions api' });
    const stream = client.messages.stream(ask());
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({
      type: 'text',
      text: 'streamed from the chat completions api',
    });
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(types[0]).toBe('message_start');
    expect(types.filter((t) => t === 'content_block_delta').length).toBeGreaterThan(1);
    expect(types.at(-1)).toBe('message_stop');
    expect(openai.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('carries a two-turn tool-use conversation (streamed tool call in fragments, then its result)', async () => {
    const tools = [
      {
        name: 'get_weather',
        description: 'weather of a city',
        input_schema: {
          type: 'object' as const,
          properties: { city: { type: 'string' } },
          required: ['city'],
        },
      },
    ];
    openai.script.push({
      kind: 'tools',
      text: 'let me look',
      calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }],
    });
    const first = await client.messages
      .stream(ask({ tools, messages: [{ role: 'user', content: 'weather in Paris?' }] }))
      .finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find((b) => b.type === 'tool_use');
    expect(call).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });

    openai.script.push({ kind: 'text', text: 'sunny in Paris' });
    const second = await client.messages.create(
      ask({
        tools,
        messages: [
          { role: 'user', content: 'weather in Paris?' },
          { role: 'assistant', content: first.content },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: call!.id, content: 'sunny, 21°C' }],
          },
        ],
      }),
    );
    expect(second.content[0]).toMatchObject({ type: 'text', text: 'sunny in Paris' });
    // The fake refuses a tool message that answers no tool call: it was paired with the assistant's call.
    const messages = openai.requests[1]!.body.messages as Array<Record<string, unknown>>;
    expect(messages.at(-1)).toMatchObject({ role: 'tool', content: 'sunny, 21°C' });
  });

  it('takes a thinking conversation signed by Claude without a 400 (foreign thinking blocks dropped)', async () => {
    openai.script.push({ kind: 'text', text: 'continuing on gpt' });
    const res = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [
        { role: 'user', content: 'think first' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'claude reasoning', signature: 'EqClaudeSignature==' },
            { type: 'text', text: 'claude said this' },
          ],
        },
        { role: 'user', content: 'go on' },
      ],
    });
    expect(res.content[0]).toMatchObject({ type: 'text', text: 'continuing on gpt' });
    const sent = JSON.stringify(openai.requests[0]!.body);
    expect(sent).toContain('claude said this');
    expect(sent).not.toContain('claude reasoning');
    expect(sent).not.toContain('EqClaudeSignature');
  });

  it('answers a 429 as a rate limit, passing retry-after on', async () => {
    openai.script.push({
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
    });
    // A relay of its own: the key cools down for the retry-after.
    const second = await startRelay(relayConfig(1));
    const own = new Anthropic({ baseURL: second.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const err = await rejectionOf(own.messages.create(ask())).finally(() => second.close());
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  const quotaGone = () =>
    openai.script.push({
      kind: 'status',
      status: 429,
      body: {
        error: {
          message: 'You exceeded your current quota',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
        },
      },
    });

  it('answers insufficient_quota as a 402 billing error, not a transient 429, when no other key or provider serves', async () => {
    // Only the OpenAI provider serves messages here: the counter is kept to count_tokens by its model list.
    const config = relayConfig(3) as { providers: Array<Record<string, unknown>> };
    config.providers[1]!.models = ['count-only-model'];
    const second = await startRelay(config);
    try {
      const retrying = new Anthropic({ baseURL: second.url, apiKey: CLIENT_KEY, maxRetries: 0 });
      quotaGone();
      const err = await rejectionOf(retrying.messages.create(ask()));
      expect(err).toMatchObject({ status: 402 });
      expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        error: { type: 'billing_error', message: expect.stringContaining('quota') as string },
      });
      // No wait cures an empty account: the key is not retried.
      expect(openai.requests.length).toBe(1);
      expect(anthropic.requests.length).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('moves an out-of-quota request to the next key, and parks the dry key (402) for the requests after it', async () => {
    const second = new FakeOpenAI([OPENAI_KEY, `${OPENAI_KEY}-2`]);
    const secondUrl = await second.start();
    const config = relayConfig(3) as { providers: Array<Record<string, unknown>> };
    config.providers[0] = {
      ...config.providers[0],
      base_url: secondUrl,
      keys: [{ key: OPENAI_KEY }, { key: `${OPENAI_KEY}-2` }],
    };
    config.providers[1]!.models = ['count-only-model'];
    (config as Record<string, unknown>).admin = { token: 'admin-token-openai-e2e-0123456789' };
    const own = await startRelay(config);
    try {
      const c = new Anthropic({ baseURL: own.url, apiKey: CLIENT_KEY, maxRetries: 0 });
      second.script.push({
        kind: 'status',
        status: 429,
        body: {
          error: {
            message: 'You exceeded your current quota',
            type: 'insufficient_quota',
            code: 'insufficient_quota',
          },
        },
      });
      second.script.push({ kind: 'text', text: 'from the second key' });
      const first = await c.messages.create(ask());
      expect(first.content).toEqual([{ type: 'text', text: 'from the second key' }]);
      const keysUsed = second.requests.map((r) => r.headers.authorization);
      expect(keysUsed).toHaveLength(2);
      expect(new Set(keysUsed).size).toBe(2);
      // The dry key sits out: the next requests all go to the other one.
      second.script.push({ kind: 'text', text: 'a' }, { kind: 'text', text: 'b' });
      await c.messages.create(ask());
      await c.messages.create(ask());
      expect(second.requests.slice(2).map((r) => r.headers.authorization)).toEqual([
        keysUsed[1],
        keysUsed[1],
      ]);
      const status = (await (
        await fetch(`${own.url}/admin/providers/gpt`, {
          headers: { authorization: 'Bearer admin-token-openai-e2e-0123456789' },
        })
      ).json()) as { keys: Array<{ rejected: { status: number } | null }> };
      // One key (whichever was picked first) is parked with the 402, the other serves.
      expect(status.keys.map((k) => k.rejected?.status ?? 0).sort()).toEqual([0, 402]);
    } finally {
      await own.close();
      await second.close();
    }
  });

  it('moves an out-of-quota request on to another provider that serves the model', async () => {
    quotaGone();
    const second = await startRelay(relayConfig(3));
    try {
      const c = new Anthropic({ baseURL: second.url, apiKey: CLIENT_KEY, maxRetries: 0 });
      const res = await c.messages.create(ask()).withResponse();
      expect(res.data.type).toBe('message');
      expect(res.response.headers.get('x-cc-relay-provider')).toBe('counter');
      expect(openai.requests.length).toBe(1);
      expect(anthropic.requests.length).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('answers a 500 as an Anthropic api_error', async () => {
    openai.script.push({
      kind: 'status',
      status: 500,
      body: { error: { message: 'The server had an error', type: 'server_error', code: null } },
    });
    const err = await rejectionOf(client.messages.create(ask()));
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err).toMatchObject({ status: 500, type: 'api_error' });
  });

  it('answers an error chunk that comes before any content as an error status', async () => {
    openai.script.push({
      kind: 'stream_error',
      text: '',
      error: { message: 'The server had an error', type: 'server_error', code: 500 },
    });
    const err = await rejectionOf(client.messages.stream(ask()).finalMessage());
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err).toMatchObject({ status: 500, type: 'api_error' });
  });

  it('ends a stream that fails mid-way with an error event, never a clean end', async () => {
    openai.script.push({
      kind: 'stream_error',
      text: 'one two three four',
      error: { message: 'The server had an error', type: 'server_error' },
    });
    const stream = client.messages.stream(ask());
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const err = await rejectionOf(stream.finalMessage());
    expect(texts.length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ type: 'api_error' });
  });

  it('ends a stream the upstream closed without [DONE] with an error event', async () => {
    openai.script.push({ kind: 'truncate', text: 'cut short before the end' });
    const res = await fetch(`${relay.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': CLIENT_KEY,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify(ask({ stream: true })),
    });
    const text = await res.text();
    expect(text).toContain('event: content_block_delta');
    expect(text).toContain('event: error');
    expect(text).not.toContain('event: message_stop');
  });

  it('counts tokens on the next provider: an OpenAI-compatible provider serves no count_tokens', async () => {
    const second = await startRelay(relayConfig(2));
    try {
      const counting = new Anthropic({ baseURL: second.url, apiKey: CLIENT_KEY, maxRetries: 0 });
      const res = await counting.messages
        .countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count me' }] })
        .withResponse();
      expect(res.data.input_tokens).toBeGreaterThan(0);
      expect(res.response.headers.get('x-cc-relay-provider')).toBe('counter');
      expect(openai.requests).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('probes with GET /models and the Bearer key, spending no tokens', async () => {
    const probe = await adapterOf(relay.config.providers[0]!)!.probe('messages');
    expect(probe).toMatchObject({ kind: 'models', method: 'GET', url: `${openaiUrl}/models` });
    const before = openai.modelListCalls;
    const res = await fetch(probe.url, { method: probe.method, headers: probe.headers });
    expect(res.status).toBe(200);
    expect(openai.modelListCalls).toBe(before + 1);
    expect(openai.requests).toEqual([]);
    expect(isProbeSuccess({ status: res.status })).toBe(true);
  });

  it("answers a refused key as the relay's key problem, never the client's, and names no key", async () => {
    openai.script.push({
      kind: 'status',
      status: 401,
      body: {
        error: {
          message: `Incorrect API key provided: ${OPENAI_KEY.slice(0, 6)}***cdef`,
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      },
    });
    // A relay of its own: the refused key stays out of rotation afterwards.
    const second = await startRelay(relayConfig(1));
    const own = new Anthropic({ baseURL: second.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const err = await rejectionOf(own.messages.create(ask())).finally(() => second.close());
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    // Not a 401: the client's relay key is fine, the relay's provider key is not.
    expect(e.status).not.toBe(401);
    expect(JSON.stringify(e.error)).toContain('gpt');
    expect(JSON.stringify(e.error)).not.toContain(OPENAI_KEY.slice(0, 6));
  });

  it('lists its mapped names in /v1/models', async () => {
    const res = await fetch(`${relay.url}/v1/models`, { headers: { 'x-api-key': CLIENT_KEY } });
    expect(res.status).toBe(200);
    expect(relay.logs.join('\n')).not.toContain(OPENAI_KEY);
  });
});

describe('fallback chain: anthropic 529 -> bedrock 503 -> openai', () => {
  const CREDENTIALS = {
    accessKeyId: 'AKIAFAKEBEDROCKTEST',
    secretAccessKey: 'fake/bedrock/secret/0123456789abcdef',
  };
  const anthropic = new FakeUpstream();
  const bedrock = new FakeBedrock(CREDENTIALS, 'us-east-1');
  const openai = new FakeOpenAI([OPENAI_KEY]);
  const savedEnv = { ...process.env };
  let relay: RunningRelay;

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    const openaiUrl = await openai.start();
    await anthropic.start();
    await bedrock.start();
    relay = await startRelay(
      rawConfig(anthropic.url, {
        // Each provider is tried twice on a transient failure (retry-policy.ts) before the next one.
        routing: { debug: true, strategy: 'failover', retry: { max_attempts: 5 } },
        providers: [
          {
            name: 'anthropic',
            type: 'anthropic',
            base_url: anthropic.url,
            priority: 30,
            keys: [{ key: PROVIDER_KEY }],
          },
          {
            name: 'bedrock-us',
            type: 'bedrock',
            base_url: bedrock.url,
            aws_region: 'us-east-1',
            priority: 20,
            model_mapping: { 'claude-sonnet-4-5': 'anthropic.claude-sonnet-4-5-20250929-v1:0' },
          },
          {
            name: 'gpt',
            type: 'openai',
            base_url: openaiUrl,
            priority: 10,
            keys: [{ key: OPENAI_KEY }],
            model_mapping: { 'claude-*': 'gpt-5' },
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    await relay.close();
    await anthropic.close();
    await bedrock.close();
    await openai.close();
    process.env = savedEnv;
  });

  it.each([false, true])('answers once, well formed, from the last provider (stream: %s)', async (stream) => {
    anthropic.reset();
    bedrock.reset();
    openai.requests.length = 0;
    anthropic.enqueue({ kind: 'status', status: 529 }, { kind: 'status', status: 529 });
    bedrock.override = () => bedrockError(503, 'ServiceUnavailableException', 'try later');
    openai.script.push({ kind: 'text', text: 'the last resort answers' });
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const message = stream
      ? await client.messages.stream(ask()).finalMessage()
      : await client.messages.create(ask());
    expect(message).toMatchObject({
      type: 'message',
      model: 'claude-sonnet-4-5',
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'the last resort answers' }],
    });
    expect(anthropic.requests.length).toBe(2);
    expect(openai.requests.length).toBe(1);
    expect(openai.requests[0]!.body.model).toBe('gpt-5');
  });
});
