import { Agent, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { GracefulShutdown } from '../../src/common/graceful-shutdown.service';
import { InFlightService } from '../../src/common/in-flight.service';
import { FakeUpstream } from '../fakes/fake-upstream';
import { send, waitUntil } from './support/breaker-relay';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';
import { connectionRefused, openStream, streamedText } from './support/sse-client';

// Issue 4, "Graceful drain", run in-process through GracefulShutdown (drain-sigterm.e2e-spec.ts sends a real
// SIGTERM to a real process): readiness 503 at once, new connections refused after delay_ms, in-flight requests
// and streams get grace_ms, streams still open then end with an `event: error`.

const LONG_TEXT =
  'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen';

async function readyStatus(base: string): Promise<number> {
  const res = await fetch(`${base}/health/ready`);
  await res.arrayBuffer();
  return res.status;
}

function portOf(relay: RunningRelay): number {
  return Number(new URL(relay.url).port);
}

describe('graceful drain (in-process)', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay | undefined;

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    fake.reset();
    await fake.close();
  });

  it('lets in-flight streams and requests finish while readiness is 503, and refuses new connections after delay_ms', async () => {
    const upstream = await fake.start();
    relay = await startRelay(
      rawConfig(upstream, { server: { shutdown: { delay_ms: 400, grace_ms: 20_000 } } }),
    );
    fake.script((req) =>
      (req.body as { stream?: boolean }).stream
        ? { kind: 'sse', text: LONG_TEXT, deltas: 16, delayMs: 150 }
        : { kind: 'json', headersDelayMs: 1_500, text: 'slow but complete' },
    );
    const stream = await openStream(relay.url, MINIMAL);
    expect(stream.status).toBe(200);
    await stream.waitForEvent('content_block_delta');
    const slowJson = send(relay.url);
    await fake.waitForRequests(2);
    const inFlight = relay.app.get(InFlightService);
    expect(inFlight.count).toBe(2);

    const drained = relay.app.get(GracefulShutdown).run('SIGTERM');
    expect(await readyStatus(relay.url)).toBe(503);

    // Once delay_ms has passed the listener is closed, while the stream is still being served.
    const port = portOf(relay);
    await waitUntil('the listener to refuse new connections', async () =>
      (await connectionRefused(port)) ? true : undefined,
    );
    expect(stream.ended).toBe(false);

    const events = await stream.done;
    expect(events.at(-1)?.event).toBe('message_stop');
    expect(events.some((e) => e.event === 'error')).toBe(false);
    expect(streamedText(events)).toBe(LONG_TEXT);
    const json = await slowJson;
    expect(json.status).toBe(200);
    expect(JSON.parse(json.body)).toMatchObject({ content: [{ type: 'text', text: 'slow but complete' }] });

    await drained;
    expect(inFlight.count).toBe(0);
    expect(fake.requests.every((r) => !r.aborted)).toBe(true);
  });

  it('ends a stream still open when grace_ms runs out with an overloaded_error event, and stops its upstream', async () => {
    const upstream = await fake.start();
    relay = await startRelay(rawConfig(upstream, { server: { shutdown: { delay_ms: 0, grace_ms: 300 } } }));
    fake.enqueue({ kind: 'sse', text: LONG_TEXT, deltas: 16, delayMs: 400 });
    const stream = await openStream(relay.url, MINIMAL);
    await stream.waitForEvent('content_block_delta');

    await relay.app.get(GracefulShutdown).run('SIGTERM');

    const events = await stream.done;
    const last = events.at(-1);
    expect(last?.event).toBe('error');
    expect(last?.data).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(events.some((e) => e.event === 'message_stop')).toBe(false);
    // The relay stops paying for tokens nobody will read.
    const seen = await fake.waitForAbort(0);
    expect(seen.aborted).toBe(true);
    expect(relay.app.get(InFlightService).count).toBe(0);
    expect(await connectionRefused(portOf(relay))).toBe(true);
  });

  it('answers requests still waiting for their upstream when grace_ms runs out with a retryable overloaded error', async () => {
    const upstream = await fake.start();
    relay = await startRelay(rawConfig(upstream, { server: { shutdown: { delay_ms: 0, grace_ms: 300 } } }));
    // The upstream never answers: neither request has sent the client a byte when the grace period ends.
    fake.script(() => ({ kind: 'hang' }));
    const streaming = post(relay.url, '/v1/messages', { ...MINIMAL, stream: true });
    const plain = post(relay.url, '/v1/messages', MINIMAL);
    await fake.waitForRequests(2);

    await relay.app.get(GracefulShutdown).run('SIGTERM');

    for (const pending of [streaming, plain]) {
      const res = await pending;
      expect(res.statusCode).toBe(503);
      expect(await res.body.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    }
    await fake.waitForAbort(0);
    await fake.waitForAbort(1);
    expect(relay.app.get(InFlightService).count).toBe(0);
  });

  it('gives identical requests waiting on a stopped one the same retryable answer, not a reset', async () => {
    const upstream = await fake.start();
    relay = await startRelay(
      rawConfig(upstream, {
        server: { shutdown: { delay_ms: 0, grace_ms: 300 } },
        cache: { mode: 'single' },
      }),
    );
    fake.script(() => ({ kind: 'hang' }));
    // One leader goes upstream; the two identical requests wait for its answer (the cache's single-flight).
    const leader = post(relay.url, '/v1/messages', MINIMAL);
    await fake.waitForRequests(1);
    const followers = [post(relay.url, '/v1/messages', MINIMAL), post(relay.url, '/v1/messages', MINIMAL)];
    await new Promise((r) => setTimeout(r, 100));

    await relay.app.get(GracefulShutdown).run('SIGTERM');

    for (const pending of [leader, ...followers]) {
      const res = await pending;
      expect(res.statusCode).toBe(503);
      expect(await res.body.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    }
    // Nothing new went upstream after the grace period.
    expect(fake.requests).toHaveLength(1);
  });

  it('answers that were under way at SIGTERM say Connection: close, so a pooled client does not reuse a doomed connection', async () => {
    const upstream = await fake.start();
    relay = await startRelay(rawConfig(upstream, { server: { shutdown: { delay_ms: 0, grace_ms: 5_000 } } }));
    // Slow first bytes: neither answer has started when the drain begins.
    fake.script((req) =>
      (req.body as { stream?: boolean }).stream
        ? { kind: 'sse', headersDelayMs: 600 }
        : { kind: 'json', headersDelayMs: 600 },
    );
    // A keep-alive pool, as SDKs and Claude Code keep one.
    const agent = new Agent({ keepAlive: true });
    const { port } = new URL(relay.url);
    const ask = (body: unknown) =>
      new Promise<{ status?: number; connection?: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/messages',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    try {
      const plain = ask(MINIMAL);
      const streaming = ask({ ...MINIMAL, stream: true });
      await fake.waitForRequests(2);
      const drained = relay.app.get(GracefulShutdown).run('SIGTERM');
      expect(await plain).toEqual({ status: 200, connection: 'close' });
      expect(await streaming).toEqual({ status: 200, connection: 'close' });
      await drained;
    } finally {
      agent.destroy();
    }
  });
});
