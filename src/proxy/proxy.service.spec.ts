import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../test/fakes/fake-clock';
import { Cancellation } from '../common/cancellation';
import { validateConfig } from '../config/config-validation';
import type { RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from '../health/breaker-registry';
import type { RelayMetrics } from '../metrics/relay-metrics.service';
import { RoutingService } from '../routing/routing.service';
import type { ProxyRequest } from './proxy-request';
import { ProxyService } from './proxy.service';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from './upstream-client';

const MODEL = 'claude-sonnet-4-6';

function config(): RelayConfig {
  const { config } = validateConfig({
    server: { listen: '127.0.0.1:0' },
    providers: [
      {
        name: 'p1',
        type: 'anthropic',
        base_url: 'http://upstream.invalid',
        keys: [{ key: 'sk-ant-unit-key-0123456789abcdef', itpm_limit: 100_000 }],
        models: [MODEL],
        model_mapping: { [MODEL]: 'mapped-model' },
      },
    ],
    health: { health_check: { enabled: false }, circuit_breaker: { half_open_probes: 1 } },
    cache: { mode: 'disabled' },
  });
  return config;
}

const OK_BODY = JSON.stringify({
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'mapped-model',
  content: [{ type: 'text', text: 'hi' }],
  stop_reason: 'end_turn',
  usage: { input_tokens: 3, output_tokens: 1 },
});

/** An upstream client that answers 200 JSON without a socket; `override` replaces the answer. */
class FakeUpstream {
  calls: UpstreamRequest[] = [];
  override?: () => UpstreamResponse;
  send(req: UpstreamRequest): Promise<UpstreamResponse> {
    this.calls.push(req);
    if (this.override) return Promise.resolve(this.override());
    return Promise.resolve({
      statusCode: 200,
      headers: { 'content-type': 'application/json', 'content-length': String(OK_BODY.length) },
      body: Readable.from([Buffer.from(OK_BODY)]),
    } as unknown as UpstreamResponse);
  }
}

const noop = () => undefined;
const metrics = () =>
  ({
    attempt: vi.fn(),
    retryDecision: vi.fn(),
    usage: vi.fn(),
    fallbackAnswer: vi.fn(),
  }) as unknown as RelayMetrics & { attempt: ReturnType<typeof vi.fn> };

function fakeRes(): ServerResponse {
  return {
    headersSent: false,
    destroyed: false,
    writeHead: vi.fn(),
    end: vi.fn(),
  } as unknown as ServerResponse;
}

function request(body: string, headers: ProxyRequest['headers'] = { 'anthropic-version': '2023-06-01' }) {
  const log = { debug: noop, info: noop, warn: noop, error: noop, child: () => log };
  return {
    id: 'req_unit',
    log,
    endpoint: 'messages',
    pathAndQuery: '/v1/messages',
    headers,
    rawBody: Buffer.from(body),
    model: MODEL,
    stream: false,
    clientScope: undefined,
    signal: new Cancellation(),
    startedAt: Date.now(),
  } as unknown as ProxyRequest;
}

const SMALL_BODY = JSON.stringify({
  model: MODEL,
  max_tokens: 8,
  messages: [{ role: 'user', content: 'x'.repeat(400) }],
});

/** A relay with one provider whose circuit is HALF_OPEN (one test slot), so a leaked permit shows. */
function world() {
  const cfg = config();
  const clock = new FakeClock();
  const breakers = BreakerRegistry.fromConfig(cfg, clock);
  const breaker = breakers.get('p1')!;
  breaker.forceOpen(1_000, 'unit test');
  clock.advance(1_001);
  expect(breaker.state).toBe('half_open');
  const routing = new RoutingService(cfg, breakers);
  const upstream = new FakeUpstream();
  const m = metrics();
  const service = new ProxyService(cfg, routing, upstream as unknown as UpstreamClient, m);
  const rt = routing.runtime('p1')!;
  const opts = { res: fakeRes(), baseHeaders: () => ({}), captureLimitBytes: 0 };
  return { service, routing, breaker, rt, upstream, metrics: m, opts };
}

type World = ReturnType<typeof world>;

/** Every lease an attempt takes is given back: the key, its token reservation, the provider count, the permit. */
function expectLeasesReleased(w: World): void {
  expect(w.rt.inFlight).toBe(0);
  for (const key of w.rt.keys.snapshot()) {
    expect(key.in_flight).toBe(0);
    expect(key.reserved_input_tokens).toBe(0);
  }
  expect(w.breaker.snapshot().half_open_in_flight).toBe(0);
  // The provider still gets traffic: its test slot is free.
  expect(w.breaker.isRoutable()).toBe(true);
}

describe('ProxyService: leases are released whatever throws between admit and settle', () => {
  it('releases them on the ordinary path (a delivered answer)', async () => {
    const w = world();
    const answer = await w.service.forward(request(SMALL_BODY), w.opts);
    expect(answer?.status).toBe(200);
    expect(JSON.parse(String(w.upstream.calls[0]!.body)).model).toBe('mapped-model');
    expect(w.rt.inFlight).toBe(0);
    expect(w.rt.keys.snapshot()[0]!.in_flight).toBe(0);
    expect(w.rt.keys.snapshot()[0]!.reserved_input_tokens).toBe(0);
  });

  const injections: Array<[string, (w: World) => { body?: string; headers?: ProxyRequest['headers'] }]> = [
    [
      'the model rewrite overflows the stack (a body nesting 250,000 arrays)',
      () => ({
        body: `{"model":"${MODEL}","max_tokens":8,"messages":[{"role":"user","content":${'['.repeat(250_000)}${']'.repeat(250_000)}}]}`,
      }),
    ],
    [
      'the upstream header builder throws',
      () => ({
        headers: new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('injected: header builder');
            },
            get() {
              throw new Error('injected: header builder');
            },
          },
        ),
      }),
    ],
    [
      'the upstream client hands back a response that throws when read',
      (w) => {
        w.upstream.override = () =>
          ({
            statusCode: 200,
            get headers(): never {
              throw new Error('injected: upstream client');
            },
            body: Readable.from([]),
          }) as unknown as UpstreamResponse;
        return {};
      },
    ],
    [
      'writing the answer throws',
      (w) => {
        w.opts.baseHeaders = () => {
          throw new Error('injected: answer headers');
        };
        return {};
      },
    ],
    [
      'the outcome metrics throw',
      (w) => {
        w.metrics.attempt.mockImplementation(() => {
          throw new Error('injected: metrics');
        });
        return {};
      },
    ],
    [
      'recording the key’s answer throws',
      (w) => {
        vi.spyOn(w.rt.keys, 'recordResponse').mockImplementation(() => {
          throw new Error('injected: recordKey');
        });
        return {};
      },
    ],
    [
      'recording the breaker’s verdict throws once',
      (w) => {
        const record = w.breaker.record.bind(w.breaker);
        let thrown = false;
        vi.spyOn(w.breaker, 'record').mockImplementation((permit, result) => {
          if (!thrown) {
            thrown = true;
            throw new Error('injected: breaker');
          }
          record(permit, result);
        });
        return {};
      },
    ],
  ];

  it.each(injections)('when %s', async (_name, inject) => {
    const w = world();
    const { body, headers } = inject(w);
    await expect(w.service.forward(request(body ?? SMALL_BODY, headers), w.opts)).rejects.toThrow();
    expectLeasesReleased(w);
  });
});
