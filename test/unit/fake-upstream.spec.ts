import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, FAKE_CLOCK_START } from '../fakes/fake-clock';
import type { Scenario } from '../fakes/fake-scenario';
import { FAKE_ORGANIZATION_ID, FakeUpstream } from '../fakes/fake-upstream';
import { parseSse, SseParser, type SseEvent } from '../fakes/sse-parse';

/** A loose view of the JSON the fake sends, enough for assertions. */
interface Wire {
  id: string;
  type: string;
  model: string;
  input_tokens: number;
  data: Wire[];
  has_more: boolean;
  error: { type: string; message: string };
  request_id: string;
  message: Wire;
  delta: { text: string; stop_reason: string };
  usage: { input_tokens: number; output_tokens: number };
}

const FULL_STREAM = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_delta',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
];

describe('FakeUpstream', () => {
  const clock = new FakeClock();
  const fake = new FakeUpstream({ clock });
  let base: string;

  beforeAll(async () => {
    base = await fake.start();
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    request(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-key', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal,
    });

  const message = (extra: Record<string, unknown> = {}) => ({
    model: 'claude-sonnet-4-6',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'hi' }],
    ...extra,
  });

  /** Reads a stream to its end, keeping the events that arrived and the error that ended it, if any. */
  async function readEvents(body: AsyncIterable<Buffer>): Promise<{ events: SseEvent[]; error?: unknown }> {
    const parser = new SseParser();
    const events: SseEvent[] = [];
    try {
      for await (const chunk of body) events.push(...parser.push(chunk));
      events.push(...parser.end());
      return { events };
    } catch (error) {
      return { events, error };
    }
  }

  describe('default answers', () => {
    it('answers a Message that echoes the model, with request-id and organization headers', async () => {
      const res = await post('/v1/messages', message());
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['request-id']).toBe('req_fake_1');
      expect(res.headers['anthropic-organization-id']).toBe(FAKE_ORGANIZATION_ID);
      const body = (await res.body.json()) as Wire;
      expect(body).toMatchObject({
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-6',
        content: [{ type: 'text', text: 'Hello from the fake upstream.' }],
        stop_reason: 'end_turn',
      });
      expect(body.id).toMatch(/^msg_fake_/);
      expect(body.usage.input_tokens).toBeGreaterThan(0);
    });

    it('records method, path, query, headers, body, key and time', async () => {
      clock.set(FAKE_CLOCK_START + 5);
      const res = await post('/v1/messages?beta=true', message(), { 'anthropic-beta': 'a,b' });
      await res.body.dump();
      const [rec] = await fake.waitForRequests(1);
      expect(rec).toMatchObject({
        index: 0,
        method: 'POST',
        path: '/v1/messages',
        query: 'beta=true',
        apiKey: 'sk-ant-test-key',
        receivedAt: FAKE_CLOCK_START + 5,
        aborted: false,
      });
      expect(rec!.headers['anthropic-beta']).toBe('a,b');
      expect(rec!.body).toEqual(message());
      expect(rec!.rawBody.toString()).toBe(JSON.stringify(message()));
    });

    it('takes the key from Authorization: Bearer when there is no x-api-key', async () => {
      const res = await request(`${base}/v1/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok-123' },
        body: JSON.stringify(message()),
      });
      await res.body.dump();
      const [rec] = await fake.waitForRequests(1);
      expect(rec!.apiKey).toBe('tok-123');
    });

    it('streams the full event grammar when body.stream is true', async () => {
      const res = await post('/v1/messages', message({ stream: true }));
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['request-id']).toMatch(/^req_fake_\d+$/);
      const events = parseSse(await res.body.text());
      expect(events.map((e) => e.event)).toEqual(FULL_STREAM);
      for (const e of events) expect((e.data as { type: string }).type).toBe(e.event);
      const text = events
        .filter((e) => e.event === 'content_block_delta')
        .map((e) => (e.data as Wire).delta.text)
        .join('');
      expect(text).toBe('Hello from the fake upstream.');
      const start = events[0]!.data as Wire;
      const delta = events[6]!.data as Wire;
      expect(start.message).toMatchObject({ model: 'claude-sonnet-4-6', content: [], stop_reason: null });
      // Cumulative usage: the final delta repeats the input side and carries the whole output.
      expect(delta.usage.input_tokens).toBe(start.message.usage.input_tokens);
      expect(delta.delta.stop_reason).toBe('end_turn');
    });

    it('keeps connections alive', async () => {
      const res = await post('/v1/messages', message());
      await res.body.dump();
      expect(res.headers.connection).toBe('keep-alive');
    });

    it('rejects a body that is not JSON with an invalid_request_error', async () => {
      const res = await post('/v1/messages', '{nope');
      expect(res.statusCode).toBe(400);
      expect(((await res.body.json()) as Wire).error.type).toBe('invalid_request_error');
    });
  });

  describe('other endpoints', () => {
    it('counts tokens deterministically from the body size, with or without ?beta=true', async () => {
      const small = message();
      const big = message({ system: 'x'.repeat(400) });
      const a = (await (await post('/v1/messages/count_tokens', small)).body.json()) as Wire;
      const b = (await (await post('/v1/messages/count_tokens?beta=true', small)).body.json()) as Wire;
      const c = (await (await post('/v1/messages/count_tokens', big)).body.json()) as Wire;
      expect(a).toEqual({ input_tokens: expect.any(Number) });
      expect(b.input_tokens).toBe(a.input_tokens);
      expect(c.input_tokens).toBeGreaterThanOrEqual(a.input_tokens + 100);
    });

    it('lists models and finds one; an unknown model or path is a 404 in Anthropic shape', async () => {
      const list = (await (await request(`${base}/v1/models`)).body.json()) as Wire;
      expect(list.data.map((m) => m.id)).toContain('claude-sonnet-4-6');
      expect(list.has_more).toBe(false);
      const one = await request(`${base}/v1/models/claude-haiku-4-5`);
      expect(((await one.body.json()) as Wire).id).toBe('claude-haiku-4-5');
      const missing = await request(`${base}/v1/models/gpt-4`);
      expect(missing.statusCode).toBe(404);
      expect(((await missing.body.json()) as Wire).error.type).toBe('not_found_error');
      const nowhere = await post('/v2/whatever', {});
      expect(nowhere.statusCode).toBe(404);
      const body = (await nowhere.body.json()) as Wire;
      expect(body).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
      expect(body.request_id).toBe(nowhere.headers['request-id']);
    });
  });

  describe('scenarios', () => {
    it('json: custom text, usage, stop reason, model and headers', async () => {
      fake.enqueue({
        kind: 'json',
        text: 'pong',
        usage: { input_tokens: 7, output_tokens: 2 },
        stopReason: 'max_tokens',
        model: 'claude-haiku-4-5',
        headers: { 'anthropic-ratelimit-requests-remaining': '41' },
      });
      const res = await post('/v1/messages', message({ stream: true }));
      expect(res.headers['anthropic-ratelimit-requests-remaining']).toBe('41');
      expect(await res.body.json()).toMatchObject({
        model: 'claude-haiku-4-5',
        content: [{ type: 'text', text: 'pong' }],
        stop_reason: 'max_tokens',
        usage: { input_tokens: 7, output_tokens: 2 },
      });
    });

    it('sse: N deltas and a ping, in grammar order', async () => {
      fake.enqueue({ kind: 'sse', deltas: 5, pings: true, delayMs: 5 });
      const res = await post('/v1/messages', message());
      const { events, error } = await readEvents(res.body);
      expect(error).toBeUndefined();
      expect(events.map((e) => e.event)).toEqual([
        'message_start',
        'content_block_start',
        'ping',
        ...Array<string>(5).fill('content_block_delta'),
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
    });

    it('sse with stamp: every delta carries the wall-clock time it was written', async () => {
      fake.enqueue({ kind: 'sse', deltas: 4, delayMs: 30, stamp: true });
      const before = performance.timeOrigin + performance.now();
      const res = await post('/v1/messages', message({ stream: true }));
      const { events, error } = await readEvents(res.body);
      const after = performance.timeOrigin + performance.now();
      expect(error).toBeUndefined();
      const stamps = events
        .filter((e) => e.event === 'content_block_delta')
        .map((e) => (e.data as Wire).delta.text);
      expect(stamps).toHaveLength(4);
      for (const s of stamps) expect(s).toMatch(/^\d{13}\.\d{3}$/);
      const times = stamps.map(Number);
      expect(times[0]).toBeGreaterThanOrEqual(before);
      expect(times.at(-1)).toBeLessThanOrEqual(after);
      // Paced 30 ms apart (timers fire no earlier than asked).
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(29);
      expect(events.map((e) => e.event).at(-1)).toBe('message_stop');
    });

    it('sse with stamp and no delay: a client that does not read holds the writer (back-pressure)', async () => {
      // ~9 MB of events: more than the loopback socket buffers hold, so the fake must wait for the reader.
      fake.enqueue({ kind: 'sse', deltas: 100_000, stamp: true });
      const res = await post('/v1/messages', message({ stream: true }));
      await new Promise((r) => setTimeout(r, 400));
      const resumedAt = performance.timeOrigin + performance.now();
      const { events, error } = await readEvents(res.body);
      expect(error).toBeUndefined();
      const deltas = events.filter((e) => e.event === 'content_block_delta');
      expect(deltas).toHaveLength(100_000);
      // Written only once the client read again: an unpaced writer would have queued them all in its memory.
      expect(Number((deltas.at(-1)!.data as Wire).delta.text)).toBeGreaterThan(resumedAt);
    });

    it('sse: ttftMs holds back the first event, not the headers', async () => {
      // A 10 s hold: if the headers were held too, this test would time out instead of seeing the 200.
      fake.enqueue({ kind: 'sse', ttftMs: 10_000 });
      const controller = new AbortController();
      const res = await post('/v1/messages', message(), {}, controller.signal);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      controller.abort();
      expect((await fake.waitForAbort(0)).aborted).toBe(true);
    });

    it.each([
      [400, 'invalid_request_error'],
      [401, 'authentication_error'],
      [403, 'permission_error'],
      [404, 'not_found_error'],
      [413, 'request_too_large'],
      [429, 'rate_limit_error'],
      [500, 'api_error'],
      [503, 'api_error'],
      [529, 'overloaded_error'],
    ])('status %i: Anthropic error body of type %s with the request id', async (status, type) => {
      fake.enqueue({ kind: 'status', status });
      const res = await post('/v1/messages', message({ stream: true }));
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toBe('application/json');
      const body = (await res.body.json()) as Wire;
      expect(body).toMatchObject({ type: 'error', error: { type } });
      expect(body.request_id).toBe(res.headers['request-id']);
    });

    it('status: custom headers and a raw body', async () => {
      fake.enqueue({ kind: 'status', status: 429, headers: { 'retry-after': '2' }, body: 'slow down' });
      const res = await post('/v1/messages', message());
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('2');
      expect(await res.body.text()).toBe('slow down');
    });

    it('reset: the connection dies before any header, and that is not a client abort', async () => {
      fake.enqueue({ kind: 'reset' });
      await expect(post('/v1/messages', message())).rejects.toThrow();
      const [rec] = await fake.waitForRequests(1);
      expect(rec!.aborted).toBe(false);
    });

    it('hang: no answer; the client abort is recorded', async () => {
      clock.set(FAKE_CLOCK_START + 100);
      fake.enqueue({ kind: 'hang' });
      const controller = new AbortController();
      const pending = post('/v1/messages', message(), {}, controller.signal);
      await fake.waitForRequests(1);
      clock.advance(50);
      controller.abort();
      await expect(pending).rejects.toThrow();
      const rec = await fake.waitForAbort(0);
      expect(rec.aborted).toBe(true);
      expect(rec.abortedAt).toBe(FAKE_CLOCK_START + 150);
    });

    it('cut: N events then the socket closes, no message_stop, the client gets an error', async () => {
      fake.enqueue({ kind: 'cut', afterEvents: 3, delayMs: 5 });
      const res = await post('/v1/messages', message({ stream: true }));
      const { events, error } = await readEvents(res.body);
      expect(events.map((e) => e.event)).toEqual(FULL_STREAM.slice(0, 3));
      expect(error).toBeDefined();
      expect((await fake.waitForRequests(1))[0]!.aborted).toBe(false);
    });

    it('cut on a non-streaming request: half a JSON body, then a premature close', async () => {
      fake.enqueue({ kind: 'cut' });
      const res = await post('/v1/messages', message());
      await expect(res.body.text()).rejects.toThrow();
    });

    it('stall: N events then silence (pings only when asked); the client abort is recorded', async () => {
      fake.enqueue({ kind: 'stall', afterEvents: 2, pingEveryMs: 20 });
      const controller = new AbortController();
      const res = await post('/v1/messages', message({ stream: true }), {}, controller.signal);
      const parser = new SseParser();
      const events: SseEvent[] = [];
      const iterator = res.body[Symbol.asyncIterator]();
      while (events.filter((e) => e.event === 'ping').length < 2) {
        const next = await iterator.next();
        if (next.done) break;
        events.push(...parser.push(next.value as Buffer));
      }
      expect(events.map((e) => e.event).slice(0, 4)).toEqual([
        'message_start',
        'content_block_start',
        'ping',
        'ping',
      ]);
      controller.abort();
      await expect(iterator.next()).rejects.toThrow();
      expect((await fake.waitForAbort(0)).aborted).toBe(true);
    });

    it('error_event: N events, then event: error overloaded_error, then a clean end', async () => {
      fake.enqueue({ kind: 'error_event', afterEvents: 4 });
      const res = await post('/v1/messages', message({ stream: true }));
      const { events, error } = await readEvents(res.body);
      expect(error).toBeUndefined();
      expect(events.map((e) => e.event)).toEqual([...FULL_STREAM.slice(0, 4), 'error']);
      expect(events[4]!.data).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    });

    it('error_event on a non-streaming request is a 529', async () => {
      fake.enqueue({ kind: 'error_event' });
      const res = await post('/v1/messages', message());
      expect(res.statusCode).toBe(529);
      expect(((await res.body.json()) as Wire).error.type).toBe('overloaded_error');
    });

    it('malformed: N events then a data line that is not JSON', async () => {
      fake.enqueue({ kind: 'malformed', afterEvents: 1 });
      const res = await post('/v1/messages', message({ stream: true }));
      const { events } = await readEvents(res.body);
      expect(events.map((e) => e.event)).toEqual(['message_start', 'content_block_delta']);
      expect(typeof events[1]!.data).toBe('string');
    });

    it('malformed with thenContinue: the rest of the stream follows the broken event', async () => {
      fake.enqueue({ kind: 'malformed', afterEvents: 2, thenContinue: true, data: 'not json' });
      const res = await post('/v1/messages', message({ stream: true }));
      const { events, error } = await readEvents(res.body);
      expect(error).toBeUndefined();
      expect(events.map((e) => e.event)).toEqual([...FULL_STREAM.slice(0, 3), ...FULL_STREAM.slice(2)]);
      expect(events[2]!.data).toBe('not json');
    });

    it('contentDelayMs: message_start arrives at once, the first token is held back', async () => {
      fake.enqueue({ kind: 'sse', contentDelayMs: 10_000 });
      const controller = new AbortController();
      const res = await post('/v1/messages', message(), {}, controller.signal);
      const parser = new SseParser();
      const iterator = res.body[Symbol.asyncIterator]();
      const early: SseEvent[] = [];
      while (early.length < 2) early.push(...parser.push((await iterator.next()).value as Buffer));
      expect(early.map((e) => e.event)).toEqual(['message_start', 'content_block_start']);
      controller.abort();
      expect((await fake.waitForAbort(0)).aborted).toBe(true);
    });

    it('headersDelayMs: nothing is sent until the delay has passed', async () => {
      fake.enqueue({ kind: 'status', status: 500, headersDelayMs: 120 });
      const sentAt = performance.now();
      const res = await post('/v1/messages', message());
      expect(performance.now() - sentAt).toBeGreaterThanOrEqual(100);
      expect(res.statusCode).toBe(500);
      await res.body.dump();
    });
  });

  describe('scenario selection', () => {
    it('script, then queue, then header, then model, then default', async () => {
      const header = JSON.stringify({ kind: 'status', status: 418 } satisfies Scenario);
      fake.script((req) => (req.apiKey === 'key-x' ? { kind: 'status', status: 429 } : undefined));
      fake.enqueue({ kind: 'status', status: 500 });
      const statusOf = async (key: string, model: string, withHeader: boolean) => {
        const res = await post('/v1/messages', message({ model }), {
          'x-api-key': key,
          ...(withHeader ? { 'x-fake-scenario': header } : {}),
        });
        await res.body.dump();
        return res.statusCode;
      };
      expect(await statusOf('key-x', 'fake-529', true)).toBe(429); // script wins, queue untouched
      expect(fake.queued).toBe(1);
      expect(await statusOf('key-y', 'fake-529', true)).toBe(500); // queue
      expect(await statusOf('key-y', 'fake-529', true)).toBe(418); // header
      expect(await statusOf('key-y', 'fake-529', false)).toBe(529); // model shortcut
      expect(await statusOf('key-y', 'claude-sonnet-4-6', false)).toBe(200); // default
    });

    it('script sees its call count: 500 once, then the normal answer', async () => {
      fake.script((_req, call) => (call === 0 ? { kind: 'status', status: 500 } : undefined));
      const first = await post('/v1/messages', message());
      await first.body.dump();
      const second = await post('/v1/messages', message());
      await second.body.dump();
      expect([first.statusCode, second.statusCode]).toEqual([500, 200]);
    });

    it('queued scenarios are consumed by Messages requests only', async () => {
      fake.enqueue({ kind: 'status', status: 503 });
      const count = await post('/v1/messages/count_tokens', message());
      await count.body.dump();
      expect(count.statusCode).toBe(200);
      const msg = await post('/v1/messages', message());
      await msg.body.dump();
      expect(msg.statusCode).toBe(503);
    });

    it('a header that is no Scenario is a 400', async () => {
      const res = await post('/v1/messages', message(), { 'x-fake-scenario': '{"kind":"explode"}' });
      expect(res.statusCode).toBe(400);
      await res.body.dump();
    });

    it('fake-reset and fake-hang model names', async () => {
      await expect(post('/v1/messages', message({ model: 'fake-reset' }))).rejects.toThrow();
      const controller = new AbortController();
      const pending = post('/v1/messages', message({ model: 'fake-hang' }), {}, controller.signal);
      await fake.waitForRequests(2);
      controller.abort();
      await expect(pending).rejects.toThrow();
      await fake.waitForAbort(1);
    });

    it('reset() forgets requests, the queue and the script', async () => {
      fake.script(() => ({ kind: 'status', status: 500 }));
      fake.enqueue({ kind: 'status', status: 500 });
      (await post('/v1/messages', message())).body.dump().catch(() => undefined);
      await fake.waitForRequests(1);
      fake.reset();
      expect(fake.requests).toHaveLength(0);
      expect(fake.queued).toBe(0);
      const res = await post('/v1/messages', message());
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    });

    it('waitForRequests rejects after its timeout', async () => {
      await expect(fake.waitForRequests(1, 30)).rejects.toThrow(/timed out/);
    });
  });

  describe('official SDK as the client', () => {
    const client = () => new Anthropic({ baseURL: base, apiKey: 'sk-ant-sdk-key', maxRetries: 0 });

    it('messages.create gets the Message and its request id', async () => {
      const msg = await client().messages.create(message() as Anthropic.MessageCreateParamsNonStreaming);
      expect(msg.content).toEqual([{ type: 'text', text: 'Hello from the fake upstream.' }]);
      expect(msg._request_id).toMatch(/^req_fake_/);
      expect((await fake.waitForRequests(1))[0]!.apiKey).toBe('sk-ant-sdk-key');
    });

    it('messages.stream(...).finalMessage() assembles the streamed text and usage', async () => {
      fake.enqueue({
        kind: 'sse',
        deltas: 4,
        text: 'streamed text!',
        delayMs: 5,
        usage: { output_tokens: 4 },
      });
      const final = await client()
        .messages.stream(message() as Anthropic.MessageCreateParamsNonStreaming)
        .finalMessage();
      expect(final.content).toEqual([{ type: 'text', text: 'streamed text!' }]);
      expect(final.usage.output_tokens).toBe(4);
      expect(final.stop_reason).toBe('end_turn');
    });

    it('sees an event: error as an overloaded APIError, and retries a 500 that says retry-after-ms', async () => {
      fake.enqueue({ kind: 'error_event' });
      const stream = client().messages.stream(message() as Anthropic.MessageCreateParamsNonStreaming);
      await expect(stream.finalMessage()).rejects.toThrow(/overloaded_error/);

      fake.enqueue({ kind: 'status', status: 500, headers: { 'retry-after-ms': '1' } });
      const retrying = new Anthropic({ baseURL: base, apiKey: 'k', maxRetries: 1 });
      const msg = await retrying.messages.create(message() as Anthropic.MessageCreateParamsNonStreaming);
      expect(msg.type).toBe('message');
    });

    it('countTokens and models.list', async () => {
      const count = await client().messages.countTokens({
        model: 'claude-sonnet-4-6',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(count.input_tokens).toBeGreaterThan(0);
      const ids: string[] = [];
      for await (const m of client().models.list()) ids.push(m.id);
      expect(ids).toContain('claude-opus-4-6');
    });
  });

  it('close() ends hanging requests and stops listening', async () => {
    const other = new FakeUpstream();
    const url = await other.start();
    other.enqueue({ kind: 'hang' });
    const pending = request(`${url}/v1/messages`, { method: 'POST', body: JSON.stringify(message()) });
    await other.waitForRequests(1);
    await other.close();
    await expect(pending).rejects.toThrow();
    expect(other.requests[0]!.aborted).toBe(false);
    await expect(request(`${url}/v1/models`)).rejects.toThrow();
  });
});

describe('parseSse', () => {
  it('reads \\n, \\r\\n and \\r endings, skips comments and unknown fields, joins data lines', () => {
    const input =
      '\uFEFFevent: a\ndata: {"x":1}\n\n: comment\r\nevent: b\r\nid: 7\r\ndata: line1\r\ndata: line2\r\n\r\ndata: 2\r\r';
    expect(parseSse(input)).toEqual([
      { event: 'a', data: { x: 1 }, text: '{"x":1}' },
      { event: 'b', data: 'line1\nline2', text: 'line1\nline2' },
      { event: undefined, data: 2, text: '2' },
    ]);
  });

  it('handles a \\r\\n split across chunks and multi-byte characters split across bytes', () => {
    const parser = new SseParser();
    const bytes = Buffer.from('event: t\r\ndata: "é"\r\n\r\n');
    const splitAt = bytes.indexOf('\n'); // between \r and \n
    const out = [
      ...parser.push(bytes.subarray(0, splitAt)),
      ...parser.push(bytes.subarray(splitAt, bytes.length - 6)),
      ...parser.push(bytes.subarray(bytes.length - 6)),
      ...parser.end(),
    ];
    expect(out).toEqual([{ event: 't', data: 'é', text: '"é"' }]);
  });

  it('drops an event that never got its blank line', () => {
    expect(parseSse('event: a\ndata: {}\n\nevent: b\ndata: {}\n')).toHaveLength(1);
  });
});

describe('FakeClock', () => {
  it('moves only when told to', () => {
    const clock = new FakeClock(1000);
    expect(clock.now()).toBe(1000);
    clock.advance(250);
    expect(clock.now()).toBe(1250);
    clock.set(10);
    expect(clock.now()).toBe(10);
    expect(() => clock.advance(-1)).toThrow();
  });
});

describe('FakeUpstream with a thinking signer', () => {
  const fake = new FakeUpstream({ thinkingSigner: 'zai' });
  let client: Anthropic;

  beforeAll(async () => {
    client = new Anthropic({ baseURL: await fake.start(), apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => fake.close());

  const ask = (history: Anthropic.MessageParam[] = []) => ({
    model: 'claude-sonnet-4-6',
    max_tokens: 2048,
    thinking: { type: 'enabled' as const, budget_tokens: 1024 },
    messages: [...history, { role: 'user' as const, content: 'hi' }],
  });

  it('signs its thinking blocks, in JSON and in streams, and accepts them back', async () => {
    const json = await client.messages.create(ask());
    const streamed = await client.messages.stream(ask()).finalMessage();
    for (const m of [json, streamed]) {
      expect(m.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'text']);
      expect(m.content[0]).toMatchObject({ signature: 'zai-sig' });
    }
    const again = await client.messages.create(
      ask([
        { role: 'user', content: 'q' },
        { role: 'assistant', content: json.content },
      ]),
    );
    expect(again.content[0]).toMatchObject({ type: 'thinking' });
  });

  it('refuses a thinking block it did not sign', async () => {
    const foreign = { type: 'thinking' as const, thinking: 't', signature: 'EqAnthropic' };
    await expect(
      client.messages.create(
        ask([
          { role: 'user', content: 'q' },
          { role: 'assistant', content: [foreign] },
        ]),
      ),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('Invalid signature in thinking block'),
    });
  });

  it('answers without thinking when the request has it off', async () => {
    const m = await client.messages.create({ ...ask(), thinking: undefined });
    expect(m.content.map((b) => b.type)).toEqual(['text']);
  });
});
