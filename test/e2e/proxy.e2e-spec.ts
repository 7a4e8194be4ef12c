import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { parseSse } from '../fakes/sse-parse';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

describe('proxy: the Messages API through the relay', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    const upstreamUrl = await fake.start();
    relay = await startRelay(
      rawConfig(upstreamUrl, {
        routing: { stall_timeout_ms: 20_000, retry: { max_attempts: 1 } },
        providers: [
          {
            name: 'primary',
            base_url: upstreamUrl,
            keys: [{ key: PROVIDER_KEY }],
            models: ['claude-sonnet-4-6', 'claude-haiku-4-5'],
            model_mapping: { 'claude-alias': 'claude-haiku-4-5' },
          },
        ],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    fake.reset();
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('messages.create returns the upstream answer and sends the provider key, not the client key', async () => {
    const msg = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.type).toBe('message');
    expect(msg.model).toBe('claude-sonnet-4-6');
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake upstream.' });
    const [seen] = fake.requests;
    expect(seen?.apiKey).toBe(PROVIDER_KEY);
    expect(JSON.stringify(seen?.headers)).not.toContain(CLIENT_KEY);
    expect(seen?.body).toMatchObject({ model: 'claude-sonnet-4-6', max_tokens: 64 });
  });

  it('messages.stream().finalMessage() assembles the streamed answer', async () => {
    fake.enqueue({ kind: 'sse', text: 'streamed hello world', deltas: 4 });
    const final = await client.messages
      .stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'streamed hello world' });
    expect(final.stop_reason).toBe('end_turn');
  });

  it('count_tokens and models.list work through the relay', async () => {
    const counted = await client.messages.countTokens({
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: 'count me' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(fake.requests[0]?.path).toBe('/v1/messages/count_tokens');

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['claude-sonnet-4-6', 'claude-haiku-4-5', 'claude-alias']);
    const one = await client.models.retrieve('claude-haiku-4-5');
    expect(one.id).toBe('claude-haiku-4-5');
    await expect(client.models.retrieve('nope')).rejects.toMatchObject({ status: 404 });
  });

  it('models.list pages with limit and after_id / before_id, as the SDK asks', async () => {
    const first = await client.models.list({ limit: 2 });
    expect(first.data.map((m) => m.id)).toEqual(['claude-sonnet-4-6', 'claude-haiku-4-5']);
    expect(first.has_more).toBe(true);
    const all: string[] = [];
    for await (const m of client.models.list({ limit: 1 })) all.push(m.id);
    expect(all).toEqual(['claude-sonnet-4-6', 'claude-haiku-4-5', 'claude-alias']);
    const before = await client.models.list({ limit: 5, before_id: 'claude-alias' });
    expect(before.data.map((m) => m.id)).toEqual(['claude-sonnet-4-6', 'claude-haiku-4-5']);
    await expect(client.models.list({ limit: 0 })).rejects.toMatchObject({ status: 400 });
  });

  it('forwards the query string (?beta=true) and applies model_mapping', async () => {
    const res = await post(relay.url, '/v1/messages?beta=true', {
      model: 'claude-alias',
      max_tokens: 8,
      messages: [],
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(fake.requests[0]?.query).toBe('beta=true');
    expect(fake.requests[0]?.body).toMatchObject({ model: 'claude-haiku-4-5' });
  });

  it('forwards anthropic-* request headers byte-exact and strips hop-by-hop and client credentials', async () => {
    const res = await post(
      relay.url,
      '/v1/messages',
      { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [] },
      {
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'interleaved-thinking-2025-05-14,  claude-code-20250219',
        'x-stainless-retry-count': '0',
        'user-agent': 'claude-cli/2.1.0 (external, cli)',
        'proxy-authorization': 'Basic c2VjcmV0',
        cookie: 'session=abc',
      },
    );
    await res.body.text();
    const seen = fake.requests[0]!;
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14,  claude-code-20250219');
    expect(seen.headers['x-stainless-retry-count']).toBe('0');
    expect(seen.headers['user-agent']).toBe('claude-cli/2.1.0 (external, cli)');
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-api-key']).toBe(PROVIDER_KEY);
  });

  it('passes back request-id, anthropic-* and retry headers, and echoes X-Request-ID', async () => {
    fake.enqueue({
      kind: 'json',
      headers: { 'anthropic-ratelimit-requests-remaining': '41', 'x-internal-upstream': 'nope' },
    });
    const res = await post(
      relay.url,
      '/v1/messages',
      { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [] },
      {
        'x-request-id': 'trace-abc-123',
      },
    );
    await res.body.text();
    expect(res.headers['request-id']).toMatch(/^req_fake_/);
    expect(res.headers['anthropic-organization-id']).toBeDefined();
    expect(res.headers['anthropic-ratelimit-requests-remaining']).toBe('41');
    expect(res.headers['x-internal-upstream']).toBeUndefined();
    expect(res.headers['x-request-id']).toBe('trace-abc-123');
    expect(relay.logs.some((l) => l.includes('"request_id":"trace-abc-123"'))).toBe(true);
    // The upstream sees the same id: one id across client, relay and provider logs.
    expect(fake.requests[0]?.headers['x-request-id']).toBe('trace-abc-123');
    // An id the relay rejected (and replaced in its own logs) is replaced upstream too.
    const bad = await post(relay.url, '/v1/messages', MINIMAL, { 'x-request-id': 'x'.repeat(500) });
    await bad.body.text();
    expect(fake.requests[1]?.headers['x-request-id']).toBe(bad.headers['x-request-id']);
  });

  it('passes an upstream 400 through unchanged, once', async () => {
    fake.enqueue({ kind: 'status', status: 400, message: 'messages: field required' });
    await expect(
      client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [] }),
    ).rejects.toMatchObject({
      status: 400,
      error: { error: { type: 'invalid_request_error', message: 'messages: field required' } },
    });
    expect(fake.requests).toHaveLength(1);
  });

  it('streams unbuffered: the client holds the first events while the upstream still withholds the rest', async () => {
    // The upstream sends three events and then goes silent; the relay must already have passed them on.
    fake.enqueue({ kind: 'stall', afterEvents: 3 });
    const res = await post(relay.url, '/v1/messages', {
      model: 'claude-sonnet-4-6',
      max_tokens: 8,
      messages: [],
      stream: true,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/event-stream');
    expect(res.headers['x-accel-buffering']).toBe('no');
    expect(res.headers['content-encoding']).toBeUndefined();
    let text = '';
    for await (const chunk of res.body) {
      text += String(chunk);
      if (parseSse(text).some((e) => e.event === 'content_block_start')) break;
    }
    const events = parseSse(text).map((e) => e.event);
    expect(events).toContain('message_start');
    expect(events).toContain('content_block_start');
    expect(events).not.toContain('message_stop');
    res.body.destroy();
    // And the client's departure reaches the upstream.
    await fake.waitForAbort(0, 1500);
  });

  it('aborts the upstream request within a second of the client disconnecting', async () => {
    fake.enqueue({ kind: 'sse', deltas: 50, delayMs: 100 });
    const controller = new AbortController();
    const stream = client.messages.stream(
      { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'long' }] },
      { signal: controller.signal },
    );
    const ended = stream.done().catch((err: unknown) => err);
    await new Promise<void>((resolve) => stream.on('text', () => resolve()));
    controller.abort();
    const seen = await fake.waitForAbort(0, 1000);
    expect(seen.aborted).toBe(true);
    expect(await ended).toBeInstanceOf(Anthropic.APIUserAbortError);
  });

  it('logs a client that left before any answer as status 499, aborted', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const pending = client.messages
      .create(
        { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'gone' }] },
        { signal: controller.signal },
      )
      .catch((err: unknown) => err);
    await fake.waitForRequests(1, 2_000);
    controller.abort();
    expect(await pending).toBeInstanceOf(Anthropic.APIUserAbortError);
    await fake.waitForAbort(0, 1_000);
    await vi.waitFor(() => {
      const line = relay.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'request' && l.status === 499);
      expect(line).toMatchObject({ route: '/v1/messages', aborted: true });
    });
  });

  it('ends the client stream with an error event when the upstream dies mid-stream', async () => {
    fake.enqueue({ kind: 'cut', afterEvents: 4 });
    const res = await post(relay.url, '/v1/messages', {
      model: 'claude-sonnet-4-6',
      max_tokens: 8,
      messages: [],
      stream: true,
    });
    const events = parseSse(await res.body.text());
    expect(events.at(-1)?.event).toBe('error');
    expect(events.map((e) => e.event)).not.toContain('message_stop');

    fake.enqueue({ kind: 'cut', afterEvents: 4 });
    await expect(
      client.messages
        .stream({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })
        .finalMessage(),
    ).rejects.toThrow();
  });

  it('never writes a key to the logs', () => {
    const all = relay.logs.join('\n');
    expect(all).not.toContain(PROVIDER_KEY);
    expect(all).not.toContain(CLIENT_KEY);
  });
});
