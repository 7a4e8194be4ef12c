import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request, type Dispatcher } from 'undici';
import type { RecordedRequest, ScriptFn } from '../fakes/fake-upstream';
import type { Scenario } from '../fakes/fake-scenario';
import { BreakerRegistry } from '../../src/health/breaker-registry';
import { RoutingService } from '../../src/routing/routing.service';
import { CLIENT_KEY } from './support/relay-harness';
import { ask, messagesOf, sleep, startRoutingWorld, type RoutingWorld } from './support/routing-world';

const STREAM_BODY = { ...ask(), stream: true };
const JSON_BODY = ask();

/** A long stream: its first content reaches the client, then it stays open and silent, holding its connection. */
const LONG_STREAM: Scenario = { kind: 'stall', text: 'one two three four', deltas: 4, afterEvents: 3 };

const isStreamRequest = (r: RecordedRequest) => (r.body as { stream?: unknown }).stream === true;
/** Streams are held open; anything else gets the fake's normal answer. */
const holdStreams: ScriptFn = (r) => (isStreamRequest(r) ? LONG_STREAM : undefined);

/** Short timers, and no stall timeout to end the held streams while a test runs. */
const PATCH = { routing: { stall_timeout_ms: 60_000 } };

describe('upstream connections per provider (max_connections)', () => {
  let world: RoutingWorld | undefined;
  const held: Dispatcher.ResponseData[] = [];

  // Its own client, closed after each test: the global one keeps connections of its own to the relay open (one it
  // opened while a stream held another), and the relay's close would wait for them.
  let agent = new Agent();
  const send = (body: unknown) =>
    request(`${world!.relay.url}/v1/messages`, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/json',
        'x-api-key': CLIENT_KEY,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify(body),
    });

  afterEach(async () => {
    for (const res of held.splice(0)) res.body.destroy();
    await agent.destroy();
    agent = new Agent();
    await world?.close();
    world = undefined;
  });

  /** Opens `n` streams to the relay that hold one connection of `provider` each, and checks where they went. */
  async function holdConnections(provider: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const res = await send(STREAM_BODY);
      held.push(res);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-cc-relay-provider']).toBe(provider);
    }
  }

  it('sends a request to an idle provider at once when the preferred one has every connection busy', async () => {
    world = await startRoutingWorld(
      [
        { name: 'alpha', priority: 10, max_connections: 2 },
        { name: 'beta', priority: 0 },
      ],
      PATCH,
    );
    world.fake('alpha').script(holdStreams);
    world.fake('beta').script(holdStreams);
    await holdConnections('alpha', 2);

    const json = await send(JSON_BODY);
    expect(json.statusCode).toBe(200);
    expect(json.headers['x-cc-relay-provider']).toBe('beta');
    expect(json.headers['x-cc-relay-attempts']).toBe('1');
    await json.body.json();

    await holdConnections('beta', 1);
    expect(world.counts()).toEqual({ alpha: 2, beta: 2 });
  });

  it('treats a full provider as busy under least_loaded, though another has more requests in flight', async () => {
    world = await startRoutingWorld(
      [
        { name: 'alpha', max_connections: 2 },
        { name: 'beta', max_connections: 4096 },
      ],
      { ...PATCH, routing: { ...PATCH.routing, strategy: 'least_loaded' } },
    );
    world.fake('alpha').script(holdStreams);
    world.fake('beta').script(holdStreams);
    // Fewest in flight first, ties in config order: alpha, beta, alpha, beta; then alpha is full, so beta again.
    for (let i = 0; i < 5; i++) {
      const res = await send(STREAM_BODY);
      held.push(res);
      expect(res.statusCode).toBe(200);
    }
    expect(world.counts()).toEqual({ alpha: 2, beta: 3 });

    // alpha has fewer requests in flight (2 against 3), but no free connection: a JSON request is not stuck
    // behind its streams.
    const json = await send(JSON_BODY);
    expect(json.statusCode).toBe(200);
    expect(json.headers['x-cc-relay-provider']).toBe('beta');
    await json.body.json();
  });

  it('fails a stream on its TTFT timeout when the only provider has no free connection, instead of waiting', async () => {
    world = await startRoutingWorld([{ name: 'alpha', max_connections: 1 }], {
      routing: { stall_timeout_ms: 60_000, ttft_timeout_ms: 800 },
    });
    world.fake('alpha').script(holdStreams);
    await holdConnections('alpha', 1);

    const res = await send(STREAM_BODY);
    expect(res.statusCode).toBe(504);
    const body = (await res.body.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'timeout_error' } });
    expect(body.error.message).toContain('max_connections');
    // It never reached the provider, and the stream that holds the connection is untouched.
    expect(world.counts()).toEqual({ alpha: 1 });
    expect(world.fake('alpha').requests[0]?.aborted).toBe(false);
    // A wait for the relay's own connection is no failure of the provider's.
    const breaker = world.relay.app.get(BreakerRegistry).get('alpha')!.snapshot();
    expect(breaker.consecutive_failures).toBe(0);
  });

  it('lets a request wait for a connection of a full provider and sends it as soon as one frees', async () => {
    world = await startRoutingWorld([{ name: 'alpha', max_connections: 1 }], PATCH);
    world.fake('alpha').script(holdStreams);
    await holdConnections('alpha', 1);

    const pending = send(JSON_BODY);
    const routing = world.relay.app.get(RoutingService);
    while (routing.runtime('alpha')!.inFlight < 2) await sleep(10);
    expect(messagesOf(world.fake('alpha'))).toHaveLength(1);

    // The client of the long stream leaves: the relay lets go of the upstream, and the connection is the waiter's.
    held.shift()!.body.destroy();
    const json = await pending;
    expect(json.statusCode).toBe(200);
    expect(json.headers['x-cc-relay-provider']).toBe('alpha');
    await json.body.json();
    const [first, second] = messagesOf(world.fake('alpha'));
    expect(first?.aborted).toBe(true);
    expect(second && isStreamRequest(second)).toBe(false);
  });
});
