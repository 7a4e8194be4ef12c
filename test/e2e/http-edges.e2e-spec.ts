import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL } from './support/http';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

interface ErrorBody {
  type: string;
  error: { type: string; message: string };
  request_id?: string;
}

/** Sends raw bytes on a fresh connection and returns everything the relay wrote before it closed. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
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
