import { describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import {
  adminAction,
  messageRequests,
  providerState,
  send,
  useTwoProviderRelay,
  waitUntil,
} from './support/breaker-relay';
import { PROVIDER_KEY } from './support/relay-harness';

// Spec: health-and-circuit-breaker.md, "헬스 체크 프로브": every interval_ms, OPEN circuits only, a light HTTP
// request, a success moves the circuit to HALF_OPEN before open_duration_ms ends. These providers serve any model
// and name none, so the default messages probe falls back to GET /v1/models (health-overload.e2e-spec.ts covers
// the messages probe).

const OPEN_MS = 60_000;

/** GET requests the health job sent to a fake (the relay itself only ever POSTs messages). */
function probes(fake: FakeUpstream) {
  return fake.requests.filter((r) => r.method === 'GET');
}

describe('health probe job', () => {
  const env = useTwoProviderRelay(
    {
      routing: { retry: { max_attempts: 1 } },
      health: {
        health_check: { enabled: true, interval_ms: 100, timeout_ms: 1_000 },
        circuit_breaker: { failure_threshold: 5, open_duration_ms: OPEN_MS, half_open_probes: 3 },
      },
    },
    { reset: ['primary', 'secondary'] },
  );
  const { primary, secondary } = env;

  /** The whole primary host is down: messages and probes get 503. Five requests open its circuit. */
  async function openPrimary() {
    primary.script(() => ({ kind: 'status', status: 503 }));
    for (let i = 0; i < 5; i++) await send(env.url);
    const opened = await providerState(env.url, 'primary');
    expect(opened.state).toBe('open');
    return opened;
  }

  it('keeps a down provider OPEN, and moves it to HALF_OPEN long before open_duration_ms once it answers', async () => {
    const opened = await openPrimary();

    // Several probe rounds against the still-failing host: each is answered 503, the circuit stays OPEN.
    await waitUntil('three probes of the primary', () => (probes(primary).length >= 3 ? true : undefined));
    expect((await providerState(env.url, 'primary')).state).toBe('open');
    // The probe is a token-free GET /v1/models, authenticated like the provider's messages calls.
    for (const probe of probes(primary)) {
      expect(probe.path).toBe('/v1/models');
      expect(probe.apiKey).toBe(PROVIDER_KEY);
    }
    expect(messageRequests(primary)).toHaveLength(5);

    // The host recovers: the next probe round sees it.
    primary.script(undefined);
    const seenProbes = probes(primary).length;
    const halfOpen = await waitUntil('the probe job to move the primary to half_open', async () => {
      const state = await providerState(env.url, 'primary');
      return state.state === 'half_open' ? state : undefined;
    });
    expect(Date.now()).toBeLessThan(Date.parse(opened.retry_at!));
    expect(halfOpen.retry_at).toBeNull();
    expect(probes(primary).length).toBeGreaterThan(seenProbes);
    // The probe alone did not close it: only real traffic under test does.
    expect(messageRequests(primary)).toHaveLength(5);

    for (let i = 0; i < 3; i++) expect((await send(env.url)).provider).toBe('primary');
    expect((await providerState(env.url, 'primary')).state).toBe('closed');
    // A CLOSED circuit is never probed: the healthy secondary never was.
    expect(probes(secondary)).toHaveLength(0);
  });

  it('moves a provider without GET /v1/models (404 there) to HALF_OPEN once its host is back', async () => {
    await openPrimary();
    // z.ai-, MiniMax- or Ollama-style gateway: messages work again, the models route does not exist.
    primary.script((rec) => (rec.method === 'GET' ? { kind: 'status', status: 404 } : undefined));
    await waitUntil('the primary to turn half_open on a 404 probe', async () =>
      (await providerState(env.url, 'primary')).state === 'half_open' ? true : undefined,
    );
    for (let i = 0; i < 3; i++) expect((await send(env.url)).provider).toBe('primary');
    expect((await providerState(env.url, 'primary')).state).toBe('closed');
  });

  it('keeps a provider whose base URL redirects OPEN: a 3xx fails real traffic, so it fails the probe too', async () => {
    await openPrimary();
    primary.script(() => ({
      kind: 'status',
      status: 302,
      headers: { location: 'https://example.invalid/' },
    }));
    const seen = probes(primary).length;
    await waitUntil('three more probes of the primary', () =>
      probes(primary).length >= seen + 3 ? true : undefined,
    );
    expect((await providerState(env.url, 'primary')).state).toBe('open');
    // No flapping: no request was let through to be failed again.
    expect(messageRequests(primary)).toHaveLength(5);
  });

  it('leaves a force-opened circuit alone: the operator chose its duration', async () => {
    const forced = await adminAction(env.url, 'secondary', 'open', {
      duration_ms: 60_000,
      reason: 'drill',
    });
    expect(forced.status).toBe(200);
    await openPrimary();
    await waitUntil('three probes of the primary', () => (probes(primary).length >= 3 ? true : undefined));
    expect(probes(secondary)).toHaveLength(0);
    expect(await providerState(env.url, 'secondary')).toMatchObject({ state: 'open', forced: true });

    // Even once every probe would succeed, the drill stays open; the failure-opened primary does not.
    primary.script(undefined);
    await waitUntil('the primary to turn half_open', async () =>
      (await providerState(env.url, 'primary')).state === 'half_open' ? true : undefined,
    );
    expect(probes(secondary)).toHaveLength(0);
    expect(await providerState(env.url, 'secondary')).toMatchObject({ state: 'open', forced: true });
  });
});
