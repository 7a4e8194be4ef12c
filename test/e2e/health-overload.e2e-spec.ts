import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../src/health/breaker-registry';
import type { BreakerTransition } from '../../src/health/circuit-breaker';
import { FakeUpstream, type RecordedRequest } from '../fakes/fake-upstream';
import { ADMIN_TOKEN, providerState, SECONDARY_KEY, waitUntil } from './support/breaker-relay';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Issue 18.3: an overload hits inference, not the models list. The provider's GET /v1/models keeps answering 200
// while its POST /v1/messages answers 529; the health probe must see what the traffic sees, so the circuit stays
// OPEN for its open duration (doubling on every re-open), the failing provider gets at most one real request per
// re-open, and once it recovers a probe brings it back within a health interval.

const OPEN_MS = 400;
const MAX_OPEN_MS = 1_600;
const INTERVAL_MS = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The relay's health probes (their User-Agent says so); everything else a fake saw is real traffic. */
function isProbe(r: RecordedRequest): boolean {
  return r.headers['user-agent'] === 'cc-relay-health-probe';
}

function ask() {
  return { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] };
}

/** Sends one request after another through `client` until stop() is called; collects what came back. */
function steadyTraffic(client: Anthropic) {
  let running = true;
  const answers: Array<{ sentAt: number; ok: boolean; shouldRetry: string | null; status?: number }> = [];
  const done = (async () => {
    while (running) {
      const sentAt = Date.now();
      try {
        await client.messages.create(ask());
        answers.push({ sentAt, ok: true, shouldRetry: null });
      } catch (err) {
        if (!(err instanceof Anthropic.APIError)) throw err;
        answers.push({
          sentAt,
          ok: false,
          status: err.status,
          shouldRetry: err.headers?.get('x-should-retry') ?? null,
        });
      }
      await sleep(15);
    }
  })();
  return {
    answers,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('health probe during an overload of inference', () => {
  const fakes: FakeUpstream[] = [];
  let relay: RunningRelay | undefined;

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    for (const f of fakes.splice(0)) await f.close();
  });

  async function fake(): Promise<FakeUpstream> {
    const f = new FakeUpstream();
    await f.start();
    fakes.push(f);
    return f;
  }

  it('keeps the circuit OPEN for open_duration_ms, doubling it per re-open, and closes it within an interval of recovery', async () => {
    const primary = await fake();
    const secondary = await fake();
    relay = await startRelay(
      rawConfig(primary.url, {
        providers: [
          {
            name: 'primary',
            base_url: primary.url,
            priority: 10,
            keys: [{ key: PROVIDER_KEY }],
            models: ['claude-sonnet-4-6', 'claude-haiku-4-5'],
          },
          { name: 'secondary', base_url: secondary.url, priority: 5, keys: [{ key: SECONDARY_KEY }] },
        ],
        routing: { strategy: 'failover', debug: true },
        admin: { token: ADMIN_TOKEN },
        health: {
          // The overload-aware probe and the growing open duration are opt-in (the spec's defaults: models, none).
          health_check: { enabled: true, interval_ms: INTERVAL_MS, timeout_ms: 1_000, probe: 'messages' },
          circuit_breaker: {
            failure_threshold: 2,
            open_duration_ms: OPEN_MS,
            max_open_duration_ms: MAX_OPEN_MS,
            half_open_probes: 3,
          },
        },
      }),
    );
    const registry = relay.app.get(BreakerRegistry);
    const transitions: Array<BreakerTransition & { openMs: number }> = [];
    registry.onTransition((name, t) => {
      if (name === 'primary')
        transitions.push({ ...t, openMs: registry.get(name)!.snapshot().open_duration_ms });
    });

    // Inference is overloaded until recoverAt; the models list answers 200 all along, as Anthropic's does.
    let recoverAt = Infinity;
    primary.script((r) =>
      r.method === 'POST' && r.path === '/v1/messages' && Date.now() < recoverAt
        ? { kind: 'status', status: 529, headers: { 'x-should-retry': 'true' } }
        : undefined,
    );
    // The official SDK, as Claude Code uses it (its own retries off, so every request is one the test sent).
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const traffic = steadyTraffic(client);
    try {
      // Two re-opens in a row: the admin view shows the open duration grown to 4 × open_duration_ms.
      const grown = await waitUntil('the primary to re-open for the longest duration', async () => {
        const s = await providerState(relay!.url, 'primary');
        const shown = s as typeof s & { open_duration_ms: number; reopens: number };
        return s.state === 'open' && shown.open_duration_ms === MAX_OPEN_MS ? shown : undefined;
      });
      expect(grown.reopens).toBe(2);
      await sleep(300);
      recoverAt = Date.now();
      await waitUntil('the primary to close', () => (transitions.at(-1)?.to === 'closed' ? true : undefined));
    } finally {
      await traffic.stop();
    }

    // 1. Every request was served (by the secondary while the primary was down).
    expect(traffic.answers.filter((a) => !a.ok)).toEqual([]);

    // 2. During the outage every OPEN period lasted its whole open duration, 400, 800 then 1600 ms: the probes,
    // answered 529 like the traffic, never cut one short.
    const outage = transitions.filter((t) => t.at < recoverAt);
    const opens = outage.filter((t) => t.to === 'open');
    expect(opens.map((t) => t.openMs)).toEqual([OPEN_MS, 2 * OPEN_MS, MAX_OPEN_MS]);
    const halfOpens = outage.filter((t) => t.to === 'half_open');
    expect(halfOpens.length).toBe(2);
    halfOpens.forEach((h, i) => {
      expect(h.reason).toBe('open_duration_elapsed');
      expect(h.at - opens[i]!.at).toBeGreaterThanOrEqual(opens[i]!.openMs);
    });
    const outageProbes = primary.requests.filter((r) => isProbe(r) && r.receivedAt < recoverAt);
    expect(outageProbes.length).toBeGreaterThanOrEqual(3);
    for (const p of outageProbes) {
      expect(p.method).toBe('POST');
      expect(p.path).toBe('/v1/messages');
      expect(p.apiKey).toBe(PROVIDER_KEY);
      expect(p.body).toEqual({
        model: 'claude-haiku-4-5',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'ping' }],
      });
      expect(p.scenario).toMatchObject({ kind: 'status', status: 529 });
    }

    // 3. Real requests that reached the failing primary: at most one per HALF_OPEN (the first failure reopens it).
    const failedTraffic = primary.requests.filter((r) => !isProbe(r) && r.scenario?.kind === 'status');
    halfOpens.forEach((h, i) => {
      const until = opens[i + 1]?.at ?? recoverAt;
      const inWindow = failedTraffic.filter((r) => r.receivedAt >= h.at && r.receivedAt <= until);
      expect(inWindow.length, `failed requests from half-open ${i}`).toBeLessThanOrEqual(1);
    });
    expect(failedTraffic.filter((r) => r.receivedAt > opens[0]!.at).length).toBeLessThanOrEqual(
      halfOpens.length,
    );

    // 4. Recovery: the next probe round (GET /v1/models never asked) moved it to HALF_OPEN, well before the
    // 1600 ms open period would have ended, and the traffic under test closed it.
    const recovered = transitions.filter((t) => t.at >= recoverAt);
    expect(recovered.map((t) => `${t.to}:${t.reason}`)).toEqual([
      'half_open:probe_succeeded',
      'closed:half_open_succeeded',
    ]);
    // Within one probe interval plus the scheduling slack of a busy machine; the open period had >1 s left.
    expect(recovered[0]!.at - recoverAt).toBeLessThanOrEqual(2 * INTERVAL_MS);
    expect(primary.requests.filter((r) => r.method === 'GET')).toEqual([]);
    // A close resets the growth.
    expect(await providerState(relay.url, 'primary')).toMatchObject({
      state: 'closed',
      open_duration_ms: OPEN_MS,
      reopens: 0,
    });
  });

  it('never passes the upstream x-should-retry: true on between its own false answers during an outage', async () => {
    const only = await fake();
    relay = await startRelay(
      rawConfig(only.url, {
        health: {
          // The overload-aware probe and the growing open duration are opt-in (the spec's defaults: models, none).
          health_check: { enabled: true, interval_ms: INTERVAL_MS, timeout_ms: 1_000, probe: 'messages' },
          circuit_breaker: { failure_threshold: 3, open_duration_ms: OPEN_MS, max_open_duration_ms: OPEN_MS },
        },
      }),
    );
    // Every request fails with a 503 that, like Anthropic's, tells SDKs to retry.
    only.script(() => ({ kind: 'status', status: 503, headers: { 'x-should-retry': 'true' } }));
    const registry = relay.app.get(BreakerRegistry);
    let reopens = 0;
    registry.onTransition((_name, t) => {
      if (t.reason === 'half_open_failure') reopens++;
    });
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const traffic = steadyTraffic(client);
    try {
      await waitUntil('two re-opens', () => (reopens >= 2 ? true : undefined));
    } finally {
      await traffic.stop();
    }

    const failed = traffic.answers.filter((a) => !a.ok);
    expect(failed.length).toBe(traffic.answers.length);
    // The provider's own 503s, which the relay gave up on (among them the one that opened the circuit and those
    // that reopened it), say false; the relay's "circuits open" 529s name their retry-after; none says true.
    expect(failed.filter((a) => a.status === 503).length).toBeGreaterThanOrEqual(4);
    expect(failed.filter((a) => a.status === 503).every((a) => a.shouldRetry === 'false')).toBe(true);
    expect(failed.some((a) => a.status === 529)).toBe(true);
    expect(failed.filter((a) => a.shouldRetry === 'true')).toEqual([]);
  });
});
