import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, constants, createGzip, deflateSync, gzipSync } from 'node:zlib';
import Anthropic from '@anthropic-ai/sdk';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL } from './support/http';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

interface ErrorBody {
  type: string;
  error: { type: string; message: string };
  request_id?: string;
}

/**
 * Sends raw bytes on a fresh connection and returns everything the relay wrote before it closed (the request
 * must make it close: an error, or `connection: close`; half-closing first would read as a client gone away).
 */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Splits a raw HTTP/1.1 answer into its status, lower-cased headers and parsed JSON body. */
function parseRaw(raw: string): { status: number; headers: Record<string, string>; body: ErrorBody } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as ErrorBody };
}

describe('HTTP edges a production relay meets', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(
      rawConfig(await fake.start(), {
        server: { max_body_bytes: 64 * 1024 },
        routing: { retry: { max_attempts: 1 } },
      }),
    );
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  describe('errors raised before routing have the Anthropic shape', () => {
    it('answers headers over the size limit with 431 invalid_request_error', async () => {
      const raw = await rawExchange(
        relay.url,
        `POST /v1/messages HTTP/1.1\r\nHost: relay\r\nx-api-key: ${CLIENT_KEY}\r\n` +
          `anthropic-beta: ${'b'.repeat(20_000)}\r\ncontent-length: 2\r\n\r\n{}`,
      );
      const res = parseRaw(raw);
      expect(res.status).toBe(431);
      expect(res.body.type).toBe('error');
      expect(res.body.error.type).toBe('invalid_request_error');
      expect(res.body.request_id).toBe(res.headers['x-request-id']);
      expect(fake.requests).toHaveLength(0);
    });

    it('answers an unparsable request with 400 invalid_request_error', async () => {
      const res = parseRaw(await rawExchange(relay.url, 'GARBAGE\r\n\r\n'));
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
    });

    it('answers a URL with malformed percent-encoding with 400 invalid_request_error', async () => {
      const res = await request(`${relay.url}/v1/models/%zz`, { headers: { 'x-api-key': CLIENT_KEY } });
      expect(res.statusCode).toBe(400);
      const body = (await res.body.json()) as ErrorBody;
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.request_id).toBe(res.headers['x-request-id']);
    });

    it('still serves the next request after the malformed URL (the listener is unharmed)', async () => {
      const res = await request(`${relay.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json' },
        body: JSON.stringify(MINIMAL),
      });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    });
  });

  describe('request targets', () => {
    const body = JSON.stringify(MINIMAL);
    const rawPost = (target: string, key: string | undefined) =>
      rawExchange(
        relay.url,
        `POST ${target} HTTP/1.1\r\nHost: relay\r\n${key ? `x-api-key: ${key}\r\n` : ''}` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `connection: close\r\n\r\n${body}`,
      );

    it('forwards an absolute-form target (a client using the relay as its HTTP proxy) by its path', async () => {
      const raw = await rawPost(`${relay.url}/v1/messages?beta=true`, CLIENT_KEY);
      expect(raw.startsWith('HTTP/1.1 200')).toBe(true);
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]!.path).toBe('/v1/messages');
      expect(fake.requests[0]!.query).toBe('beta=true');
    });

    it('drops a fragment from the forwarded target', async () => {
      const raw = await rawPost('/v1/messages/count_tokens#frag', CLIENT_KEY);
      expect(raw.startsWith('HTTP/1.1 200')).toBe(true);
      expect(fake.requests[0]!.path).toBe('/v1/messages/count_tokens');
    });

    it('checks the credentials of an absolute-form request like any other', async () => {
      const raw = await rawPost(`${relay.url}/v1/messages`, undefined);
      expect(raw.startsWith('HTTP/1.1 401')).toBe(true);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('request bodies', () => {
    const json = JSON.stringify(MINIMAL);
    const postBytes = (body: Buffer, headers: Record<string, string> = {}) =>
      request(`${relay.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json', ...headers },
        body,
      });

    it.each([
      ['gzip', gzipSync],
      ['deflate', deflateSync],
      ['br', brotliCompressSync],
    ])(
      'decodes a %s request body and forwards it decoded, without content-encoding',
      async (name, encode) => {
        const res = await postBytes(encode(Buffer.from(json)), { 'content-encoding': name });
        expect(res.statusCode).toBe(200);
        await res.body.dump();
        expect(fake.requests).toHaveLength(1);
        expect(fake.requests[0]!.rawBody.toString('utf8')).toBe(json);
        expect(fake.requests[0]!.headers['content-encoding']).toBeUndefined();
      },
    );

    it('refuses a body that inflates past server.max_body_bytes with 413, and stays up', async () => {
      const huge = { ...MINIMAL, messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] };
      const bomb = gzipSync(Buffer.from(JSON.stringify(huge)));
      expect(bomb.length).toBeLessThan(64 * 1024);
      const res = await postBytes(bomb, { 'content-encoding': 'gzip' });
      expect(res.statusCode).toBe(413);
      expect(((await res.body.json()) as ErrorBody).error.type).toBe('request_too_large');
      expect(fake.requests).toHaveLength(0);
      const next = await postBytes(Buffer.from(json));
      expect(next.statusCode).toBe(200);
      await next.body.dump();
    });

    it('answers a corrupt compressed body with 400 and an unknown encoding with 415', async () => {
      const corrupt = await postBytes(Buffer.from(json), { 'content-encoding': 'gzip' });
      expect(corrupt.statusCode).toBe(400);
      expect(((await corrupt.body.json()) as ErrorBody).error.type).toBe('invalid_request_error');
      const unknown = await postBytes(Buffer.from(json), { 'content-encoding': 'compress' });
      expect(unknown.statusCode).toBe(415);
      expect(((await unknown.body.json()) as ErrorBody).error.message).toContain('content-encoding');
      expect(fake.requests).toHaveLength(0);
    });

    it('accepts a body that starts with a UTF-8 byte order mark and forwards it without one', async () => {
      const res = await postBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]));
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      expect(fake.requests[0]!.rawBody.toString('utf8')).toBe(json);
    });

    it('says which relay limit a too large body broke, and what content-type to send', async () => {
      const big = { ...MINIMAL, messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] };
      const tooLarge = await postBytes(Buffer.from(JSON.stringify(big)));
      expect(tooLarge.statusCode).toBe(413);
      expect(((await tooLarge.body.json()) as ErrorBody).error.message).toContain('server.max_body_bytes');
      const xml = await postBytes(Buffer.from('<x/>'), { 'content-type': 'application/xml' });
      expect(xml.statusCode).toBe(415);
      const body = (await xml.body.json()) as ErrorBody;
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message).toContain('application/json');
    });
  });
});

