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

// The attempt loop alone: a real routing service (strategies, key pools, breakers on a fake clock) and an upstream
// client that answers from a script, without sockets.

const SONNET = 'claude-sonnet-4-6';
const HAIKU = 'claude-haiku-4-5';

function config(patch: Record<string, unknown> = {}): RelayConfig {
  return validateConfig({
    server: { listen: '127.0.0.1:0' },
    providers: [
      {
        name: 'alpha',
        type: 'anthropic',
        base_url: 'http://alpha.invalid',
        priority: 2,
        keys: [{ key: 'sk-ant-loop-alpha-0123456789abcdef' }],
        models: [SONNET],
      },
      {
        name: 'beta',
        type: 'anthropic',
        base_url: 'http://beta.invalid',
        priority: 1,
        keys: [{ key: 'sk-ant-loop-beta-0123456789abcdef' }],
        models: [SONNET, HAIKU],
        model_mapping: { [HAIKU]: 'beta-haiku' },
      },
    ],
    routing: { strategy: 'failover', retry: { base_delay_ms: 1, max_delay_ms: 2 } },
    health: { health_check: { enabled: false } },
    cache: { mode: 'disabled' },
    ...patch,
  }).config;
}

type Answer = { status: number; headers?: Record<string, string>; body?: string };

function okBody(model: string): string {
  return JSON.stringify({
    id: 'msg_loop',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: 'hi' }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 5, output_tokens: 2 },
  });
}

/** Answers each provider from its script (200 when the script is empty), and records what it was sent. */
class ScriptedUpstream {
  calls: Array<{ provider: string; model: string; key?: string }> = [];
  constructor(private readonly scripts: Record<string, Answer[]> = {}) {}
  send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const sent = JSON.parse(String(req.body)) as { model: string };
    const keyAt = req.headers.indexOf('x-api-key');
    this.calls.push({
      provider: req.provider,
      model: sent.model,
      key: keyAt >= 0 ? req.headers[keyAt + 1] : undefined,
    });
    const answer = this.scripts[req.provider]?.shift() ?? { status: 200, body: okBody(sent.model) };
    const body = answer.body ?? JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'x' } });
    return Promise.resolve({
      statusCode: answer.status,
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        ...answer.headers,
      },
      body: Readable.from([Buffer.from(body)]),
    } as unknown as UpstreamResponse);
  }
}

interface Written {
  status?: number;
  headers?: Record<string, unknown>;
  body?: string;
}

function fakeRes(): ServerResponse & { written: Written } {
  const written: Written = {};
  return {
    written,
    headersSent: false,
    destroyed: false,
    writeHead: vi.fn((status: number, headers: Record<string, unknown> | string[]) => {
      written.status = status;
      written.headers = Array.isArray(headers)
        ? Object.fromEntries(headers.flatMap((v, i) => (i % 2 === 0 ? [[v, headers[i + 1]]] : [])))
        : headers;
    }),
    end: vi.fn((body?: Buffer | string) => {
      written.body = body === undefined ? '' : String(body);
    }),
  } as unknown as ServerResponse & { written: Written };
}

const noop = () => undefined;

function request(model = SONNET): ProxyRequest {
  const log = { debug: noop, info: noop, warn: noop, error: noop, child: () => log };
  return {
    id: 'req_loop',
    log,
    endpoint: 'messages',
    pathAndQuery: '/v1/messages',
    headers: { 'anthropic-version': '2023-06-01' },
    rawBody: Buffer.from(
      JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
    ),
    model,
    stream: false,
    clientScope: undefined,
    signal: new Cancellation(),
    startedAt: Date.now(),
  } as unknown as ProxyRequest;
}

function world(scripts: Record<string, Answer[]> = {}, patch: Record<string, unknown> = {}) {
  const cfg = config(patch);
  const clock = new FakeClock();
  const breakers = BreakerRegistry.fromConfig(cfg, clock);
  const routing = new RoutingService(cfg, breakers, clock, () => 0.5);
  const upstream = new ScriptedUpstream(scripts);
  const metrics = {
    attempt: vi.fn(),
    retryDecision: vi.fn(),
    usage: vi.fn(),
    fallbackAnswer: vi.fn(),
  };
  const service = new ProxyService(
    cfg,
    routing,
    upstream as unknown as UpstreamClient,
    metrics as unknown as RelayMetrics,
  );
  const res = fakeRes();
  const opts = { res, baseHeaders: () => ({ 'request-id': 'req_loop' }), captureLimitBytes: 0 };
  return { service, routing, breakers, upstream, metrics, res, opts, clock };
}

