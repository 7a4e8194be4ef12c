import { afterEach, describe, expect, it } from 'vitest';
import { parseSse } from '../fakes/sse-parse';
import { post } from './support/http';
import { ask, sleep, startRoutingWorld, type RoutingWorld } from './support/routing-world';

// Issue 18.4: a stream the upstream drops after content reached the client ends with `event: error` (as before),
// and operators can find it: a warn line with the provider, how far it got and why, and an access line that says
// the stream was cut.

/** An event cut in the middle of its data line, as a dropped connection leaves it. */
const HALF_EVENT = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"ty';

describe('a stream the upstream drops mid-answer', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('ends with event: error, logs a warn line with provider, bytes sent and reason, and marks the access line', async () => {
    const w = (world = await startRoutingWorld([{ name: 'alpha' }], { logging: { level: 'info' } }));
    w.fake('alpha').script(() => ({
      kind: 'cut',
      afterEvents: 4,
      partial: HALF_EVENT,
      text: 'one two three',
    }));

    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    expect(res.statusCode).toBe(200);
    const text = await res.body.text();
    const events = parseSse(text);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'error',
    ]);
    expect(events.at(-1)?.data).toMatchObject({ error: { type: 'api_error' } });

    const lines = () => w.relay.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (let i = 0; i < 100 && !lines().some((l) => l.msg === 'request'); i++) await sleep(20);
    const warn = lines().filter((l) => l.level === 40);
    expect(warn).toHaveLength(1);
    // What reached the client before the error event: the four whole events.
    const relayed = Buffer.byteLength(text.slice(0, text.lastIndexOf('event: error')));
    expect(warn[0]).toMatchObject({
      msg: 'upstream stream failed after content was sent',
      provider: 'alpha',
      bytes: relayed,
      stream_end: 'upstream_error',
      reason: 'the upstream closed the connection',
      request_id: res.headers['x-request-id'],
    });
    const access = lines().find((l) => l.msg === 'request');
    expect(access).toMatchObject({
      status: 200,
      aborted: true,
      stream_end: 'upstream_error',
      reason: 'the upstream closed the connection',
    });
  });
});
