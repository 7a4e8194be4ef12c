import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { RecordedRequest } from '../fakes/fake-upstream';
import { post } from './support/http';
import { ask, keyOf, messagesOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

// A 401 parks a provider key for 10 minutes only once confirmed: a client that provokes a 401 with its own input
// (an anthropic-beta the provider refuses for API keys) must not take the relay's key out for everyone.

const ADMIN = 'admin-token-key-rejection-0123456789';

describe('a 401 parks a provider key only once confirmed', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  async function start(fail: (req: RecordedRequest) => boolean): Promise<RoutingWorld> {
    world = await startRoutingWorld([{ name: 'alpha' }], {
      admin: { token: ADMIN },
      routing: { retry: { max_attempts: 2 } },
    });
    world.fake('alpha').script((req) => (fail(req) ? { kind: 'status', status: 401 } : undefined));
    return world;
  }

  async function keyView(
    w: RoutingWorld,
  ): Promise<{ available: boolean; rejected: unknown; retry_after_ms: number }> {
    const res = await request(`${w.relay.url}/admin/providers/alpha`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const view = (await res.body.json()) as {
      keys: Array<{ available: boolean; rejected: unknown; retry_after_ms: number }>;
    };
    return view.keys[0]!;
  }

  const modelChecks = (w: RoutingWorld) => w.fake('alpha').requests.filter((r) => r.path === '/v1/models');

  for (const beta of ['some-beta-the-key-lacks-2026-01-01', 'oauth-2025-04-20']) {
    it(`keeps the key when only requests with anthropic-beta: ${beta} get a 401, and passes that 401 on`, async () => {
      const w = await start((req) => req.headers['anthropic-beta'] === beta);

      const refused = await post(w.relay.url, '/v1/messages', ask(), { 'anthropic-beta': beta });
      const body = (await refused.body.json()) as { error: { type: string } };
      // The upstream's own 401, not "the relay's key was rejected".
      expect(refused.statusCode).toBe(401);
      expect(body.error.type).toBe('authentication_error');
      // An OAuth beta explains the 401 by itself: no check call. Another value is checked with the key: it works.
      expect(modelChecks(w)).toHaveLength(beta.includes('oauth') ? 0 : 1);
      expect(modelChecks(w)[0]?.apiKey ?? keyOf('alpha', 'k0')).toBe(keyOf('alpha', 'k0'));

      expect(await keyView(w)).toMatchObject({ available: true, rejected: null });
      const normal = await post(w.relay.url, '/v1/messages', ask());
      expect(normal.statusCode).toBe(200);
      await normal.body.text();
      expect(messagesOf(w.fake('alpha'))).toHaveLength(2);
    });
  }

  it('when the check says nothing (no /v1/models), holds the key briefly instead of parking it', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }], { admin: { token: ADMIN } });
    const w = world;
    w.fake('alpha').script((req) =>
      req.path === '/v1/models' ? { kind: 'status', status: 404 } : { kind: 'status', status: 401 },
    );
    const res = await post(w.relay.url, '/v1/messages', ask());
    const body = (await res.body.json()) as { error: { message: string } };
    expect(body.error.message).toContain('rejected the relay');
    expect(modelChecks(w)).toHaveLength(1);
    // Skipped for a few seconds, not parked for 10 minutes.
    const view = await keyView(w);
    expect(view.rejected).toBeNull();
    expect(view.retry_after_ms).toBeGreaterThan(0);
    expect(view.retry_after_ms).toBeLessThanOrEqual(5_000);
  });

  it('parks the key after the check confirms a 401 to everything', async () => {
    const w = await start(() => true);
    const res = await post(w.relay.url, '/v1/messages', ask());
    const body = (await res.body.json()) as { error: { message: string } };
    expect(res.statusCode).not.toBe(200);
    expect(body.error.message).toContain('rejected the relay');
    expect(modelChecks(w)).toHaveLength(1);
    expect(await keyView(w)).toMatchObject({ available: false, rejected: { status: 401 } });

    // Out of rotation: the next request does not reach the provider with it.
    const next = await post(w.relay.url, '/v1/messages', ask());
    await next.body.text();
    expect(next.statusCode).not.toBe(200);
    expect(messagesOf(w.fake('alpha'))).toHaveLength(1);
  });
});
