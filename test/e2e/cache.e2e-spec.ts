import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmCache } from '../../src/cache/cache-warmup';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/fake-upstream';
import { parseSse } from '../fakes/sse-parse';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

const OTHER_CLIENT = 'relay-client-key-other-9876543210';
const ADMIN_TOKEN = 'admin-token-for-cache-tests-0001';

async function json(res: Awaited<ReturnType<typeof post>>) {
  return (await res.body.json()) as { content: Array<{ text: string }>; model: string };
}

describe('response cache (single mode) through the relay', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    const url = await fake.start();
    relay = await startRelay(
      rawConfig(url, {
        server: { auth: { api_keys: [CLIENT_KEY, OTHER_CLIENT] } },
        cache: { mode: 'single', stream: true },
        admin: { token: ADMIN_TOKEN },
      }),
    );
  });
  afterEach(async () => {
    fake.reset();
    await request(`${relay.url}/admin/cache`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }).then((r) => r.body.text());
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('answers the second identical request from the cache without calling the upstream', async () => {
    const first = await post(relay.url, '/v1/messages', MINIMAL);
    expect(first.headers['x-cc-relay-cache']).toBe('MISS');
    const firstBody = await json(first);
    const second = await post(relay.url, '/v1/messages', MINIMAL);
    expect(second.headers['x-cc-relay-cache']).toBe('HIT');
    expect(await json(second)).toEqual(firstBody);
    expect(second.headers['x-request-id']).toBeDefined();
    expect(fake.requests).toHaveLength(1);
  });

  it('treats the same request with keys in another order as the same entry, but never shares across clients', async () => {
    await (await post(relay.url, '/v1/messages', MINIMAL)).body.text();
    const reordered = {
      messages: MINIMAL.messages,
      max_tokens: MINIMAL.max_tokens,
      model: MINIMAL.model,
      metadata: { user_id: 'session-2' },
    };
    const again = await post(relay.url, '/v1/messages', reordered);
    expect(again.headers['x-cc-relay-cache']).toBe('HIT');
    await again.body.text();
    const other = await post(relay.url, '/v1/messages', MINIMAL, { 'x-api-key': OTHER_CLIENT });
    expect(other.headers['x-cc-relay-cache']).toBe('MISS');
    await other.body.text();
    expect(fake.requests).toHaveLength(2);
  });

  it('Cache-Control: no-cache skips the lookup and refreshes the entry; no-store never writes', async () => {
    fake.enqueue({ kind: 'json', text: 'first answer' }, { kind: 'json', text: 'refreshed answer' });
    await (await post(relay.url, '/v1/messages', MINIMAL)).body.text();
    const refreshed = await post(relay.url, '/v1/messages', MINIMAL, { 'cache-control': 'no-cache' });
    expect(refreshed.headers['x-cc-relay-cache']).toBe('BYPASS');
    expect((await json(refreshed)).content[0]?.text).toBe('refreshed answer');
    const hit = await post(relay.url, '/v1/messages', MINIMAL);
    expect(hit.headers['x-cc-relay-cache']).toBe('HIT');
    expect((await json(hit)).content[0]?.text).toBe('refreshed answer');

    const body = { ...MINIMAL, max_tokens: 99 };
    const noStore = await post(relay.url, '/v1/messages', body, { 'cache-control': 'no-store' });
    expect(noStore.headers['x-cc-relay-cache']).toBe('MISS');
    await noStore.body.text();
    const after = await post(relay.url, '/v1/messages', body);
    expect(after.headers['x-cc-relay-cache']).toBe('MISS');
    await after.body.text();
    expect(fake.requests).toHaveLength(4);
  });

  it('sends 20 concurrent identical requests upstream once (single-flight)', async () => {
    fake.script(() => ({ kind: 'json', headersDelayMs: 300, text: 'shared' }));
    const body = { ...MINIMAL, max_tokens: 7 };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => post(relay.url, '/v1/messages', body)),
    );
    const texts = await Promise.all(
      answers.map(async (r) => ({ status: r.statusCode, text: (await json(r)).content[0]?.text })),
    );
    expect(texts.every((t) => t.status === 200 && t.text === 'shared')).toBe(true);
    expect(fake.requests).toHaveLength(1);
    fake.script(undefined);
  });

  it('does not cache errors or truncated answers', async () => {
    fake.enqueue({ kind: 'status', status: 400 }, { kind: 'json', stopReason: 'max_tokens' });
    const body = { ...MINIMAL, max_tokens: 3 };
    expect((await post(relay.url, '/v1/messages', body)).statusCode).toBe(400);
    await (await post(relay.url, '/v1/messages', body)).body.text();
    const third = await post(relay.url, '/v1/messages', body);
    expect(third.headers['x-cc-relay-cache']).toBe('MISS');
    await third.body.text();
    expect(fake.requests).toHaveLength(3);
  });

  it('caches count_tokens answers', async () => {
    const body = { model: MINIMAL.model, messages: MINIMAL.messages };
    const a = await post(relay.url, '/v1/messages/count_tokens', body);
    const b = await post(relay.url, '/v1/messages/count_tokens', body);
    expect(a.headers['x-cc-relay-cache']).toBe('MISS');
    expect(b.headers['x-cc-relay-cache']).toBe('HIT');
    expect(await b.body.json()).toEqual(await a.body.json());
    expect(fake.requests).toHaveLength(1);
  });

  it('replays a stored stream to the SDK as a valid SSE stream, and serves JSON clients from it', async () => {
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    fake.enqueue({ kind: 'sse', text: 'streamed and cached', deltas: 5 });
    const params = {
      model: MINIMAL.model,
      max_tokens: 64,
      messages: [{ role: 'user' as const, content: 'stream me' }],
    };
    const first = await client.messages.stream(params).finalMessage();
    const replay = await client.messages.stream(params).finalMessage();
    expect(replay.content).toEqual(first.content);
    expect(replay.stop_reason).toBe('end_turn');
    expect(fake.requests).toHaveLength(1);

    // The anthropic-version is part of the key: ask the way the SDK did.
    const version = String(fake.requests[0]?.headers['anthropic-version']);
    const raw = await post(
      relay.url,
      '/v1/messages',
      { ...params, stream: true },
      { 'anthropic-version': version },
    );
    expect(raw.headers['x-cc-relay-cache']).toBe('HIT');
    const events = parseSse(await raw.body.text()).map((e) => e.event);
    expect(events[0]).toBe('message_start');
    expect(events.at(-1)).toBe('message_stop');

    const asJson = await client.messages.create(params);
    expect(asJson.content).toEqual(first.content);
    expect(fake.requests).toHaveLength(1);
  });

  it('a stored JSON answer replayed to a streaming SDK client gives back that answer, field for field', async () => {
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const stored = {
      id: 'msg_fidelity_1',
      type: 'message',
      role: 'assistant',
      model: MINIMAL.model,
      container: null,
      content: [
        { type: 'thinking', thinking: 'Think first.', signature: 'EqQBCgIYAhIM' },
        { type: 'redacted_thinking', data: 'EmwKAhgB' },
        { type: 'text', text: 'Plain, ', citations: null },
        {
          type: 'text',
          text: 'cited.',
          citations: [{ type: 'char_location', cited_text: 'c', document_index: 0 }],
        },
        { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} },
        { type: 'hologram', payload: { future: true } },
      ],
      stop_reason: 'stop_sequence',
      stop_sequence: 'STOP',
      stop_details: null,
      usage: {
        input_tokens: 40,
        output_tokens: 12,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 32,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        server_tool_use: null,
        service_tier: 'standard',
      },
    };
    fake.enqueue({ kind: 'status', status: 200, body: stored });
    const params = {
      model: MINIMAL.model,
      max_tokens: 65,
      messages: [{ role: 'user' as const, content: 'fidelity' }],
    };
    const created = await client.messages.create(params);
    expect(JSON.parse(JSON.stringify(created))).toStrictEqual(stored);
    const { parsed_output: _parsed, ...replayed } = await client.messages.stream(params).finalMessage();
    expect(JSON.parse(JSON.stringify(replayed))).toStrictEqual(stored);
    expect(fake.requests).toHaveLength(1);
  });

  it('a stored stream answered to a JSON SDK client equals what finalMessage() made of it', async () => {
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const event = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const sse = [
      event('message_start', {
        message: {
          id: 'msg_fidelity_2',
          type: 'message',
          role: 'assistant',
          model: MINIMAL.model,
          container: null,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          stop_details: null,
          usage: {
            input_tokens: 40,
            output_tokens: 1,
            cache_creation_input_tokens: 8,
            cache_read_input_tokens: 32,
          },
        },
      }),
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello ' } }),
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'again.' } }),
      event('content_block_stop', { index: 0 }),
      event('content_block_start', {
        index: 1,
        content_block: { type: 'tool_use', id: 't', name: 'f', input: {} },
      }),
      event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } }),
      event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '[1]}' } }),
      event('content_block_stop', { index: 1 }),
      event('message_delta', {
        delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null },
        usage: {
          input_tokens: null,
          cache_creation_input_tokens: null,
          cache_read_input_tokens: null,
          output_tokens: 9,
          server_tool_use: null,
        },
      }),
      event('message_stop', {}),
    ].join('');
    fake.enqueue({
      kind: 'status',
      status: 200,
      body: sse,
      headers: { 'content-type': 'text/event-stream' },
    });
    const params = {
      model: MINIMAL.model,
      max_tokens: 66,
      messages: [{ role: 'user' as const, content: 'fidelity' }],
    };
    const { parsed_output: _parsed, ...streamed } = await client.messages.stream(params).finalMessage();
    const created = await client.messages.create(params);
    expect(JSON.parse(JSON.stringify(created))).toStrictEqual(JSON.parse(JSON.stringify(streamed)));
    expect(created.usage.input_tokens).toBe(40);
    expect(fake.requests).toHaveLength(1);
  });

  it('a stored beta stream answered to client.beta.messages.create keeps compaction and context_management', async () => {
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const event = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const sse = [
      event('message_start', {
        message: {
          id: 'msg_fidelity_3',
          type: 'message',
          role: 'assistant',
          model: MINIMAL.model,
          container: null,
          context_management: null,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          stop_details: null,
          usage: { input_tokens: 40, output_tokens: 1 },
        },
      }),
      event('content_block_start', {
        index: 0,
        content_block: { type: 'compaction', content: null, encrypted_content: null },
      }),
      event('content_block_delta', {
        index: 0,
        delta: { type: 'compaction_delta', content: 'The story so far.', encrypted_content: 'Eo8B' },
      }),
      event('content_block_stop', { index: 0 }),
      event('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
      event('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Onwards.' } }),
      event('content_block_stop', { index: 1 }),
      event('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null, container: null },
        context_management: { applied_edits: [{ type: 'clear_tool_uses_20250919', cleared_tool_uses: 1 }] },
        usage: { output_tokens: 9 },
      }),
      event('message_stop', {}),
    ].join('');
    fake.enqueue({
      kind: 'status',
      status: 200,
      body: sse,
      headers: { 'content-type': 'text/event-stream' },
    });
    const params = {
      model: MINIMAL.model,
      max_tokens: 67,
      messages: [{ role: 'user' as const, content: 'fidelity' }],
      betas: ['compact-2026-01-12', 'context-management-2025-06-27'],
    };
    const { parsed_output: _parsed, ...streamed } = await client.beta.messages.stream(params).finalMessage();
    const created = await client.beta.messages.create(params);
    expect(JSON.parse(JSON.stringify(created))).toStrictEqual(JSON.parse(JSON.stringify(streamed)));
    expect(created.content[0]).toMatchObject({ type: 'compaction', content: 'The story so far.' });
    expect(fake.requests).toHaveLength(1);
  });

  it('shows its counters in the admin API and empties on DELETE /admin/cache', async () => {
    await (await post(relay.url, '/v1/messages', MINIMAL)).body.text();
    await (await post(relay.url, '/v1/messages', MINIMAL)).body.text();
    const stats = await request(`${relay.url}/admin/cache/stats`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const body = (await stats.body.json()) as Record<string, number | string>;
    expect(body.mode).toBe('single');
    expect(Number(body.hits)).toBeGreaterThan(0);
    expect(Number(body.backend_key_count)).toBeGreaterThan(0);
    const flushed = await request(`${relay.url}/admin/cache`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(flushed.statusCode).toBe(204);
    const after = await post(relay.url, '/v1/messages', MINIMAL);
    expect(after.headers['x-cc-relay-cache']).toBe('MISS');
    await after.body.text();
  });

  it('warms up from a file of requests: later identical requests are hits', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cc-relay-warmup-')), 'warm.jsonl');
    const bodies = [1, 2, 3].map((n) => ({ ...MINIMAL, max_tokens: 100 + n }));
    writeFileSync(file, [...bodies.map((body) => JSON.stringify({ body })), 'not json', ''].join('\n'));
    const report = await warmCache(relay.url, {
      ...relay.config,
      cache: { ...relay.config.cache, warmup_file: file },
    });
    expect(report).toEqual({ sent: 3, ok: 3, failed: 0, skipped: 1 });
    for (const body of bodies) {
      const res = await post(relay.url, '/v1/messages', body);
      expect(res.headers['x-cc-relay-cache']).toBe('HIT');
      await res.body.text();
    }
    expect(fake.requests).toHaveLength(3);
  });

  it('never writes a key to the logs', () => {
    const all = relay.logs.join('\n');
    expect(all).not.toContain(PROVIDER_KEY);
    expect(all).not.toContain(CLIENT_KEY);
  });
});

