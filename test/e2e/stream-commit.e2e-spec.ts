import { afterEach, describe, expect, it } from 'vitest';
import type { Scenario } from '../fakes/fake-scenario';
import { parseSse, SseParser, type SseEvent } from '../fakes/sse-parse';
import { post } from './support/http';
import { ask, messagesOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

// routing.commit: when a stream's status and headers reach the client. `content` (default) holds them until the
// first content event, so a provider that is late with it or fails before it is failed over invisibly; `headers`
// sends them as soon as the upstream's 200 headers are in, and gives up fail-over after that point. Two fake
// providers over real sockets: alpha plays the scenario under test, beta answers at once.

/** Longer than any test runs: alpha's first token never comes while the test looks. */
const CONTENT_DELAY_MS = 60_000;

describe('routing.commit: when a stream is committed to the client', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  async function worldWith(alpha: Scenario, routing: Record<string, unknown>): Promise<RoutingWorld> {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], { routing });
    world.fake('alpha').script(() => alpha);
    world.fake('beta').script(() => ({ kind: 'sse', text: 'from beta', deltas: 2 }));
    return world;
  }

  /** Reads the stream's events until one named `until` arrives, then lets the stream go. */
  async function eventsUntil(body: AsyncIterable<Buffer>, until: string): Promise<SseEvent[]> {
    const parser = new SseParser();
    const seen: SseEvent[] = [];
    for await (const chunk of body) {
      seen.push(...parser.push(chunk));
      if (seen.some((e) => e.event === until)) break;
    }
    return seen;
  }

  const textOf = (events: SseEvent[]) =>
    events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data as { delta: { text?: string } }).delta.text ?? '')
      .join('');

  it('content (default): holds the headers while the first token is late, so the TTFT timeout can fail over', async () => {
    const w = await worldWith(
      { kind: 'sse', contentDelayMs: CONTENT_DELAY_MS, text: 'from alpha' },
      { ttft_timeout_ms: 300 },
    );
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    expect(res.statusCode).toBe(200);
    const events = parseSse(await res.body.text());
    // alpha's message_start had arrived, but nothing of it reached the client: the answer is beta's, whole.
    expect(textOf(events)).toBe('from beta');
    expect(events.filter((e) => e.event === 'message_start')).toHaveLength(1);
    expect(events.at(-1)?.event).toBe('message_stop');
    expect(w.counts()).toEqual({ alpha: 1, beta: 1 });
  });

  it('headers: the client has the status, headers and message_start while the first token is still due', async () => {
    const w = await worldWith(
      { kind: 'sse', contentDelayMs: CONTENT_DELAY_MS, text: 'from alpha' },
      { commit: 'headers', ttft_timeout_ms: 20_000, stall_timeout_ms: 20_000 },
    );
    // With the default the relay would send nothing for CONTENT_DELAY_MS (longer than the test's timeout).
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/event-stream');
    const events = await eventsUntil(res.body, 'message_start');
    expect(events.map((e) => e.event)).toContain('message_start');
    expect(events.map((e) => e.event)).not.toContain('content_block_delta');
    // alpha is still holding its first token back: the request it got is open, and beta was never asked.
    expect(messagesOf(w.fake('alpha'))[0]?.aborted).toBe(false);
    expect(w.counts()).toEqual({ alpha: 1, beta: 0 });
  });

  it('headers: a failure after the headers ends the stream with event: error, no fail-over', async () => {
    // alpha sends message_start and content_block_start, then its connection drops before any token.
    const cut: Scenario = { kind: 'cut', afterEvents: 2, text: 'from alpha' };

    const w = await worldWith(cut, { commit: 'headers' });
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    expect(res.statusCode).toBe(200);
    const events = parseSse(await res.body.text());
    expect(events.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'error']);
    expect(events.at(-1)?.data).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(w.counts()).toEqual({ alpha: 1, beta: 0 });
  });

  it('content (default): the same failure before the first token is failed over to the next provider', async () => {
    const w = await worldWith({ kind: 'cut', afterEvents: 2, text: 'from alpha' }, {});
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    expect(res.statusCode).toBe(200);
    const events = parseSse(await res.body.text());
    expect(textOf(events)).toBe('from beta');
    expect(events.map((e) => e.event)).not.toContain('error');
    // (alpha may be retried first: a reset before content is transient.)
    expect(w.counts().beta).toBe(1);
  });
});