describe('ProxyService: the attempt loop', () => {
  it('delivers the first candidate’s answer and labels it with its provider and model', async () => {
    const w = world();
    const answer = await w.service.forward(request(), w.opts);
    expect(answer).toMatchObject({ kind: 'delivered', status: 200, provider: 'alpha', model: SONNET });
    expect(w.upstream.calls.map((c) => c.provider)).toEqual(['alpha']);
    expect(w.res.written.status).toBe(200);
    expect(w.metrics.attempt).toHaveBeenCalledWith('alpha', 'success', expect.any(Number));
    expect(w.metrics.usage).toHaveBeenCalledWith('alpha', 5, 2);
  });

  it('retries an overloaded provider once, then fails over to the next', async () => {
    const w = world({ alpha: [{ status: 529 }, { status: 529 }] });
    const answer = await w.service.forward(request(), w.opts);
    expect(answer).toMatchObject({ provider: 'beta' });
    expect(w.upstream.calls.map((c) => c.provider)).toEqual(['alpha', 'alpha', 'beta']);
    expect(w.breakers.get('alpha')!.snapshot().consecutive_failures).toBe(2);
    expect(w.metrics.retryDecision.mock.calls.map((c: unknown[]) => c[0])).toEqual([
      'retry_same',
      'next_candidate',
    ]);
  });

  it('passes over a provider whose circuit is open, without a call', async () => {
    const w = world();
    w.breakers.get('alpha')!.forceOpen(60_000, 'unit test');
    const answer = await w.service.forward(request(), w.opts);
    expect(answer).toMatchObject({ provider: 'beta' });
    expect(w.upstream.calls.map((c) => c.provider)).toEqual(['beta']);
  });

  it('asks a fallback step for its mapped model and labels the metric with the config rule', async () => {
    const w = world(
      { alpha: [{ status: 529 }, { status: 529 }], beta: [{ status: 529 }, { status: 529 }] },
      {
        routing: {
          strategy: 'failover',
          retry: { max_attempts: 5, base_delay_ms: 1, max_delay_ms: 2 },
          fallbacks: { 'claude-sonnet-4*': [HAIKU] },
        },
      },
    );
    // alpha serves only sonnet; beta is then tried for sonnet, then for the fallback model.
    const answer = await w.service.forward(request(), w.opts);
    expect(answer).toMatchObject({ provider: 'beta', model: HAIKU });
    expect(w.upstream.calls.at(-1)).toMatchObject({ provider: 'beta', model: 'beta-haiku' });
    expect(w.metrics.fallbackAnswer).toHaveBeenCalledWith('claude-sonnet-4*', HAIKU, 'beta');
  });

  it('answers 429 with the key’s retry-after when every key is cooling down, then without a call', async () => {
    const limited = { status: 429, headers: { 'retry-after': '3' } };
    const w = world({ alpha: [limited], beta: [limited] }, { routing: { deadline_ms: 1_000 } });
    await w.service.forward(request(), w.opts);
    expect(w.res.written.status).toBe(429);
    expect(w.res.written.headers).toMatchObject({ 'retry-after': '3' });
    expect(w.upstream.calls.map((c) => c.provider)).toEqual(['alpha', 'beta']);

    // The same relay, a new request: nothing is asked upstream while the keys cool down.
    const res = fakeRes();
    await w.service.forward(request(), { ...w.opts, res });
    expect(res.written.status).toBe(429);
    expect(w.upstream.calls).toHaveLength(2);

    // On the routing clock the cooldown runs out, and the next request is served.
    w.clock.advance(3_000);
    const after = fakeRes();
    await w.service.forward(request(), { ...w.opts, res: after });
    expect(after.written.status).toBe(200);
  });

  it('answers 502 naming the provider that refused the relay’s key, and tells the client not to retry', async () => {
    const refused = {
      status: 401,
      body: JSON.stringify({
        type: 'error',
        error: { type: 'authentication_error', message: 'invalid x-api-key' },
      }),
    };
    const w = world({ alpha: [refused], beta: [refused] });
    await w.service.forward(request(), w.opts);
    expect(w.res.written.status).toBe(502);
    expect(w.res.written.headers).toMatchObject({ 'x-should-retry': 'false' });
    expect(w.res.written.body).toContain('alpha');
  });
});
