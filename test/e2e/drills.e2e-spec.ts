import { request } from 'undici';
import { createClient } from '@keyv/redis';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.factory';
import { validateConfig } from '../../src/config/config-validation';
import { DrillService } from '../../src/drills/drill.service';
import { AvailabilityService } from '../../src/drills/availability.service';
import { DrainState } from '../../src/common/drain-state';
import { FakeClock } from '../fakes/fake-clock';
import { FakeUpstream } from '../fakes/fake-upstream';
import { ADMIN_TOKEN, twoProviderConfig } from './support/breaker-relay';
import { MINIMAL, post } from './support/http';

/** Mondays 03:00 UTC; 2026-01-05 is a Monday. */
const CRON = '0 3 * * 1';
const DURATION = 300_000;
const BEFORE_DRILL = Date.UTC(2026, 0, 5, 2, 55);

interface Relay {
  url: string;
  clock: FakeClock;
  logs: string[];
  drills: DrillService;
  close(): Promise<void>;
}

async function start(raw: Record<string, unknown>, clock = new FakeClock(BEFORE_DRILL)): Promise<Relay> {
  const { config } = validateConfig(raw);
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const app = await createApp(config, { logStream, clock });
  await app.listen(0, '127.0.0.1');
  app.get(DrainState).markReady();
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    clock,
    logs,
    drills: app.get(DrillService),
    close: () => app.close(),
  };
}

async function admin(url: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers read field by field in the asserts
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
}

async function send(url: string, n: number, model = MINIMAL.model): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await post(url, '/v1/messages', { ...MINIMAL, model });
    await res.body.dump();
    statuses.push(res.statusCode);
  }
  return statuses;
}

async function provider(url: string, name: string) {
  return (await admin(url, 'GET', `/admin/providers/${name}`)).body;
}

const drill = (extra: Record<string, unknown> = {}) => ({
  name: 'primary-off',
  provider: 'primary',
  schedule: CRON,
  duration_ms: DURATION,
  abort_below_success_ratio: 0.9,
  min_requests: 5,
  ...extra,
});

const primary = new FakeUpstream();
const secondary = new FakeUpstream();
let relay: Relay | undefined;

beforeAll(async () => {
  await primary.start();
  await secondary.start();
});
afterEach(async () => {
  await relay?.close();
  relay = undefined;
  primary.reset();
  secondary.reset();
});
afterAll(async () => {
  await primary.close();
  await secondary.close();
});

function config(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return twoProviderConfig(primary, secondary, {
    routing: { retry: { max_attempts: 1 } },
    drills: [drill()],
    ...patch,
  });
}

