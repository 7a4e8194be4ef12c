import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { request as httpRequest } from 'node:http';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

/** One request over a plain socket, with the status line as the client reads it. */
function rawPost(base: string, path: string, body: unknown) {
  const url = new URL(path, base);
  return new Promise<{ status: number; reason: string; body: string }>((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': CLIENT_KEY,
          'anthropic-version': '2023-06-01',
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', body: text }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('messages that say what went wrong', () => {
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

  it('answers /v1/v1/messages (a base URL ending in /v1) with a 404 that names the request and the mistake', async () => {
    const res = await post(relay.url, '/v1/v1/messages?beta=true&key=query-secret-123', MINIMAL);
    expect(res.statusCode).toBe(404);
    const body = (await res.body.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.message).toContain('POST /v1/v1/messages');
    expect(body.error.message).toContain('base URL must not end in /v1');
    expect(body.error.message).not.toContain('query-secret');
    expect(fake.requests).toHaveLength(0);
    // The access line says what was asked, without the query string.
    await vi.waitFor(() => {
      const line = relay.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'request' && l.status === 404);
      expect(line).toMatchObject({ method: 'POST', route: 'unmatched', path: '/v1/v1/messages' });
    });
    expect(relay.logs.join('\n')).not.toContain('query-secret');
  });

  it('names method and path of any other unknown path, without the /v1 hint', async () => {
    const res = await post(relay.url, '/v1/messagez', MINIMAL);
    expect(res.statusCode).toBe(404);
    const body = (await res.body.json()) as { error: { type: string; message: string } };
    expect(body.error).toEqual({ type: 'not_found_error', message: 'no route for POST /v1/messagez' });
  });

  it('gives a relayed 529 the reason phrase Overloaded in its status line', async () => {
    fake.script(() => ({ kind: 'status', status: 529 }));
    const res = await rawPost(relay.url, '/v1/messages', MINIMAL);
    expect(res.status).toBe(529);
    expect(res.reason).toBe('Overloaded');
    expect(JSON.parse(res.body)).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });
});