describe('response cache with routing.debug', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;
  beforeAll(async () => {
    relay = await startRelay(
      rawConfig(await fake.start(), {
        cache: { mode: 'single' },
        routing: { debug: true, strategy: 'round_robin' },
      }),
    );
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('sends the debug headers on a hit too, naming the cache where the provider goes', async () => {
    const miss = await post(relay.url, '/v1/messages', MINIMAL);
    await miss.body.text();
    expect(miss.headers['x-cc-relay-provider']).toBe('primary');
    const hit = await post(relay.url, '/v1/messages', MINIMAL);
    await hit.body.text();
    expect(hit.headers['x-cc-relay-cache']).toBe('HIT');
    expect(hit.headers['x-cc-relay-provider']).toBe('cache');
    expect(hit.headers['x-cc-relay-strategy']).toBe('round_robin');
    expect(hit.headers['x-cc-relay-attempts']).toBe('0');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('response cache with streams not opted in', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;
  beforeAll(async () => {
    relay = await startRelay(rawConfig(await fake.start(), { cache: { mode: 'single', stream: false } }));
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('bypasses streaming requests', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await post(relay.url, '/v1/messages', { ...MINIMAL, stream: true });
      expect(res.headers['x-cc-relay-cache']).toBe('BYPASS');
      await res.body.text();
    }
    expect(fake.requests).toHaveLength(2);
  });
});

describe('response cache: answers too large to keep', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;
  const LIMIT = 64 * 1024; // single's whole budget here, so also the largest entry

  beforeAll(async () => {
    relay = await startRelay(
      rawConfig(await fake.start(), {
        cache: { mode: 'single', stream: true, ristretto: { max_cost: LIMIT } },
        admin: { token: ADMIN_TOKEN },
      }),
    );
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  async function tooLarge(): Promise<number> {
    const res = await request(`${relay.url}/admin/cache/stats`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    return Number(((await res.body.json()) as Record<string, unknown>).too_large);
  }

  it('relays a stream longer than the largest entry in full, keeps none of it, and says so in the stats', async () => {
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    // 2,000 text deltas: ~300 KB of SSE, several times the limit.
    fake.script(() => ({ kind: 'sse', deltas: 2_000 }));
    const expected = Array.from({ length: 2_000 }, (_, i) => `chunk${i} `).join('');
    const params = {
      model: MINIMAL.model,
      max_tokens: 64,
      messages: [{ role: 'user' as const, content: 'a long stream' }],
    };
    const before = await tooLarge();
    const first = await client.messages.stream(params).finalMessage();
    expect(first.content).toEqual([{ type: 'text', text: expected }]);
    expect(first.stop_reason).toBe('end_turn');

    const again = await post(relay.url, '/v1/messages', { ...params, stream: true });
    expect(again.headers['x-cc-relay-cache']).toBe('MISS');
    const events = parseSse(await again.body.text());
    expect(events.at(-1)?.event).toBe('message_stop');
    expect(fake.requests).toHaveLength(2);
    expect((await tooLarge()) - before).toBe(2);
  });

  it('does not store a JSON answer larger than the largest entry, but still answers it', async () => {
    const text = 'x'.repeat(LIMIT + 1);
    fake.script(() => ({ kind: 'json', text }));
    const before = await tooLarge();
    for (const expected of ['MISS', 'MISS']) {
      const res = await post(relay.url, '/v1/messages', MINIMAL);
      expect(res.headers['x-cc-relay-cache']).toBe(expected);
      expect((await json(res)).content[0]?.text).toBe(text);
    }
    expect(fake.requests).toHaveLength(2);
    expect((await tooLarge()) - before).toBe(2);
  });
});
