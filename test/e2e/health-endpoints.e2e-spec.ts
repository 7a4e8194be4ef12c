import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.factory';
import { GracefulShutdown } from '../../src/common/graceful-shutdown.service';
import { validateConfig } from '../../src/config/config-validation';
import { DrainState } from '../../src/common/drain-state';
import { FakeUpstream } from '../fakes/fake-upstream';
import {
  ADMIN_TOKEN,
  adminAction,
  providerStates,
  send,
  useTwoProviderRelay,
  waitUntil,
} from './support/breaker-relay';
import { rawConfig } from './support/relay-harness';

// Issue 4, "Kubernetes probes": live checks only that the process serves; ready is 503 while starting and
// draining and never depends on the providers.

interface Answer {
  status: number;
  body: {
    status: string;
    info?: Record<string, unknown>;
    error?: Record<string, unknown>;
    details: Record<string, { status: string } & Record<string, unknown>>;
  };
}

async function get(base: string, path: string): Promise<Answer> {
  const res = await request(base + path);
  return { status: res.statusCode, body: (await res.body.json()) as Answer['body'] };
}

describe('health endpoints: starting', () => {
  const fake = new FakeUpstream();
  let app: NestFastifyApplication | undefined;

  afterAll(async () => {
    await app?.close();
    await fake.close();
  });

  it('/health/ready is 503 until the relay listens and is marked ready; /health/live is 200 throughout', async () => {
    const { config } = validateConfig(rawConfig(await fake.start(), { logging: { level: 'silent' } }));
    app = await createApp(config);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    const base = `http://127.0.0.1:${port}`;

    const starting = await get(base, '/health/ready');
    expect(starting.status).toBe(503);
    expect(starting.body.details.relay).toMatchObject({ status: 'down', phase: 'starting' });
    expect((await get(base, '/health/live')).status).toBe(200);

    app.get(DrainState).markReady();
    const ready = await get(base, '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', details: { relay: { status: 'up', phase: 'ready' } } });
  });
});

describe('health endpoints: ready, provider outage, draining', () => {
  const env = useTwoProviderRelay(
    {
      routing: { retry: { max_attempts: 1 } },
      // A long delay: the listener keeps accepting while the test looks at readiness during the drain.
      server: { shutdown: { delay_ms: 2_000, grace_ms: 1_000 } },
    },
    { reset: false },
  );
  const { primary, secondary } = env;
  let drain: Promise<void> | undefined;
  afterAll(async () => {
    await drain;
  });

  it('/health/live and /health/ready answer 200 on a ready relay', async () => {
    const live = await get(env.url, '/health/live');
    expect(live).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await get(env.url, '/health/ready');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ok' } });
    // Readiness looks at the relay alone, not at any provider.
    expect(Object.keys(ready.body.details)).toEqual(['relay']);
  });

  it('stays ready when every provider circuit is open, while /health shows the outage', async () => {
    for (const name of ['primary', 'secondary']) {
      expect((await adminAction(env.url, name, 'open', { duration_ms: 60_000 })).status).toBe(200);
    }
    const states = await providerStates(env.url);
    expect([states.primary?.state, states.secondary?.state]).toEqual(['open', 'open']);

    // The relay itself answers at once, with an error clients retry.
    const answer = await send(env.url);
    expect(answer.status).toBe(529);
    expect(JSON.parse(answer.body)).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(primary.requests).toHaveLength(0);
    expect(secondary.requests).toHaveLength(0);

    expect((await get(env.url, '/health/ready')).status).toBe(200);
    expect((await get(env.url, '/health/live')).status).toBe(200);

    const detail = await get(env.url, '/health');
    const providers = detail.body.details.providers as {
      status: string;
      routable: string[];
      breakers: Array<{ name: string; state: string }>;
    };
    expect(providers.status).toBe('down');
    expect(providers.routable).toEqual([]);
    expect(providers.breakers.map((b) => [b.name, b.state])).toEqual([
      ['primary', 'open'],
      ['secondary', 'open'],
    ]);
    expect(detail.body.details.relay).toMatchObject({ status: 'up' });

    for (const name of ['primary', 'secondary']) await adminAction(env.url, name, 'reset');
    expect((await send(env.url)).provider).toBe('primary');
  });

  it('turns /health/ready 503 as soon as the drain starts; /health/live stays 200', async () => {
    drain = env.relay.app.get(GracefulShutdown).run('SIGTERM');
    const ready = await get(env.url, '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.details.relay).toMatchObject({ status: 'down', phase: 'draining' });
    expect((await get(env.url, '/health/live')).status).toBe(200);
    // Draining is final: a late "ready" cannot put the replica back into the ingress.
    env.relay.app.get(DrainState).markReady();
    expect((await get(env.url, '/health/ready')).status).toBe(503);
  });
});

describe('health endpoints: the admin view of a HALF_OPEN breaker matches /health', () => {
  const env = useTwoProviderRelay({
    routing: { retry: { max_attempts: 1 } },
    health: { circuit_breaker: { failure_threshold: 2, open_duration_ms: 300, half_open_probes: 3 } },
  });
  const { primary } = env;

  async function breakerOnHealth(): Promise<Record<string, unknown> | undefined> {
    const providers = (await get(env.url, '/health')).body.details.providers as {
      status: string;
      breakers: Array<{ name: string } & Record<string, unknown>>;
    };
    return providers.breakers.find((b) => b.name === 'primary');
  }

  async function breakerOnAdmin(): Promise<Record<string, unknown>> {
    const res = await request(`${env.url}/admin/providers/primary`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    return (await res.body.json()) as Record<string, unknown>;
  }

  it('shows half_open_successes on GET /admin/providers/:name, as /health does', async () => {
    primary.script(() => ({ kind: 'status', status: 503 }));
    for (let i = 0; i < 2; i++) await send(env.url);
    await waitUntil('the primary circuit to turn half_open', async () =>
      (await breakerOnHealth())?.state === 'half_open' ? true : undefined,
    );
    primary.script(undefined);
    expect((await send(env.url)).provider).toBe('primary');

    const health = await breakerOnHealth();
    expect(health).toMatchObject({ state: 'half_open', half_open_successes: 1 });
    const admin = await breakerOnAdmin();
    expect(admin).toMatchObject({ state: 'half_open', half_open_successes: 1, half_open_in_flight: 0 });
    for (const field of ['state', 'consecutive_failures', 'half_open_in_flight', 'half_open_successes']) {
      expect(admin[field], field).toEqual(health?.[field]);
    }
  });
});
