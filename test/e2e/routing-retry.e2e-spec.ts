import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ask, messagesOf, rejectionOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

const ADMIN_TOKEN = 'admin-token-for-retry-tests-0001';

/** Each provider's consecutive breaker failures, from the admin API. */
async function consecutiveFailures(world: RoutingWorld): Promise<Record<string, number>> {
  const res = await request(`${world.relay.url}/admin/providers`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = (await res.body.json()) as {
    providers: Array<{ name: string; consecutive_failures: number }>;
  };
  return Object.fromEntries(body.providers.map((p) => [p.name, p.consecutive_failures]));
}

describe('routing e2e: retries and failover of failed attempts', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('retries the same provider after a 500 and answers with its success', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }]);
    world.fake('alpha').enqueue({ kind: 'status', status: 500 }, { kind: 'json', text: 'second try' });

    const { data, response } = await world.client.messages.create(ask()).withResponse();

    expect(data.content[0]).toMatchObject({ type: 'text', text: 'second try' });
    expect(world.counts()).toEqual({ alpha: 2, beta: 0 });
    expect(response.headers.get('x-cc-relay-provider')).toBe('alpha');
    expect(response.headers.get('x-cc-relay-attempts')).toBe('2');
  });

  it('fails over on 503 forever, stops at max_attempts and tells the client not to retry', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }, { name: 'gamma' }], {
      routing: { retry: { max_attempts: 3 } },
    });
    for (const name of ['alpha', 'beta', 'gamma']) {
      world.fake(name).script(() => ({ kind: 'status', status: 503, message: `${name} unavailable` }));
    }

    const err = await rejectionOf(world.client.messages.create(ask()));

    expect(err).toBeInstanceOf(Anthropic.APIError);
    const apiErr = err as InstanceType<typeof Anthropic.APIError>;
    expect(apiErr.status).toBe(503);
    expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    // One retry on the first provider, then the next one; three attempts in all, the third provider never asked.
    expect(world.counts()).toEqual({ alpha: 2, beta: 1, gamma: 0 });
    expect(apiErr.headers?.get('x-cc-relay-attempts')).toBe('3');
    expect(apiErr.headers?.get('x-cc-relay-provider')).toBe('beta');
  });

  it('leaves a final 529 to the client: no x-should-retry: false, so Claude Code backs off and may switch model', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      routing: { retry: { max_attempts: 3 } },
    });
    for (const name of ['alpha', 'beta']) {
      world.fake(name).script(() => ({ kind: 'status', status: 529, message: `${name} overloaded` }));
    }

    const err = await rejectionOf(world.client.messages.create(ask()));

    const apiErr = err as InstanceType<typeof Anthropic.APIError>;
    expect(apiErr.status).toBe(529);
    expect(apiErr.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(apiErr.headers?.get('x-should-retry')).toBeNull();
    expect(world.counts()).toEqual({ alpha: 2, beta: 1 });
  });

  it('retries a connection reset before any response header and succeeds', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }]);
    world.fake('alpha').enqueue({ kind: 'reset' }, { kind: 'json', text: 'after the reset' });

    const msg = await world.client.messages.create(ask());

    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'after the reset' });
    expect(world.counts()).toEqual({ alpha: 2 });
  });

  it('gives a slow JSON answer its full server.timeout_ms, even past the deadline', async () => {
    // Non-streaming answers arrive whole; a long one may legitimately take minutes (the SDK waits up to 10).
    world = await startRoutingWorld([{ name: 'alpha' }], {
      server: { timeout_ms: 5_000 },
      routing: { deadline_ms: 300 },
    });
    world.fake('alpha').enqueue({ kind: 'json', text: 'worth the wait', headersDelayMs: 900 });

    const msg = await world.client.messages.create(ask());

    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'worth the wait' });
    expect(world.counts()).toEqual({ alpha: 1 });
  });

  it('ends a request nobody answers with a 504 timeout error once the deadline leaves no time for more', async () => {
    // The first attempt has its whole timeout (600 ms); the failover to beta gets only what is left of the deadline.
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      server: { timeout_ms: 600 },
      routing: { deadline_ms: 800 },
      admin: { token: ADMIN_TOKEN },
    });
    world.fake('alpha').script(() => ({ kind: 'hang' }));
    world.fake('beta').script(() => ({ kind: 'hang' }));

    const err = await rejectionOf(world.client.messages.create(ask(), { timeout: 20_000 }));

    expect(err).toBeInstanceOf(Anthropic.APIError);
    const apiErr = err as InstanceType<typeof Anthropic.APIError>;
    expect(apiErr.status).toBe(504);
    expect(apiErr.error).toMatchObject({ type: 'error', error: { type: 'timeout_error' } });
    expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    // Every upstream request the relay made was abandoned, none left hanging.
    const all = [...messagesOf(world.fake('alpha')), ...messagesOf(world.fake('beta'))];
    expect(all.length).toBeGreaterThanOrEqual(1);
    await Promise.all(
      ['alpha', 'beta'].flatMap((name) =>
        messagesOf(world!.fake(name)).map((r) => world!.fake(name).waitForAbort(r.index, 2_000)),
      ),
    );
    // alpha timed out with its whole timeout: a failure. beta's attempt was cut short by the deadline, which says
    // nothing about beta.
    const failures = await consecutiveFailures(world);
    expect(failures).toEqual({ alpha: 1, beta: 0 });
  });

  it('passes a 400 through after exactly one upstream call', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }]);
    world.fake('alpha').script(() => ({ kind: 'status', status: 400, message: 'max_tokens: too large' }));

    const err = await rejectionOf(world.client.messages.create(ask()));

    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const apiErr = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(apiErr.error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'max_tokens: too large' },
    });
    expect(world.counts()).toEqual({ alpha: 1, beta: 0 });
  });
});
