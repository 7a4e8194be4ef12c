import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { connect, type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL } from './support/http';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

interface ErrorBody {
  type: string;
  error: { type: string; message: string };
  request_id?: string;
}

/** Sends raw bytes on a fresh connection; resolves with what the relay wrote once it closed (or after `waitMs`). */
function rawExchange(url: string, bytes: string, waitMs = 3000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}

function parseRaw(raw: string): { status: number; headers: Record<string, string>; body: ErrorBody } {
  const i = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, i);
  let body = raw.slice(i + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const c = line.indexOf(':');
    headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  const length = Number(headers['content-length']);
  if (Number.isFinite(length)) body = Buffer.from(body).subarray(0, length).toString('utf8');
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as ErrorBody };
}

function expectShape(res: { body: ErrorBody }, type: string): void {
  expect(res.body.type).toBe('error');
  expect(res.body.error.type).toBe(type);
  expect(typeof res.body.error.message).toBe('string');
}

describe('protocol-level refusals have Anthropic’s shape', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(rawConfig(await fake.start(), { routing: { retry: { max_attempts: 1 } } }));
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('answers an HTTP/1.1 request without Host with 400 invalid_request_error', async () => {
    const body = JSON.stringify(MINIMAL);
    const res = parseRaw(
      await rawExchange(
        relay.url,
        `POST /v1/messages HTTP/1.1\r\nx-api-key: ${CLIENT_KEY}\r\ncontent-type: application/json\r\n` +
          `content-length: ${body.length}\r\n\r\n${body}`,
      ),
    );
    expect(res.status).toBe(400);
    expectShape(res, 'invalid_request_error');
    expect(res.body.error.message).toContain('Host');
    expect(fake.requests).toHaveLength(0);
  });

  it('answers an unknown Expect with 417 in Anthropic’s shape', async () => {
    const res = parseRaw(
      await rawExchange(
        relay.url,
        `POST /v1/messages HTTP/1.1\r\nHost: relay\r\nx-api-key: ${CLIENT_KEY}\r\nexpect: 200-ok\r\n` +
          `content-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
      ),
    );
    expect(res.status).toBe(417);
    expectShape(res, 'invalid_request_error');
    expect(res.body.error.message).toContain('100-continue');
  });

  it('answers CONNECT with 405 instead of closing the connection silently', async () => {
    const res = parseRaw(
      await rawExchange(
        relay.url,
        'CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n',
      ),
    );
    expect(res.status).toBe(405);
    expectShape(res, 'invalid_request_error');
  });

  it('answers OPTIONS * with 405, not with a JSON parse error', async () => {
    const res = parseRaw(
      await rawExchange(relay.url, 'OPTIONS * HTTP/1.1\r\nHost: relay\r\nconnection: close\r\n\r\n'),
    );
    expect(res.status).toBe(405);
    expectShape(res, 'invalid_request_error');
    expect(res.body.error.message).not.toContain('JSON');
  });

  it('answers a body without content-type and one in text/plain alike: 415 naming application/json', async () => {
    const statuses: number[] = [];
    for (const headers of [{}, { 'content-type': 'text/plain' }] as Record<string, string>[]) {
      const res = await request(`${relay.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': CLIENT_KEY, ...headers },
        body: JSON.stringify(MINIMAL),
      });
      const body = (await res.body.json()) as ErrorBody;
      statuses.push(res.statusCode);
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message).toContain('content-type: application/json');
    }
    expect(statuses).toEqual([415, 415]);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('a provider answer larger than the relay holds', () => {
  let upstream: Server;
  let relay: RunningRelay;
  let calls = 0;
  const size = 64 * 1024 * 1024 + 1024;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      calls++;
      req.resume();
      const chunked = req.url?.includes('beta=chunked') ?? false;
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(chunked ? {} : { 'content-length': String(size) }),
      });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          const n = Math.min(chunk.length, size - sent);
          sent += n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    relay = await startRelay(
      rawConfig(`http://127.0.0.1:${port}`, {
        routing: { retry: { max_attempts: 3 } },
        health: { circuit_breaker: { failure_threshold: 1 } },
      }),
    );
  });
  afterAll(async () => {
    await relay.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  for (const how of ['content-length', 'chunked'] as const) {
    it(`says so with a 502, without retrying or opening the circuit (${how})`, async () => {
      calls = 0;
      const res = await request(`${relay.url}/v1/messages?beta=${how}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
        body: JSON.stringify(MINIMAL),
      });
      const body = (await res.body.json()) as ErrorBody;
      expect(res.statusCode).toBe(502);
      expect(body.error.type).toBe('api_error');
      expect(body.error.message).toContain(`exceeded ${64 * 1024 * 1024} bytes`);
      expect(calls).toBe(1);
      // With a threshold of one failure, a breaker failure would have opened the circuit.
      const health = await request(`${relay.url}/health`);
      expect(JSON.stringify(await health.body.json())).not.toMatch(/"open"|OPEN/);
    });
  }
});
