import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/fake-upstream';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

/** The value of one sample line of the exposition text (undefined when the series is absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics (/metrics)', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(rawConfig(await fake.start()));
  });

  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  async function scrape(): Promise<{ status: number; type: string; text: string }> {
    const res = await request(`${relay.url}/metrics`);
    return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
  }

  /** Scrapes until `ready` holds: a request is counted when its response closes, just after the client has it. */
  async function scrapeUntil(ready: (text: string) => boolean): Promise<string> {
    let last = '';
    for (let i = 0; i < 50; i++) {
      last = (await scrape()).text;
      if (ready(last)) return last;
      await new Promise((r) => setTimeout(r, 20));
    }
    return last;
  }

  it('counts answered requests, upstream attempts, tokens and durations as a scraper reads them', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await post(relay.url, '/v1/messages', MINIMAL);
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    const refused = await post(relay.url, '/v1/messages', MINIMAL, { 'x-api-key': 'not-a-client-key' });
    expect(refused.statusCode).toBe(401);
    await refused.body.dump();

    const ok = 'cc_relay_http_requests_total{route="/v1/messages",method="POST",status="200"}';
    const text = await scrapeUntil((t) => sample(t, ok) === 2 && sample(t, ok.replace('200', '401')) === 1);
    expect(sample(text, ok)).toBe(2);
    expect(sample(text, ok.replace('200', '401'))).toBe(1);
    expect(sample(text, 'cc_relay_upstream_attempts_total{provider="primary",outcome="success"}')).toBe(2);
    // The fake answers with usage; both directions are counted (the 401 never reached the upstream).
    expect(sample(text, 'cc_relay_tokens_total{provider="primary",direction="input"}')).toBeGreaterThan(0);
    expect(sample(text, 'cc_relay_tokens_total{provider="primary",direction="output"}')).toBeGreaterThan(0);
    expect(sample(text, 'cc_relay_http_request_duration_seconds_count{route="/v1/messages"}')).toBe(3);
    expect(
      sample(text, 'cc_relay_http_request_duration_seconds_bucket{le="+Inf",route="/v1/messages"}'),
    ).toBe(3);
    expect(text).toContain('# TYPE cc_relay_http_request_duration_seconds histogram');
    expect(text).toContain('# TYPE cc_relay_http_requests_total counter');
    // Process metrics and the state gauges are there too.
    expect(text).toContain('cc_relay_process_cpu_seconds_total');
    expect(sample(text, 'cc_relay_breaker_state{provider="primary"}')).toBe(0);
  });

  it('answers in the Prometheus text format and never shows a key', async () => {
    const { status, type, text } = await scrape();
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    expect(text).not.toContain(PROVIDER_KEY);
    expect(text).not.toContain(CLIENT_KEY);
  });
});

describe('Prometheus metrics of the response cache', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(rawConfig(await fake.start(), { cache: { mode: 'single' } }));
  });

  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  async function scrape(): Promise<string> {
    return (await request(`${relay.url}/metrics`)).body.text();
  }

  it('exports the cache tallies as a counter family and the entries and bytes held as gauges', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await post(relay.url, '/v1/messages', MINIMAL);
      expect(res.headers['x-cc-relay-cache']).toBe(i === 0 ? 'MISS' : 'HIT');
      await res.body.dump();
    }
    const text = await scrape();
    expect(text).toContain('# TYPE cc_relay_cache_events_total counter');
    expect(sample(text, 'cc_relay_cache_events_total{event="lookups",mode="single"}')).toBe(2);
    expect(sample(text, 'cc_relay_cache_events_total{event="hits",mode="single"}')).toBe(1);
    expect(sample(text, 'cc_relay_cache_events_total{event="misses",mode="single"}')).toBe(1);
    expect(sample(text, 'cc_relay_cache_events_total{event="stored",mode="single"}')).toBe(1);
    expect(sample(text, 'cc_relay_cache_events_total{event="write_errors",mode="single"}')).toBe(0);
    expect(sample(text, 'cc_relay_cache_events_total{event="backend_evictions",mode="single"}')).toBe(0);

    expect(text).toContain('# TYPE cc_relay_cache_entries gauge');
    expect(text).toContain('# TYPE cc_relay_cache_bytes gauge');
    expect(sample(text, 'cc_relay_cache_entries{mode="single"}')).toBe(1);
    expect(sample(text, 'cc_relay_cache_bytes{mode="single"}')).toBeGreaterThan(0);
    // Levels are not events, and the old mixed gauge family is gone.
    expect(text).not.toContain('event="backend_key_count"');
    expect(text).not.toContain('event="backend_bytes_used"');
    expect(text).not.toMatch(/^cc_relay_cache\{/m);
    expect(text).not.toMatch(/^# TYPE cc_relay_cache gauge/m);
  });
});

describe('Prometheus metrics behind metrics.token', () => {
  const TOKEN = 'metrics-token-for-tests-0123456789';
  const fake = new FakeUpstream();
  let relay: RunningRelay;

  beforeAll(async () => {
    relay = await startRelay(rawConfig(await fake.start(), { metrics: { token: TOKEN } }));
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('answers a scrape without the token with 401, and with it the exposition text', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`]) {
      const res = await request(`${relay.url}/metrics`, { headers: authorization ? { authorization } : {} });
      const text = await res.body.text();
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="cc-relay metrics"');
      expect(JSON.parse(text)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
      expect(text).not.toContain('cc_relay_');
    }
    const ok = await request(`${relay.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.text()).toContain('cc_relay_http_requests_total');
    expect(relay.logs.join('\n')).not.toContain(TOKEN);
  });
});