describe('an upstream that compresses although the relay asked for identity', () => {
  const ev = (name: string, data: Record<string, unknown>) =>
    `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  const message = {
    id: 'msg_gz',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-6',
    content: [{ type: 'text', text: 'zipped json' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 3, output_tokens: 2 },
  };
  let upstream: Server;
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          stream?: boolean;
          model: string;
        };
        if (body.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
          const gz = createGzip({ flush: constants.Z_SYNC_FLUSH });
          gz.pipe(res);
          gz.write(ev('message_start', { message: { ...message, content: [], stop_reason: null } }));
          gz.write(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
          gz.write(
            ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'zipped stream' } }),
          );
          gz.write(ev('content_block_stop', { index: 0 }));
          gz.write(ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }));
          gz.end(ev('message_stop', {}));
          return;
        }
        const failing = body.model === 'claude-haiku-4-5';
        const answer = gzipSync(
          JSON.stringify(
            failing
              ? { type: 'error', error: { type: 'invalid_request_error', message: 'zipped error' } }
              : message,
          ),
        );
        res.writeHead(failing ? 400 : 200, {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': answer.length,
        });
        res.end(answer);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    relay = await startRelay(
      rawConfig(`http://127.0.0.1:${port}`, { routing: { retry: { max_attempts: 1 } } }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await relay.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  const req = {
    model: 'claude-sonnet-4-6',
    max_tokens: 8,
    messages: [{ role: 'user' as const, content: 'hi' }],
  };

  it('passes a compressed JSON answer on decoded', async () => {
    const msg = await client.messages.create(req);
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'zipped json' });
  });

  it('relays a compressed stream decoded', async () => {
    const msg = await client.messages.stream(req).finalMessage();
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'zipped stream' });
  });

  it('passes a compressed error answer on decoded', async () => {
    await expect(client.messages.create({ ...req, model: 'claude-haiku-4-5' })).rejects.toMatchObject({
      status: 400,
      error: { error: { message: 'zipped error' } },
    });
  });
});
