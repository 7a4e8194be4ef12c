import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Scenario } from '../fakes/fake-scenario';
import { parseSse } from '../fakes/sse-parse';
import { post } from './support/http';
import { ask, rejectionOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

// How a stream's failures reach the SDK: a complete answer is never turned into an error, an error event the
// relay appends always parses as one, and an upstream error event before any content becomes the HTTP error
// it stands for. Driven with @anthropic-ai/sdk over real sockets.

/** An event cut in the middle of its data line, as a dropped connection leaves it. */
const HALF_EVENT = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"ty';

describe('stream errors through the relay, as the SDK sees them', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  /** Two providers (with one relay key each, unless `keys` says otherwise), both playing `scenario`. */
  async function worldWith(
    scenario: Scenario,
    patch: Record<string, unknown> = {},
    keys?: string[],
  ): Promise<RoutingWorld> {
    world = await startRoutingWorld(
      [
        { name: 'alpha', keys },
        { name: 'beta', keys },
      ],
      patch,
    );
    world.fake('alpha').script(() => scenario);
    world.fake('beta').script(() => scenario);
    return world;
  }

  /** The attempts the relay counted for a provider, by outcome, once `outcome` shows up. */
  async function attemptOutcomes(w: RoutingWorld, provider: string, outcome: string): Promise<string> {
    let text = '';
    for (let i = 0; i < 50; i++) {
      const res = await request(`${w.relay.url}/metrics`);
      text = (await res.body.text())
        .split('\n')
        .filter((l) => l.startsWith(`cc_relay_upstream_attempts_total{provider="${provider}"`))
        .join('\n');
      if (text.includes(`outcome="${outcome}"`)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return text;
  }

  it('gives finalMessage() the whole answer when the upstream resets the socket after message_stop', async () => {
    const w = await worldWith({ kind: 'cut', reset: true, afterEvents: 100, text: 'all of it', deltas: 3 });

    const final = await w.client.messages.stream(ask()).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'all of it' });
    expect(final.stop_reason).toBe('end_turn');

    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    const names = parseSse(await res.body.text()).map((e) => e.event);
    expect(names.at(-1)).toBe('message_stop');
    expect(names).not.toContain('error');

    // Not replayed, and a success for the provider's breaker.
    expect(w.counts()).toEqual({ alpha: 2, beta: 0 });
    const outcomes = await attemptOutcomes(w, 'alpha', 'success');
    expect(outcomes).toContain('outcome="success"} 2');
    expect(outcomes).not.toContain('outcome="transient"');
  });

  it('gives finalMessage() the whole answer when the upstream goes silent after message_stop', async () => {
    const w = await worldWith(
      { kind: 'stall', afterEvents: 100, text: 'all of it', deltas: 3 },
      { routing: { stall_timeout_ms: 300 } },
    );
    const final = await w.client.messages.stream(ask()).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'all of it' });
    expect(w.counts()).toEqual({ alpha: 1, beta: 0 });
  });

  it('makes the SDK throw an APIError of type api_error, not a SyntaxError, for a stream cut mid-event', async () => {
    const w = await worldWith({ kind: 'cut', afterEvents: 4, partial: HALF_EVENT, text: 'one two three' });

    const err = await rejectionOf(w.client.messages.stream(ask()).finalMessage());
    expect(err).not.toBeInstanceOf(SyntaxError);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).type).toBe('api_error');

    // On the wire: every event whole, the half one dropped, the error event last.
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    const events = parseSse(await res.body.text());
    for (const e of events) expect(typeof e.data).toBe('object');
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'error',
    ]);
    expect(w.counts()).toEqual({ alpha: 2, beta: 0 });
  });

  it('answers a pre-content invalid_request_error event as a 400 with the upstream message, after one request', async () => {
    const message = 'prompt is too long: 250000 tokens > 200000 maximum';
    const w = await worldWith({
      kind: 'error_event',
      afterEvents: 1,
      errorType: 'invalid_request_error',
      message,
    });

    const err = await rejectionOf(w.client.messages.stream(ask()).finalMessage());
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const apiErr = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(apiErr.status).toBe(400);
    expect(apiErr.type).toBe('invalid_request_error');
    expect(apiErr.error).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message },
      request_id: apiErr.headers.get('x-request-id'),
    });
    // Never retried, never failed over.
    expect(w.counts()).toEqual({ alpha: 1, beta: 0 });
  });

  it('answers a pre-content authentication_error event as a 401 when the credential was the client own', async () => {
    // An open relay with keyless providers forwards the client's credential: the rejection is the client's to fix.
    const w = await worldWith(
      {
        kind: 'error_event',
        afterEvents: 1,
        errorType: 'authentication_error',
        message: 'invalid x-api-key',
      },
      { server: { auth: { api_keys: [] } } },
      [],
    );

    const err = await rejectionOf(w.client.messages.stream(ask()).finalMessage());
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(err).toMatchObject({
      status: 401,
      error: { error: { type: 'authentication_error', message: 'invalid x-api-key' } },
    });
    expect(w.counts()).toEqual({ alpha: 1, beta: 0 });
  });

  it('treats a pre-content authentication_error event to a relay key like a 401: the key is parked, not blamed on the client', async () => {
    const w = await worldWith({
      kind: 'error_event',
      afterEvents: 1,
      errorType: 'authentication_error',
      message: 'invalid x-api-key',
    });

    const err = await rejectionOf(w.client.messages.stream(ask()).finalMessage());
    expect(err).toMatchObject({ status: 502, error: { error: { type: 'api_error' } } });
    expect(JSON.stringify((err as InstanceType<typeof Anthropic.APIError>).error)).toContain(
      'rejected the relay',
    );
    // Each provider's only key was asked once and then taken out of rotation.
    expect(w.counts()).toEqual({ alpha: 1, beta: 1 });
  });

  it('still fails over on a pre-content overloaded_error event, and passes the last one on as a 529', async () => {
    const w = await worldWith({ kind: 'error_event', afterEvents: 1, message: 'Overloaded right now' });
    w.fake('beta').script(() => ({ kind: 'sse', text: 'beta answers' }));

    const final = await w.client.messages.stream(ask()).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'beta answers' });

    w.fake('beta').script(() => ({ kind: 'error_event', afterEvents: 1, message: 'Overloaded right now' }));
    const err = await rejectionOf(w.client.messages.stream(ask()).finalMessage());
    expect(err).toMatchObject({
      status: 529,
      error: { error: { type: 'overloaded_error', message: 'Overloaded right now' } },
    });
  });
});
