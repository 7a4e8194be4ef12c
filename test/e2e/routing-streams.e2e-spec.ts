import { afterEach, describe, expect, it } from 'vitest';
import { parseSse } from '../fakes/sse-parse';
import { post } from './support/http';
import { ask, messagesOf, rejectionOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

const STREAM_BODY = { ...ask(), stream: true };

describe('routing e2e: streams fail over before the first byte and fail loudly after it', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('fails over to the second provider when the first token misses the TTFT deadline', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      routing: { ttft_timeout_ms: 500, retry: { max_attempts: 3 } },
    });
    // message_start comes at once, the first content is far too late: the stream is not committed yet.
    world.fake('alpha').script(() => ({ kind: 'sse', text: 'slow alpha', contentDelayMs: 10_000 }));
    world.fake('beta').script(() => ({ kind: 'sse', text: 'quick beta answer', deltas: 3 }));

    const { data: stream, response } = await world.client.messages.stream(ask()).withResponse();
    const final = await stream.finalMessage();

    expect(final.content[0]).toMatchObject({ type: 'text', text: 'quick beta answer' });
    expect(final.stop_reason).toBe('end_turn');
    expect(response.headers.get('x-cc-relay-provider')).toBe('beta');
    expect(messagesOf(world.fake('beta'))).toHaveLength(1);
    // Every late attempt on alpha was abandoned by the relay, not left streaming.
    const alpha = messagesOf(world.fake('alpha'));
    expect(alpha.length).toBeGreaterThanOrEqual(1);
    await Promise.all(alpha.map((r) => world!.fake('alpha').waitForAbort(r.index, 2_000)));
  });

  it('ends a stream cut mid-answer with an error event, never a clean end, and does not replay it', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }]);
    world
      .fake('alpha')
      .script(() => ({ kind: 'cut', text: 'one two three four', deltas: 4, afterEvents: 4 }));

    const res = await post(world.relay.url, '/v1/messages', STREAM_BODY);
    expect(res.statusCode).toBe(200);
    const events = parseSse(await res.body.text());
    const names = events.map((e) => e.event);
    expect(names).toContain('content_block_delta');
    expect(names.at(-1)).toBe('error');
    expect(names).not.toContain('message_stop');
    expect(events.at(-1)?.data).toMatchObject({ type: 'error', error: { type: 'api_error' } });

    const err = await rejectionOf(world.client.messages.stream(ask()).finalMessage());
    expect(err).toBeInstanceOf(Error);

    // Bytes had reached the client, so neither stream was retried on alpha or moved to beta.
    expect(world.counts()).toEqual({ alpha: 2, beta: 0 });
  });

  it('ends a stalled stream with an error event and lets go of the upstream', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      routing: { stall_timeout_ms: 300 },
    });
    world
      .fake('alpha')
      .script(() => ({ kind: 'stall', text: 'one two three four', deltas: 4, afterEvents: 4 }));

    const res = await post(world.relay.url, '/v1/messages', STREAM_BODY);
    expect(res.statusCode).toBe(200);
    const events = parseSse(await res.body.text());
    const names = events.map((e) => e.event);
    expect(names).toContain('content_block_delta');
    expect(names.at(-1)).toBe('error');
    expect(names).not.toContain('message_stop');
    expect(events.at(-1)?.data).toMatchObject({ type: 'error', error: { type: 'timeout_error' } });
    await world.fake('alpha').waitForAbort(0, 2_000);

    const err = await rejectionOf(world.client.messages.stream(ask()).finalMessage());
    expect(err).toBeInstanceOf(Error);
    expect(world.counts()).toEqual({ alpha: 2, beta: 0 });
  });
});
