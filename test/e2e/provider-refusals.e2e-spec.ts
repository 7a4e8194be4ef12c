import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { expectLeasesReleased } from './support/leases';
import { CLIENT_KEY } from './support/relay-harness';
import {
  ask,
  keyOf,
  messagesOf,
  rejectionOf,
  startRoutingWorld,
  type RoutingWorld,
} from './support/routing-world';

const ADMIN_TOKEN = 'refusals-e2e-admin-token-0123456789abcdef';
const CLAUDE_CODE_BETA = 'claude-code-20250219';

/** The relay's client as Claude Code is: the beta Messages path (?beta=true), anthropic-beta and x-app: cli. */
function claudeCode(world: RoutingWorld): Anthropic {
  return new Anthropic({
    baseURL: world.relay.url,
    apiKey: CLIENT_KEY,
    maxRetries: 0,
    defaultHeaders: { 'x-app': 'cli' },
  });
}

function claudeCodeAsk(client: Anthropic) {
  // Claude Code's own client sends `?beta=true`; this SDK's beta path does not add it by itself.
  return client.beta.messages.create({ ...ask(), betas: [CLAUDE_CODE_BETA] }, { query: { beta: 'true' } });
}

async function apiErrorOf(promise: Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
  const err = await rejectionOf(promise);
  expect(err).toBeInstanceOf(Anthropic.APIError);
  return err as InstanceType<typeof Anthropic.APIError>;
}

function twoProviders(): Promise<RoutingWorld> {
  return startRoutingWorld(
    [
      { name: 'alpha', priority: 10 },
      { name: 'beta', priority: 5 },
    ],
    { routing: { strategy: 'failover' }, admin: { token: ADMIN_TOKEN } },
  );
}

describe('provider refusals e2e, as Claude Code sees them', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    if (world) await expectLeasesReleased(world.relay.url, ADMIN_TOKEN);
    await world?.close();
    world = undefined;
  });

  it('every provider rejects the relay’s key (401): a non-retryable 502 naming each of them (issue 18.1)', async () => {
    world = await twoProviders();
    for (const name of ['alpha', 'beta']) {
      world.fake(name).script(() => ({
        kind: 'status',
        status: 401,
        errorType: 'authentication_error',
        message: 'invalid x-api-key',
      }));
    }
    const client = claudeCode(world);
    const expected =
      'providers "alpha", "beta" rejected the relay\'s own API key (401) and no other key or provider was left: ' +
      "a relay configuration problem (check the provider's keys), not the client's credentials";

    const err = await apiErrorOf(claudeCodeAsk(client));
    expect(err.status).toBe(502);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(err.headers?.get('retry-after')).toBeNull();
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expected } });
    expect(world.counts()).toEqual({ alpha: 1, beta: 1 });
    // The requests were Claude Code's: forwarded to the beta path with the beta header.
    for (const name of ['alpha', 'beta']) {
      const [seen] = messagesOf(world.fake(name));
      expect(seen?.query).toBe('beta=true');
      expect(seen?.headers['anthropic-beta']).toContain(CLAUDE_CODE_BETA);
      expect(seen?.apiKey).toBe(keyOf(name, 'k0'));
    }

    // Both keys are parked now: the relay answers the same by itself, without calling anyone.
    const again = await apiErrorOf(claudeCodeAsk(client));
    expect(again.status).toBe(502);
    expect(again.headers?.get('x-should-retry')).toBe('false');
    expect(again.error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expected } });
    expect(world.counts()).toEqual({ alpha: 1, beta: 1 });
  });

  it('every key answers 429 without retry-after: a 429 saying when a key comes back, not "do not retry" (issue 18.2)', async () => {
    world = await twoProviders();
    for (const name of ['alpha', 'beta']) world.fake(name).script(() => ({ kind: 'status', status: 429 }));
    const client = claudeCode(world);

    const err = await apiErrorOf(claudeCodeAsk(client));
    expect(err.status).toBe(429);
    expect(err.headers?.get('x-should-retry')).toBeNull();
    // alpha's key (cooled down for the relay's default 1 s) is the soonest back; by the time the request gave up
    // on beta it is back already, which is told as the shortest cooldown, one second.
    expect(err.headers?.get('retry-after')).toBe('1');
    expect(err.headers?.get('retry-after-ms')).toBe('1000');
    expect(err.error).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' },
    });
    const attempts = world.counts();
    expect(attempts.alpha).toBe(1);
    expect(attempts.beta).toBeGreaterThanOrEqual(1);
  });

  it('every key is still cooling down: the relay’s own 429 carries the soonest key’s retry-after (issue 18.2)', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }], {
      admin: { token: ADMIN_TOKEN },
      // No wait inside the request (the key's cooldown does not fit the deadline): the answers come while it runs.
      routing: { deadline_ms: 500, retry: { max_attempts: 1 } },
    });
    world.fake('alpha').script(() => ({ kind: 'status', status: 429 }));
    const client = claudeCode(world);

    const first = await apiErrorOf(claudeCodeAsk(client));
    expect(first.status).toBe(429);
    expect(first.headers?.get('x-should-retry')).toBeNull();
    expect(first.headers?.get('retry-after')).toBe('1');
    expect(Number(first.headers?.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(Number(first.headers?.get('retry-after-ms'))).toBeLessThanOrEqual(1000);

    const second = await apiErrorOf(claudeCodeAsk(client));
    expect(second.status).toBe(429);
    expect(second.headers?.get('x-should-retry')).toBeNull();
    expect(second.headers?.get('retry-after')).toBe('1');
    expect(Number(second.headers?.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(Number(second.headers?.get('retry-after-ms'))).toBeLessThanOrEqual(1000);
    expect(second.error).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'every key of every provider is cooling down' },
    });
    expect(world.counts()).toEqual({ alpha: 1 });
  });
});
