import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JumpClock } from '../fakes/fake-clock';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL, post } from './support/http';
import { expectLeasesReleased, providerLeases } from './support/leases';
import { PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';
import { ask, startRoutingWorld, type RoutingWorld } from './support/routing-world';

const ADMIN_TOKEN = 'leases-e2e-admin-token-0123456789abcdef';

/** A Messages body whose content nests `depth` arrays: a few bytes per level. */
function nestedBody(depth: number): string {
  return `{"model":"${MINIMAL.model}","max_tokens":8,"messages":[{"role":"user","content":${'['.repeat(depth)}${']'.repeat(depth)}}]}`;
}

describe('leases e2e: a deeply nested body cannot cut a provider off (issue 17.1)', () => {
  const fake = new FakeUpstream();
  // The relay's clock: the open circuit's duration is skipped, not waited out.
  const clock = new JumpClock();
  let relay: RunningRelay;

  beforeAll(async () => {
    const url = await fake.start();
    const raw = rawConfig(url, {
      admin: { token: ADMIN_TOKEN },
      health: { circuit_breaker: { half_open_probes: 1 } },
    });
    const provider = (raw.providers as Array<Record<string, unknown>>)[0]!;
    // The model rewrite (JSON.parse/stringify of the body) is what a deep body overflowed; the token limit is
    // what a leaked reservation starved.
    provider.model_mapping = { [MINIMAL.model]: 'claude-sonnet-4-6-mapped' };
    provider.keys = [{ key: PROVIDER_KEY, itpm_limit: 200_000 }];
    relay = await startRelay(raw, { time: { clock } });
  });
  afterAll(async () => {
    await relay?.close();
    await fake.close();
  });
  afterEach(async () => {
    await expectLeasesReleased(relay.url, ADMIN_TOKEN);
    fake.reset();
  });

  it('answers a body nesting 10,000 arrays with a 400 invalid_request_error, before any upstream call', async () => {
    const body = nestedBody(10_000);
    expect(body.length).toBeLessThan(21_000);
    const res = await post(relay.url, '/v1/messages', body);
    const answer = (await res.body.json()) as { type: string; error: { type: string; message: string } };
    expect(res.statusCode).toBe(400);
    expect(answer).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(answer.error.message).toContain('too deeply');
    expect(fake.requests).toHaveLength(0);
  });

  it('still serves a request nested as deep as real ones are', async () => {
    const res = await post(relay.url, '/v1/messages', nestedBody(100));
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(fake.requests).toHaveLength(1);
  });

  it('keeps a HALF_OPEN provider under test: after a nested body its test slot is free and it closes', async () => {
    const opened = await request(`${relay.url}/admin/providers/primary/open`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ duration_ms: 1_000, reason: 'lease e2e' }),
    });
    expect(opened.statusCode).toBe(200);
    await opened.body.text();
    clock.advance(1_050);

    // A 520 KB body of brackets: what made the key unusable for good with itpm_limit set.
    const huge = await post(relay.url, '/v1/messages', nestedBody(260_000));
    expect(huge.statusCode).toBe(400);
    await huge.body.text();
    const [primary] = await providerLeases(relay.url, ADMIN_TOKEN);
    expect(primary).toMatchObject({ half_open_in_flight: 0, in_flight: 0 });

    const ok = await post(relay.url, '/v1/messages', MINIMAL);
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
    const res = await request(`${relay.url}/admin/providers/primary`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(((await res.body.json()) as { state: string }).state).toBe('closed');
  });
});

describe('leases e2e: a burst against a failing primary is served by the healthy provider (issue 17.3)', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    if (world) await expectLeasesReleased(world.relay.url, ADMIN_TOKEN);
    await world?.close();
    world = undefined;
  });

  it('answers all of 50 concurrent requests while p1 answers 503 and p2 is healthy', async () => {
    world = await startRoutingWorld(
      [
        { name: 'p1', priority: 10 },
        { name: 'p2', priority: 5 },
      ],
      { routing: { strategy: 'failover' }, admin: { token: ADMIN_TOKEN } },
    );
    world.fake('p1').script(() => ({ kind: 'status', status: 503 }));

    const answers = await Promise.allSettled(
      Array.from({ length: 50 }, () => world!.client.messages.create(ask()).withResponse()),
    );

    const failed = answers.filter((a) => a.status === 'rejected');
    expect(failed.map((f) => String(f.reason))).toEqual([]);
    for (const a of answers) {
      if (a.status === 'fulfilled') expect(a.value.response.headers.get('x-cc-relay-provider')).toBe('p2');
    }
    expect(world.counts().p2).toBe(50);
    // The retry budget still bounds what the failing primary gets: 50 first attempts and the budget's retries.
    expect(world.counts().p1).toBeLessThanOrEqual(50 + 10);
  });
});
