import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { JumpClock } from '../fakes/fake-clock';
import { FakeUpstream } from '../fakes/fake-upstream';
import { expectLeasesReleased } from './support/leases';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';
import {
  ask,
  keyOf,
  messagesOf,
  rejectionOf,
  startRoutingWorld,
  type RoutingWorld,
} from './support/routing-world';

describe('routing e2e: key pools under 429s', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    if (world) await expectLeasesReleased(world.relay.url, world.adminToken);
    await world?.close();
    world = undefined;
  });

  it('cools a key down for its retry-after: 2 and answers on another key of the provider meanwhile', async () => {
    // The relay's clock: the test moves it through the cooldown instead of waiting it out.
    const clock = new JumpClock();
    world = await startRoutingWorld([{ name: 'alpha', keys: ['one', 'two'] }], {}, { clock });
    const limited = keyOf('alpha', 'one');
    const fake = world.fake('alpha');
    let limitedOnce = false;
    fake.script((req) => {
      if (req.apiKey !== limited || limitedOnce) return undefined;
      limitedOnce = true;
      return { kind: 'status', status: 429, headers: { 'retry-after': '2' } };
    });

    // The pool picks the least-used key, so within two requests key one gets its turn and its 429.
    for (let i = 0; i < 2 && !limitedOnce; i++) {
      const { response } = await world.client.messages.create(ask()).withResponse();
      expect(response.status).toBe(200);
    }
    expect(limitedOnce).toBe(true);
    const hit = messagesOf(fake).find((r) => r.apiKey === limited)!;
    // The request that met the 429 went on to the other key at once, and succeeded there.
    const next = messagesOf(fake)[hit.index + 1];
    expect(next?.apiKey).toBe(keyOf('alpha', 'two'));

    // Least-used would pick key one now; the cooldown must keep every request of the next 2 s off it.
    for (let i = 0; i < 5; i++) {
      const msg = await world.client.messages.create(ask());
      expect(msg.type).toBe('message');
      clock.advance(200);
    }
    const during = messagesOf(fake).filter((r) => r.index > hit.index);
    expect(during.length).toBeGreaterThanOrEqual(6);
    expect(during.filter((r) => r.apiKey === limited && r.receivedAt < hit.receivedAt + 2_000)).toEqual([]);

    // Once the 2 s have passed (on the relay's clock), key one is back in the rotation.
    clock.advance(Math.max(0, hit.receivedAt + 2_100 - clock.now()));
    await world.client.messages.create(ask());
    expect(messagesOf(fake).at(-1)?.apiKey).toBe(limited);
  });

  it('backs off after a 429 without retry-after instead of hammering the key', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }], {
      routing: { deadline_ms: 1_500, retry: { max_attempts: 10, base_delay_ms: 50, max_delay_ms: 400 } },
    });
    const fake = world.fake('alpha');
    fake.script(() => ({ kind: 'status', status: 429 }));

    const err = await rejectionOf(world.client.messages.create(ask()));

    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    // The relay cooled the key down itself, so it tells the client when the key is back instead of "do not retry"
    // (issue 18.2: Claude Code gave up at once); the client waits that out rather than piling on.
    const rateErr = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(rateErr.headers?.get('x-should-retry')).toBeNull();
    expect(retryAfterOf(rateErr)).toBeGreaterThan(0);
    const seen = messagesOf(fake);
    // Ten attempts were allowed; waiting out the key's backoff leaves room for only a few inside the deadline.
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.receivedAt - seen[i - 1]!.receivedAt).toBeGreaterThanOrEqual(50);
    }
  });

  it('answers 429 with the soonest retry-after when every key of every provider is cooling down', async () => {
    world = await startRoutingWorld(
      [
        { name: 'alpha', keys: ['a1', 'a2'] },
        { name: 'beta', keys: ['b1'] },
      ],
      { routing: { deadline_ms: 1_000 } },
    );
    // The last key the first request meets (beta's) is not the one that frees up first (alpha's a2).
    const waits: Record<string, string> = {
      [keyOf('alpha', 'a1')]: '7',
      [keyOf('alpha', 'a2')]: '3',
      [keyOf('beta', 'b1')]: '8',
    };
    for (const name of ['alpha', 'beta']) {
      world.fake(name).script((req) => ({
        kind: 'status',
        status: 429,
        headers: { 'retry-after': waits[req.apiKey ?? ''] ?? '9' },
      }));
    }

    // The first request meets every key's 429 in turn (another key, then the next provider); its answer already
    // names the soonest key, not the last one asked.
    const first = await rejectionOf(world.client.messages.create(ask()));
    expect(first).toBeInstanceOf(Anthropic.RateLimitError);
    expect(world.counts()).toEqual({ alpha: 2, beta: 1 });
    const firstErr = first as InstanceType<typeof Anthropic.RateLimitError>;
    // Not "don't retry": the client is meant to wait the retry-after out, as the SDKs and Claude Code do.
    expect(firstErr.headers?.get('x-should-retry')).toBeNull();
    expect(retryAfterOf(firstErr)).toBeGreaterThanOrEqual(2);
    expect(retryAfterOf(firstErr)).toBeLessThanOrEqual(3);

    // Now nothing is usable: the relay answers by itself, with no upstream call, again naming the soonest key.
    const second = await rejectionOf(world.client.messages.create(ask()));
    expect(second).toBeInstanceOf(Anthropic.RateLimitError);
    const secondErr = second as InstanceType<typeof Anthropic.RateLimitError>;
    expect(secondErr.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(retryAfterOf(secondErr)).toBeGreaterThanOrEqual(2);
    expect(retryAfterOf(secondErr)).toBeLessThanOrEqual(3);
    expect(world.counts()).toEqual({ alpha: 2, beta: 1 });
  });
});