describe('failover drills', () => {
  it('starts on its schedule, ends on time with a pass and the numbers, and restores the primary', async () => {
    relay = await start(config());
    await send(relay.url, 4); // the baseline, served by the primary
    let list = (await admin(relay.url, 'GET', '/admin/drills')).body;
    expect(list.persistence).toBe('memory');
    expect(list.drills[0]).toMatchObject({
      schedule: CRON,
      next_run_at: '2026-01-05T03:00:00.000Z',
      running: null,
    });

    relay.clock.set(Date.UTC(2026, 0, 5, 2, 59, 59));
    await relay.drills.tick();
    expect((await provider(relay.url, 'primary')).state).toBe('closed');
    relay.clock.set(Date.UTC(2026, 0, 5, 3, 0));
    await relay.drills.tick();
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'open', forced: true });
    expect(relay.logs.some((l) => l.includes('drill \\"primary-off\\"') && l.includes('started'))).toBe(true);

    expect(await send(relay.url, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(primary.requests).toHaveLength(4);
    relay.clock.advance(DURATION - 1);
    await relay.drills.tick();
    list = (await admin(relay.url, 'GET', '/admin/drills')).body;
    expect(list.drills[0].history[0]).toMatchObject({ status: 'running' });
    relay.clock.advance(1);
    await relay.drills.tick();

    list = (await admin(relay.url, 'GET', '/admin/drills')).body;
    const entry = list.drills[0];
    expect(entry.next_run_at).toBe('2026-01-12T03:00:00.000Z');
    expect(entry.history[0]).toMatchObject({
      trigger: 'schedule',
      status: 'ended',
      verdict: 'pass',
      started_at: '2026-01-05T03:00:00.000Z',
      ended_at: '2026-01-05T03:05:00.000Z',
      requests: 6,
      success_ratio: 1,
    });
    const run = (await admin(relay.url, 'GET', `/admin/drills/primary-off/runs/${entry.history[0].id}`)).body;
    expect(run.drill).toMatchObject({ requests: 6, succeeded: 6, answered_by: { secondary: 6 }, errors: {} });
    expect(run.drill.latency_ms.p50).toEqual(expect.any(Number));
    expect(run.baseline).toMatchObject({ requests: 4, answered_by: { primary: 4 } });
    expect(run.restore).toMatch(/restored to closed/);
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'closed', forced: false });
    expect(relay.logs.some((l) => l.includes('ended: pass'))).toBe(true);
    expect(await send(relay.url, 1)).toEqual([200]);
    expect(primary.requests).toHaveLength(5);

    const metrics = await (await request(`${relay.url}/metrics`)).body.text();
    expect(metrics).toContain('cc_relay_drill_runs_total{name="primary-off",verdict="pass"} 1');
    expect(metrics).toContain('cc_relay_drill_running{name="primary-off"} 0');
  });

  it('runs an every: drill one period after the start, then one period later', async () => {
    relay = await start(config({ drills: [drill({ schedule: undefined, every: '1h' })] }));
    const first = (await admin(relay.url, 'GET', '/admin/drills')).body.drills[0];
    expect(first).toMatchObject({ schedule: 'every 1h', next_run_at: '2026-01-05T03:55:00.000Z' });
    relay.clock.advance(3_600_000);
    await relay.drills.tick();
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'open', forced: true });
    relay.clock.advance(DURATION);
    await relay.drills.tick();
    const after = (await admin(relay.url, 'GET', '/admin/drills')).body.drills[0];
    expect(after.next_run_at).toBe('2026-01-05T04:55:00.000Z');
    expect(after.history[0]).toMatchObject({ verdict: 'inconclusive', requests: 0 });
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'closed' });
  });

  it('aborts at the floor when the fallback fails, and restores the primary', async () => {
    relay = await start(config());
    secondary.script(() => ({ kind: 'status', status: 500 }));
    const started = await admin(relay.url, 'POST', '/admin/drills/primary-off/run');
    expect(started.body).toMatchObject({ status: 'running', trigger: 'manual' });
    const metrics = await (await request(`${relay.url}/metrics`)).body.text();
    expect(metrics).toContain('cc_relay_drill_running{name="primary-off"} 1');
    // Four failures are under min_requests: the drill goes on; the fifth judges it.
    await send(relay.url, 4);
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'open', forced: true });
    await send(relay.url, 1);
    const list = (await admin(relay.url, 'GET', '/admin/drills')).body;
    expect(list.drills[0].history[0]).toMatchObject({ verdict: 'aborted', requests: 5, success_ratio: 0 });
    expect(list.drills[0].history[0].reason).toMatch(/fell below the floor 0.9/);
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'closed', forced: false });
    expect(await send(relay.url, 1)).toEqual([200]);
  });

  it("leaves an operator's force-open during a drill in place at the drill's end", async () => {
    relay = await start(config());
    const started = (await admin(relay.url, 'POST', '/admin/drills/primary-off/run')).body;
    const forced = await admin(relay.url, 'POST', '/admin/providers/primary/open', {
      duration_ms: 3_600_000,
      reason: 'maintenance',
    });
    expect(forced.status).toBe(200);
    relay.clock.advance(DURATION);
    await relay.drills.tick();
    const list = (await admin(relay.url, 'GET', '/admin/drills')).body;
    // The manual run ended; the scheduled one due at 03:00 found the provider forced by the operator and left it.
    expect(list.drills[0].history).toHaveLength(2);
    const run = (await admin(relay.url, 'GET', `/admin/drills/primary-off/runs/${started.id}`)).body;
    expect(run).toMatchObject({ status: 'ended', verdict: 'inconclusive' });
    expect(run.restore).toMatch(/operator/);
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'open', forced: true });
  });

  it('abort ends a running drill and answers 404 and 400 in the error shape', async () => {
    relay = await start(config());
    expect((await admin(relay.url, 'POST', '/admin/drills/nope/run')).body).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' },
    });
    expect((await admin(relay.url, 'POST', '/admin/drills/primary-off/abort')).status).toBe(400);
    await admin(relay.url, 'POST', '/admin/drills/primary-off/run');
    expect((await admin(relay.url, 'POST', '/admin/drills/primary-off/run')).status).toBe(400);
    const aborted = await admin(relay.url, 'POST', '/admin/drills/primary-off/abort');
    expect(aborted.body).toMatchObject({ verdict: 'aborted', reason: 'aborted by the admin API' });
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'closed' });
  });
});

