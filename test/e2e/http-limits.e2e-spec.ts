import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { connect, type Socket } from 'node:net';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL } from './support/http';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

interface ErrorBody {
  type: string;
  error: { type: string; message: string };
}

/** A raw connection that records what the relay wrote and when it closed. */
interface RawConn {
  socket: Socket;
  received(): string;
  closed: Promise<boolean>;
}

function open(url: string, head: string): Promise<RawConn> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let closedResolve: (v: boolean) => void = () => {};
    const closed = new Promise<boolean>((r) => (closedResolve = r));
    const socket = connect(Number(port), hostname, () => {
      socket.write(head);
      resolve({ socket, received: () => Buffer.concat(chunks).toString('utf8'), closed });
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => closedResolve(true));
    socket.once('error', reject);
  });
}

/** Whether the connection closed within `ms`. */
function closedWithin(conn: RawConn, ms: number): Promise<boolean> {
  return Promise.race([conn.closed, new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

function parse(raw: string): { status: number; headers: Record<string, string>; body: ErrorBody } {
  const i = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, i).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const c = line.indexOf(':');
    headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  const body = raw.slice(i + 4, i + 4 + Number(headers['content-length']));
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as ErrorBody };
}

const post = (key: string | undefined, length: number | 'chunked') =>
  `POST /v1/messages HTTP/1.1\r\nHost: relay\r\ncontent-type: application/json\r\n` +
  (key ? `x-api-key: ${key}\r\n` : '') +
  (length === 'chunked' ? 'transfer-encoding: chunked\r\n' : `content-length: ${length}\r\n`) +
  '\r\n';

/** Drips one byte every `everyMs` until stopped. */
function drip(conn: RawConn, everyMs: number): () => void {
  const t = setInterval(() => {
    if (!conn.socket.destroyed) conn.socket.write('{');
  }, everyMs);
  return () => clearInterval(t);
}

describe('request bodies are bounded in time', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(
      rawConfig(await fake.start(), {
        server: { body_timeout_ms: 1500, body_min_bytes_per_s: 0 },
        admin: { token: 'limits-e2e-admin-token-0123456789' },
        routing: { retry: { max_attempts: 1 } },
      }),
    );
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('answers an unauthenticated request 401 with Connection: close and closes it, without reading its body', async () => {
    const conn = await open(relay.url, post(undefined, 1000));
    const stop = drip(conn, 200);
    try {
      expect(await closedWithin(conn, 1000)).toBe(true);
    } finally {
      stop();
    }
    const res = parse(conn.received());
    expect(res.status).toBe(401);
    expect(res.headers.connection).toBe('close');
    expect(res.body.error.type).toBe('authentication_error');
  });

  it('does the same for an admin action without the admin token', async () => {
    const conn = await open(
      relay.url,
      'POST /admin/providers/primary/open HTTP/1.1\r\nHost: relay\r\ncontent-type: application/json\r\n' +
        'content-length: 1000\r\n\r\n',
    );
    const stop = drip(conn, 200);
    try {
      expect(await closedWithin(conn, 1000)).toBe(true);
    } finally {
      stop();
    }
    const res = parse(conn.received());
    expect(res.status).toBe(401);
    expect(res.headers.connection).toBe('close');
  });

  it('answers a body that does not arrive within server.body_timeout_ms with 408 and closes the connection', async () => {
    const conn = await open(relay.url, post(CLIENT_KEY, 1000));
    const stop = drip(conn, 200);
    try {
      expect(await closedWithin(conn, 6000)).toBe(true);
    } finally {
      stop();
    }
    const res = parse(conn.received());
    expect(res.status).toBe(408);
    expect(res.headers.connection).toBe('close');
    expect(res.body.type).toBe('error');
    expect(res.body.error.message).toContain('server.body_timeout_ms');
    expect(relay.logs.some((l) => l.includes('server.body_timeout_ms'))).toBe(true);
    expect(fake.requests).toHaveLength(0);
    // The relay still serves.
    const ok = await request(`${relay.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify(MINIMAL),
    });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });
});

describe('request bodies must arrive at a minimum rate', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(
      rawConfig(await fake.start(), { server: { body_timeout_ms: 60_000, body_min_bytes_per_s: 100 } }),
    );
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('answers a body dripping slower than server.body_min_bytes_per_s with 408', async () => {
    const conn = await open(relay.url, post(CLIENT_KEY, 1000));
    const stop = drip(conn, 250);
    try {
      expect(await closedWithin(conn, 8000)).toBe(true);
    } finally {
      stop();
    }
    const res = parse(conn.received());
    expect(res.status).toBe(408);
    expect(res.body.error.message).toContain('server.body_min_bytes_per_s');
  });
});

describe('connections per client address', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(rawConfig(await fake.start(), { server: { max_connections_per_ip: 3 } }));
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('answers a connection over server.max_connections_per_ip with 429 and closes it; a freed slot serves again', async () => {
    const held = await Promise.all([1, 2, 3].map(() => open(relay.url, '')));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await open(relay.url, '');
    expect(await closedWithin(extra, 2000)).toBe(true);
    const res = parse(extra.received());
    expect(res.status).toBe(429);
    expect(res.body.error.type).toBe('rate_limit_error');
    expect(relay.logs.some((l) => l.includes('server.max_connections_per_ip'))).toBe(true);
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 100));
    const ok = await request(`${relay.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY, connection: 'close' },
      body: JSON.stringify(MINIMAL),
    });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    for (const c of held) c.socket.destroy();
  });
});

describe('request bytes in flight', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(
      rawConfig(await fake.start(), {
        server: { max_inflight_body_bytes: 100_000, body_min_bytes_per_s: 0 },
      }),
    );
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  const send = (pad = 0) =>
    request(`${relay.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify({ ...MINIMAL, metadata: { user_id: 'u'.repeat(pad) } }),
    });

  it('refuses a request whose declared body does not fit with 503 overloaded_error and retry-after, then releases', async () => {
    const holder = await open(relay.url, post(CLIENT_KEY, 90_000));
    holder.socket.write('{"x":"');
    await new Promise((r) => setTimeout(r, 200));
    const refused = parse(
      await (async () => {
        const c = await open(relay.url, post(CLIENT_KEY, 20_000));
        await closedWithin(c, 2000);
        return c.received();
      })(),
    );
    expect(refused.status).toBe(503);
    expect(refused.body.error.type).toBe('overloaded_error');
    expect(refused.headers['retry-after']).toBe('1');
    expect(relay.logs.some((l) => l.includes('server.max_inflight_body_bytes'))).toBe(true);
    // A small request that fits still passes.
    const small = await send();
    expect(small.statusCode).toBe(200);
    await small.body.dump();
    // The client that held the bytes goes away: they are released.
    holder.socket.destroy();
    await holder.closed;
    await new Promise((r) => setTimeout(r, 200));
    // 20 kB more than the 10 kB left while the holder was there.
    const big = await send(20_000);
    expect(big.statusCode).toBe(200);
    await big.body.dump();
  });

  it('counts a chunked body as it arrives and refuses it past the bound', async () => {
    const holder = await open(relay.url, post(CLIENT_KEY, 90_000));
    holder.socket.write('{"x":"');
    await new Promise((r) => setTimeout(r, 200));
    const c = await open(relay.url, post(CLIENT_KEY, 'chunked'));
    const piece = 'a'.repeat(30_000);
    c.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    await closedWithin(c, 3000);
    const res = parse(c.received());
    expect(res.status).toBe(503);
    expect(res.body.error.type).toBe('overloaded_error');
    holder.socket.destroy();
    c.socket.destroy();
  });
});