describe('routing e2e: a key the provider rejects', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    if (world) await expectLeasesReleased(world.relay.url, world.adminToken);
    await world?.close();
    world = undefined;
  });

  const revokedBy = (revoked: string) => (req: { apiKey?: string }) =>
    req.apiKey === revoked
      ? ({
          kind: 'status',
          status: 401,
          errorType: 'authentication_error',
          message: 'invalid x-api-key',
        } as const)
      : undefined;

  it('is taken out of rotation: every request succeeds on the other key, and the 401 never reaches the client', async () => {
    world = await startRoutingWorld([{ name: 'alpha', keys: ['revoked', 'good'] }], {
      admin: { token: 'admin-token-for-key-tests-0001' },
    });
    const revoked = keyOf('alpha', 'revoked');
    world.fake('alpha').script(revokedBy(revoked));

    for (let i = 0; i < 8; i++) {
      const msg = await world.client.messages.create(ask());
      expect(msg.type).toBe('message');
    }
    // The revoked key was asked at most once; the rest went to the good key.
    const seen = messagesOf(world.fake('alpha')).map((r) => r.apiKey);
    expect(seen.filter((k) => k === revoked).length).toBeLessThanOrEqual(1);
    expect(seen.filter((k) => k === keyOf('alpha', 'good')).length).toBe(8);

    const res = await request(`${world.relay.url}/admin/providers/alpha`, {
      headers: { authorization: 'Bearer admin-token-for-key-tests-0001' },
    });
    const text = await res.body.text();
    expect(text).not.toContain(revoked);
    const view = JSON.parse(text) as { keys: Array<{ rejected: { status: number } | null }> };
    expect(view.keys.filter((k) => k.rejected?.status === 401)).toHaveLength(seen.includes(revoked) ? 1 : 0);
  });

  it('answers 502 api_error, not the client a 401, when no other key or provider is left', async () => {
    world = await startRoutingWorld([{ name: 'alpha', keys: ['revoked'] }]);
    world.fake('alpha').script(revokedBy(keyOf('alpha', 'revoked')));

    const err = await rejectionOf(world.client.messages.create(ask()));

    expect(err).toBeInstanceOf(Anthropic.APIError);
    const apiErr = err as InstanceType<typeof Anthropic.APIError>;
    expect(apiErr.status).toBe(502);
    expect(apiErr.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(JSON.stringify(apiErr.error)).toContain('rejected the relay');
    expect(world.counts()).toEqual({ alpha: 1 });

    // While the key is out of rotation the relay answers the same by itself, not "keys cooling down" (429).
    const again = (await rejectionOf(world.client.messages.create(ask()))) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(again.status).toBe(502);
    expect(JSON.stringify(again.error)).toContain('rejected the relay');
    expect(world.counts()).toEqual({ alpha: 1 });
  });
});

describe('routing e2e: what count_tokens spends of a key', () => {
  it('does not count the tokens it counts against the key’s itpm_limit', async () => {
    const fake = new FakeUpstream();
    let relay: RunningRelay | undefined;
    try {
      const url = await fake.start();
      const config = rawConfig(url);
      const provider = (config.providers as Array<Record<string, unknown>>)[0]!;
      provider.keys = [{ key: keyOf('solo', 'k0'), itpm_limit: 1_000 }];
      relay = await startRelay(config);
      const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
      // ~600 tokens each: two of them would pass 1,000 in a minute if they were spent input.
      const prompt = { ...ask(), messages: [{ role: 'user' as const, content: 'count me '.repeat(260) }] };
      for (let i = 0; i < 3; i++) {
        const counted = await client.messages.countTokens({ model: prompt.model, messages: prompt.messages });
        expect(counted.input_tokens).toBeGreaterThan(500);
      }
      const msg = await client.messages.create(ask());
      expect(msg.type).toBe('message');
      expect(fake.requests).toHaveLength(4);
    } finally {
      await relay?.close();
      await fake.close();
    }
  });
});

/** The retry-after an error answer carries, in seconds (what the SDK would wait: retry-after-ms wins). */
function retryAfterOf(err: InstanceType<typeof Anthropic.APIError>): number {
  const ms = err.headers?.get('retry-after-ms');
  if (ms) return Number(ms) / 1000;
  return Number(err.headers?.get('retry-after'));
}