describe('drill history in Redis', () => {
  it('survives a restart, and a run left "running" by a crash is closed as aborted with the provider back', async () => {
    const prefix = `e2e-drills-${randomUUID()}:`;
    const cfg = config({
      cache: { mode: 'ha', redis: { url: 'redis://127.0.0.1:6379', key_prefix: prefix } },
    });
    relay = await start(cfg);
    const run = (await admin(relay.url, 'POST', '/admin/drills/primary-off/run')).body;
    expect((await admin(relay.url, 'GET', '/admin/drills')).body.persistence).toBe('redis');
    // A crash: the relay dies without ending the drill (the stored run stays "running").
    const redis = createClient({ url: 'redis://127.0.0.1:6379' });
    await redis.connect();
    const stored = JSON.parse(String(await redis.hGet(`${prefix}drills:runs`, run.id))) as Record<
      string,
      unknown
    >;
    expect(stored.status).toBe('running');
    expect(await send(relay.url, 1)).toEqual([200]); // served by the secondary, booked for the day
    await relay.close();
    // A graceful stop ends the drill itself (aborted); a crash would have left it running, as written back here.
    const closed = JSON.parse(String(await redis.hGet(`${prefix}drills:runs`, run.id))) as Record<
      string,
      unknown
    >;
    expect(closed).toMatchObject({
      status: 'ended',
      verdict: 'aborted',
      reason: 'the relay is shutting down',
    });
    await redis.hSet(`${prefix}drills:runs`, run.id, JSON.stringify(stored));

    relay = await start(cfg);
    const list = (await admin(relay.url, 'GET', '/admin/drills')).body;
    expect(list.drills[0].history).toHaveLength(1);
    expect(list.drills[0].history[0]).toMatchObject({
      id: run.id,
      status: 'ended',
      verdict: 'aborted',
      reason: 'the relay restarted during the drill',
    });
    expect(await provider(relay.url, 'primary')).toMatchObject({ state: 'closed', forced: false });
    expect(await send(relay.url, 1)).toEqual([200]);
    // Delivered availability survived too: the first relay's answer and this one's.
    const availability = (await admin(relay.url, 'GET', '/admin/availability')).body;
    expect(availability.persistence).toBe('redis');
    expect(availability.days[0]).toMatchObject({
      expected: 2,
      succeeded: 2,
      // The second relay's answer came from the shared cache (the same request), booked under "cache".
      providers: { secondary: { expected: 1 }, cache: { expected: 1 } },
    });
    await relay.close();
    relay = undefined;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.close();
  });
});

describe('delivered availability', () => {
  it('matches a scripted day of traffic exactly', async () => {
    relay = await start(
      config({
        drills: [],
        health: { circuit_breaker: { failure_threshold: 1000 } },
        routing: {
          retry: { max_attempts: 5, budget_ratio: 10 },
          fallbacks: { 'claude-sonnet-4-6': ['claude-haiku-4-5'] },
        },
      }),
      new FakeClock(Date.UTC(2026, 0, 6, 10)),
    );
    let mode = 'ok';
    const byModel = (model: unknown) =>
      ({
        ok: undefined,
        // sonnet down everywhere: the haiku fallback answers, on the primary.
        fallback: model === 'claude-sonnet-4-6' ? { kind: 'status' as const, status: 529 } : undefined,
        down: { kind: 'status' as const, status: 500 },
        client: { kind: 'status' as const, status: 400 },
        limited: { kind: 'status' as const, status: 429 },
      })[mode];
    for (const fake of [primary, secondary])
      fake.script((req) => byModel((req.body as { model?: string }).model));

    expect(await send(relay.url, 7)).toEqual(Array(7).fill(200)); // 7 from the primary
    mode = 'fallback';
    expect(await send(relay.url, 3)).toEqual(Array(3).fill(200)); // 3 from the primary's haiku
    mode = 'down';
    const down = await send(relay.url, 2); // relay errors: booked under "relay"
    mode = 'client';
    expect(await send(relay.url, 2)).toEqual([400, 400]); // client errors: not counted
    mode = 'ok';
    const bad = await post(relay.url, '/v1/messages', '{'); // the relay's own 400: not counted
    await bad.body.dump();
    relay.clock.advance(24 * 3_600_000);
    expect(await send(relay.url, 1)).toEqual([200]); // the next day

    expect(down.every((s) => s >= 500)).toBe(true);
    const report = (await admin(relay.url, 'GET', '/admin/availability')).body;
    expect(report.persistence).toBe('memory');
    expect(report.days).toHaveLength(30);
    const [today, yesterday] = report.days;
    expect(today).toMatchObject({ day: '2026-01-07', expected: 1, succeeded: 1, availability: 1 });
    expect(yesterday).toMatchObject({
      day: '2026-01-06',
      expected: 12,
      succeeded: 10,
      availability: 10 / 12,
      fallback_share: 0.3,
    });
    expect(yesterday.providers.primary).toMatchObject({
      expected: 10,
      succeeded: 10,
      availability: 1,
      fallback_share: 0.3,
    });
    expect(yesterday.providers.relay).toMatchObject({ expected: 2, succeeded: 0, availability: 0 });
    expect(yesterday.ttfb_ms.p50).not.toBeNull();
    expect(report.days[2]).toMatchObject({ day: '2026-01-05', expected: 0, availability: null });
    void AvailabilityService;
  });
});

describe('drills with Redis away', () => {
  it('start, list and run without waiting on it', async () => {
    relay = await start(
      config({
        cache: { mode: 'ha', redis: { url: 'redis://127.0.0.1:1', key_prefix: 'e2e-drills-away:' } },
      }),
    );
    const list = await admin(relay.url, 'GET', '/admin/drills');
    expect(list.body).toMatchObject({ persistence: 'redis' });
    expect((await admin(relay.url, 'POST', '/admin/drills/primary-off/run')).body).toMatchObject({
      status: 'running',
    });
    expect(relay.logs.some((l) => l.includes('could not be stored'))).toBe(true);
  });
});
