import 'reflect-metadata';
import { DynamicModule, Global, INestApplicationContext, Logger, Module } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PROBE_LOCK } from '../cluster/cluster.tokens';
import { ProviderConfig, ProviderKeyConfig, RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from './breaker-registry';
import { HealthProbeJob } from './health-probe.job';
import { HealthModule } from './health.module';
import type { ProbeRequest } from '../providers/probe-request';
import type { ProbeOutcome } from './probe-policy';
import { ProviderProber } from './provider-prober';

@Global()
@Module({})
class TestConfigModule {
  static with(config: RelayConfig): DynamicModule {
    return {
      module: TestConfigModule,
      providers: [{ provide: RelayConfig, useValue: config }],
      exports: [RelayConfig],
    };
  }
}

interface SeenRequest {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A tiny upstream: /<name>/… answers with the status set for `<name> <METHOD>` (say `p POST`), else for <name>,
 * else 200.
 */
class FakeUpstream {
  readonly seen: SeenRequest[] = [];
  readonly statuses = new Map<string, number>();
  private server!: Server;
  private waiters: Array<() => void> = [];

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const name = req.url?.split('/')[1] ?? '';
        const status = this.statuses.get(`${name} ${req.method}`) ?? this.statuses.get(name) ?? 200;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{"data":[]}');
        this.waiters.splice(0).forEach((w) => w());
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  baseUrl(name: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/${name}`;
  }

  nextRequest(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function provider(name: string, baseUrl: string, type: ProviderConfig['type'] = 'anthropic'): ProviderConfig {
  const key = Object.assign(new ProviderKeyConfig(), { key: `key-of-${name}` });
  return Object.assign(new ProviderConfig(), { name, type, base_url: baseUrl, keys: [key] });
}

/** Milliseconds between consecutive timestamps. */
function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

function openCircuit(registry: BreakerRegistry, name: string): void {
  const breaker = registry.get(name)!;
  for (let i = 0; i < 5; i++) breaker.record(breaker.tryAcquire()!, 'failure');
}

async function boot(
  config: RelayConfig,
  prober?: ProviderProber,
  lock?: { tryTake(provider: string, ttlMs: number): Promise<boolean> },
): Promise<INestApplicationContext> {
  @Global()
  @Module({ providers: [{ provide: PROBE_LOCK, useValue: lock ?? null }], exports: [PROBE_LOCK] })
  class TestLockModule {}
  let builder = Test.createTestingModule({
    imports: [TestConfigModule.with(config), ScheduleModule.forRoot(), TestLockModule, HealthModule],
  });
  if (prober) builder = builder.overrideProvider(ProviderProber).useValue(prober);
  const moduleRef = await builder.compile();
  moduleRef.useLogger(false);
  return moduleRef.init();
}

describe('HealthProbeJob', () => {
  let upstream: FakeUpstream;
  let app: INestApplicationContext | undefined;

  beforeEach(async () => {
    upstream = new FakeUpstream();
    await upstream.start();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await upstream.stop();
  });

  function configWith(providers: ProviderConfig[], enabled = false): RelayConfig {
    const config = new RelayConfig();
    config.providers = providers;
    config.health.health_check.enabled = enabled;
    config.health.health_check.interval_ms = 100;
    // The overload-aware probe (opt-in; the default is the spec's GET /v1/models).
    config.health.health_check.probe = 'messages';
    return config;
  }

  it('probes only OPEN circuits and moves a recovered provider to HALF_OPEN', async () => {
    const config = configWith([
      provider('healthy', upstream.baseUrl('healthy')),
      provider('recovered', upstream.baseUrl('recovered')),
      provider('still-down', upstream.baseUrl('still-down'), 'zai'),
      provider('testing', upstream.baseUrl('testing')),
      provider('drill', upstream.baseUrl('drill')),
    ]);
    upstream.statuses.set('still-down', 503);
    app = await boot(config);
    const registry = app.get(BreakerRegistry);
    openCircuit(registry, 'recovered');
    openCircuit(registry, 'still-down');
    openCircuit(registry, 'testing');
    registry.get('testing')!.markProbeSucceeded();
    registry.get('drill')!.forceOpen(60_000, 'drill');

    await app.get(HealthProbeJob).runOnce();

    expect(upstream.seen.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      'GET /recovered/v1/models',
      'GET /still-down/v1/models',
    ]);
    const recovered = upstream.seen.find((r) => r.url?.startsWith('/recovered'))!;
    expect(recovered.headers['x-api-key']).toBe('key-of-recovered');
    expect(recovered.headers['anthropic-version']).toBe('2023-06-01');
    const stillDown = upstream.seen.find((r) => r.url?.startsWith('/still-down'))!;
    expect(stillDown.headers.authorization).toBe('Bearer key-of-still-down');

    expect(registry.snapshot().map((s) => [s.name, s.state])).toEqual([
      ['healthy', 'closed'],
      ['recovered', 'half_open'],
      ['still-down', 'open'],
      ['testing', 'half_open'],
      ['drill', 'open'],
    ]);
  });

  it('cluster mode: probes only the OPEN providers whose probe lock this replica holds, for one interval', async () => {
    const config = configWith([
      provider('mine', upstream.baseUrl('mine')),
      provider('theirs', upstream.baseUrl('theirs')),
    ]);
    const asked: Array<[string, number]> = [];
    app = await boot(config, undefined, {
      tryTake: async (name, ttlMs) => {
        asked.push([name, ttlMs]);
        return name === 'mine';
      },
    });
    const registry = app.get(BreakerRegistry);
    openCircuit(registry, 'mine');
    openCircuit(registry, 'theirs');
    await app.get(HealthProbeJob).runOnce();
    expect(asked.sort()).toEqual([
      ['mine', 100],
      ['theirs', 100],
    ]);
    expect(upstream.seen.map((r) => r.url)).toEqual(['/mine/v1/models']);
    expect(registry.get('theirs')!.state).toBe('open');
  });

  it('probes with a one-token Messages request by default, so an overload that spares /v1/models keeps it OPEN', async () => {
    const overloaded = provider('overloaded', upstream.baseUrl('overloaded'));
    overloaded.models = ['claude-sonnet-4-6', 'claude-haiku-4-5'];
    const tokenless = provider('tokenless', upstream.baseUrl('tokenless'));
    tokenless.models = ['claude-haiku-4-5'];
    tokenless.health_check.probe = 'count_tokens';
    const config = configWith([overloaded, tokenless]);
    // Inference is overloaded on both hosts; their models lists (GET) still answer 200.
    upstream.statuses.set('overloaded POST', 529);
    upstream.statuses.set('tokenless POST', 529);
    app = await boot(config);
    const registry = app.get(BreakerRegistry);
    openCircuit(registry, 'overloaded');
    openCircuit(registry, 'tokenless');

    await app.get(HealthProbeJob).runOnce();

    expect(upstream.seen.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      'POST /overloaded/v1/messages',
      'POST /tokenless/v1/messages/count_tokens',
    ]);
    const probe = upstream.seen.find((r) => r.url?.startsWith('/overloaded'))!;
    expect(JSON.parse(probe.body)).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 1,
      messages: [{ role: 'user', content: 'ping' }],
    });
    expect(probe.headers['x-api-key']).toBe('key-of-overloaded');
    expect(probe.headers['content-type']).toBe('application/json');
    expect(registry.get('overloaded')!.state).toBe('open');
    expect(registry.get('tokenless')!.state).toBe('open');

    // Inference is back: the next round sees it.
    upstream.statuses.clear();
    await app.get(HealthProbeJob).runOnce();
    expect(registry.get('overloaded')!.state).toBe('half_open');
    expect(registry.get('tokenless')!.state).toBe('half_open');
  });

  it('falls back to GET /v1/models for a provider that names no model, and says so once', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn');
    try {
      const config = configWith([provider('any', upstream.baseUrl('any'))]);
      upstream.statuses.set('any', 503);
      app = await boot(config);
      const registry = app.get(BreakerRegistry);
      openCircuit(registry, 'any');
      await app.get(HealthProbeJob).runOnce();
      await app.get(HealthProbeJob).runOnce();

      expect(upstream.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
        'GET /any/v1/models',
        'GET /any/v1/models',
      ]);
      const lines = warn.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('instead'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/GET \/v1\/models instead: it serves any model/);
    } finally {
      warn.mockRestore();
    }
  });

  it('a 401 from the probe still proves the host is up; a refused connection does not', async () => {
    const refused = new FakeUpstream();
    await refused.start();
    const deadUrl = refused.baseUrl('gone');
    await refused.stop();
    const config = configWith([provider('bad-key', upstream.baseUrl('bad-key')), provider('gone', deadUrl)]);
    upstream.statuses.set('bad-key', 401);
    app = await boot(config);
    const registry = app.get(BreakerRegistry);
    openCircuit(registry, 'bad-key');
    openCircuit(registry, 'gone');

    await app.get(HealthProbeJob).runOnce();

    expect(registry.get('bad-key')!.state).toBe('half_open');
    expect(registry.get('gone')!.state).toBe('open');
  });

  it('never overlaps: a round started while another is running is skipped', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowProber = {
      async probe(request: ProbeRequest): Promise<ProbeOutcome> {
        calls.push(request.provider);
        await gate;
        return { status: 200 };
      },
    } as unknown as ProviderProber;
    app = await boot(configWith([provider('p', upstream.baseUrl('p'))]), slowProber);
    const registry = app.get(BreakerRegistry);
    openCircuit(registry, 'p');
    const job = app.get(HealthProbeJob);

    const first = job.runOnce();
    await job.runOnce();
    expect(calls).toEqual(['p']);
    release();
    await first;
    expect(registry.get('p')!.state).toBe('half_open');
  });

  it('never throws: a failing prober leaves the circuit open and the next round runs again', async () => {
    let calls = 0;
    const brokenProber = {
      probe(): Promise<ProbeOutcome> {
        calls += 1;
        throw new Error('prober bug');
      },
    } as unknown as ProviderProber;
    app = await boot(configWith([provider('p', upstream.baseUrl('p'))]), brokenProber);
    const registry = app.get(BreakerRegistry);
    openCircuit(registry, 'p');
    const job = app.get(HealthProbeJob);

    await expect(job.runOnce()).resolves.toBeUndefined();
    await expect(job.runOnce()).resolves.toBeUndefined();
    expect(calls).toBe(2);
    expect(registry.get('p')!.state).toBe('open');
  });

  it('when enabled, runs on its own schedule and unregisters on shutdown', async () => {
    app = await boot(configWith([provider('p', upstream.baseUrl('p'))], true));
    const registry = app.get(BreakerRegistry);
    const scheduler = app.get(SchedulerRegistry);
    expect(scheduler.getTimeouts()).toEqual([HealthProbeJob.TIMEOUT_NAME]);
    openCircuit(registry, 'p');

    await upstream.nextRequest();
    await expect.poll(() => registry.get('p')!.state).toBe('half_open');

    await app.close();
    app = undefined;
    expect(scheduler.getTimeouts()).toEqual([]);
  });

  it('runs every interval_ms counted from the start of a round, so a slow probe does not stretch the period', async () => {
    // Spec: "헬스 체크는 health_check.interval_ms 밀리초마다 실행됩니다" (every interval_ms). A provider that blackholes
    // its connections holds a round for the whole probe timeout; counting the interval from the round's end made a
    // 10 s interval a 15 s one with the default 5 s timeout, and the 5 s interval the spec suggests a 10 s one.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const started: number[] = [];
      const blackholed = {
        async probe(): Promise<ProbeOutcome> {
          started.push(Date.now());
          await new Promise((resolve) => setTimeout(resolve, 5_000));
          return { error: 'timeout of 5000ms exceeded' };
        },
      } as unknown as ProviderProber;
      const config = configWith([provider('p', upstream.baseUrl('p'))], true);
      config.health.health_check.interval_ms = 10_000;
      config.health.circuit_breaker.open_duration_ms = 600_000;
      app = await boot(config, blackholed);
      openCircuit(app.get(BreakerRegistry), 'p');
      // After the boot (Nest itself draws random ids): no jitter from the second round on.
      vi.spyOn(Math, 'random').mockReturnValue(0);

      await vi.advanceTimersByTimeAsync(40_000);
      expect(started.length).toBeGreaterThanOrEqual(4);
      expect(gaps(started)).toEqual(gaps(started).map(() => 10_000));
    } finally {
      vi.useRealTimers();
      vi.restoreAllMocks();
    }
  });

  it('starts the next round at once when a round took longer than the interval, never two at a time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const started: number[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      const slow = {
        async probe(): Promise<ProbeOutcome> {
          started.push(Date.now());
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          inFlight -= 1;
          return { error: 'timeout of 1500ms exceeded' };
        },
      } as unknown as ProviderProber;
      const config = configWith([provider('p', upstream.baseUrl('p'))], true);
      config.health.health_check.interval_ms = 1_000;
      config.health.circuit_breaker.open_duration_ms = 600_000;
      app = await boot(config, slow);
      openCircuit(app.get(BreakerRegistry), 'p');
      vi.spyOn(Math, 'random').mockReturnValue(0);

      await vi.advanceTimersByTimeAsync(4_600);
      expect(started.length).toBe(3);
      // The next round follows the slow one at once (a 0 ms timer fires after 1 ms).
      for (const gap of gaps(started)) {
        expect(gap).toBeGreaterThanOrEqual(1_500);
        expect(gap).toBeLessThanOrEqual(1_501);
      }
      expect(maxInFlight).toBe(1);
    } finally {
      vi.useRealTimers();
      vi.restoreAllMocks();
    }
  });

  it('when disabled, schedules nothing', async () => {
    app = await boot(configWith([provider('p', upstream.baseUrl('p'))], false));
    expect(app.get(SchedulerRegistry).getTimeouts()).toEqual([]);
  });
});
