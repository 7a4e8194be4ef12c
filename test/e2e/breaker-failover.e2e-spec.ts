import { describe, expect, it } from 'vitest';

import type { Scenario } from '../fakes/fake-scenario';
import { request } from 'undici';
import { MINIMAL } from './support/http';
import {
  adminAction,
  messageRequests,
  providerState,
  providerStates,
  send,
  useTwoProviderRelay,
} from './support/breaker-relay';
import { CLIENT_KEY } from './support/relay-harness';

// Spec: health-and-circuit-breaker.md, "장애 카운팅" and "CLOSED에서 OPEN으로" (issue 4, first e2e bullets).

describe('breaker: one attempt per request, so every upstream answer is one breaker outcome', () => {
  const env = useTwoProviderRelay({
    routing: { retry: { max_attempts: 1 } },
    health: { circuit_breaker: { failure_threshold: 5, open_duration_ms: 60_000, half_open_probes: 3 } },
  });
  const { primary, secondary } = env;

  it('5 consecutive 503s open the primary circuit, then traffic goes to the secondary', async () => {
    primary.script(() => ({ kind: 'status', status: 503 }));

    for (let i = 1; i <= 4; i++) {
      const answer = await send(env.url);
      // One attempt allowed: the client sees the primary's 503 itself.
      expect(answer.status).toBe(503);
      expect(answer.provider).toBe('primary');
      expect(await providerState(env.url, 'primary')).toMatchObject({
        state: 'closed',
        consecutive_failures: i,
      });
    }
    expect((await send(env.url)).status).toBe(503);
    const opened = await providerState(env.url, 'primary');
    expect(opened).toMatchObject({ state: 'open', consecutive_failures: 5, forced: false });
    expect(opened.last_error).toMatchObject({ status: 503 });
    expect(Date.parse(opened.retry_at!) - Date.parse(opened.opened_at!)).toBe(60_000);

    for (let i = 0; i < 3; i++) {
      const answer = await send(env.url);
      expect(answer.status).toBe(200);
      expect(answer.provider).toBe('secondary');
    }
    expect(messageRequests(primary)).toHaveLength(5);
    expect(messageRequests(secondary)).toHaveLength(3);
    expect((await providerStates(env.url)).secondary?.state).toBe('closed');
  });

  it('counts 500, 502, 504, 529 and connection resets as failures too', async () => {
    const failures: Scenario[] = [
      { kind: 'status', status: 500 },
      { kind: 'status', status: 502 },
      { kind: 'status', status: 504 },
      { kind: 'status', status: 529 },
      { kind: 'reset' },
    ];
    primary.script((_req, call) => failures[call]);
    for (const _ of failures) {
      const answer = await send(env.url);
      expect(answer.status).toBeGreaterThanOrEqual(500);
    }
    expect(await providerState(env.url, 'primary')).toMatchObject({
      state: 'open',
      consecutive_failures: 5,
    });
    expect((await send(env.url)).provider).toBe('secondary');
    expect(messageRequests(primary)).toHaveLength(5);
  });

  // A 401 to the relay's own key is not the client's error: the key is taken out of rotation and the request moves
  // on (routing-keys.e2e-spec.ts), never a breaker failure either (outcome.spec.ts).
  it('never opens on 400, 403 or 404: each is passed to the client and the primary keeps the traffic', async () => {
    const clientErrors = [400, 403, 404];
    primary.script((_req, call) => ({ kind: 'status', status: clientErrors[call % clientErrors.length]! }));
    const lastErrorBefore = (await providerState(env.url, 'primary')).last_error;

    for (let i = 0; i < 12; i++) {
      const answer = await send(env.url);
      expect(answer.status).toBe(clientErrors[i % clientErrors.length]);
      expect(answer.provider).toBe('primary');
    }
    expect(await providerState(env.url, 'primary')).toMatchObject({
      state: 'closed',
      consecutive_failures: 0,
    });
    // A client error is not the provider's: it is not even kept as the provider's last error.
    expect((await providerState(env.url, 'primary')).last_error).toEqual(lastErrorBefore);
    expect(messageRequests(primary)).toHaveLength(12);
    expect(messageRequests(secondary)).toHaveLength(0);
  });

  it('a success between failures resets the count, so 4 + 4 failures do not open it', async () => {
    const script: Scenario[] = [
      ...Array<Scenario>(4).fill({ kind: 'status', status: 503 }),
      { kind: 'json' },
      ...Array<Scenario>(4).fill({ kind: 'status', status: 503 }),
    ];
    primary.script((_req, call) => script[call]);
    const statuses: number[] = [];
    for (const _ of script) statuses.push((await send(env.url)).status);
    expect(statuses).toEqual([503, 503, 503, 503, 200, 503, 503, 503, 503]);
    expect(await providerState(env.url, 'primary')).toMatchObject({
      state: 'closed',
      consecutive_failures: 4,
    });
    expect((await send(env.url)).provider).toBe('primary');
  });

  it('admin reset closes an opened circuit at once, and force-open moves traffic off a healthy primary', async () => {
    primary.script(() => ({ kind: 'status', status: 503 }));
    for (let i = 0; i < 5; i++) await send(env.url);
    expect((await providerState(env.url, 'primary')).state).toBe('open');
    primary.script(undefined);

    const reset = await adminAction(env.url, 'primary', 'reset');
    expect(reset).toMatchObject({ status: 200, body: { state: 'closed', consecutive_failures: 0 } });
    expect((await send(env.url)).provider).toBe('primary');

    const forced = await adminAction(env.url, 'primary', 'open', { duration_ms: 60_000, reason: 'drill' });
    expect(forced).toMatchObject({ status: 200, body: { state: 'open', forced: true } });
    for (let i = 0; i < 3; i++)
      expect(await send(env.url)).toMatchObject({ status: 200, provider: 'secondary' });
    await adminAction(env.url, 'primary', 'reset');
    expect((await send(env.url)).provider).toBe('primary');
    expect(messageRequests(primary)).toHaveLength(7);
    expect(messageRequests(secondary)).toHaveLength(3);
  });

  it('does not count requests the client cancelled', async () => {
    primary.script(() => ({ kind: 'hang' }));
    for (let i = 0; i < 6; i++) {
      const controller = new AbortController();
      const pending = request(`${env.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
        body: JSON.stringify(MINIMAL),
        signal: controller.signal,
      });
      await primary.waitForRequests(i + 1);
      controller.abort();
      await expect(pending).rejects.toThrow();
      // The relay passes the client's departure on to the upstream.
      await primary.waitForAbort(i);
    }
    expect(await providerState(env.url, 'primary')).toMatchObject({
      state: 'closed',
      consecutive_failures: 0,
    });
    primary.script(undefined);
    expect((await send(env.url)).provider).toBe('primary');
  });
});

describe('breaker: with retries, clients never see the failing primary', () => {
  const env = useTwoProviderRelay({
    // Failovers draw on the retry budget too (a floor of 10 per 10 s on a quiet relay); a roomy budget keeps this
    // test about the breaker.
    routing: { retry: { max_attempts: 3, base_delay_ms: 1, max_delay_ms: 5, budget_ratio: 10 } },
    health: { circuit_breaker: { failure_threshold: 5, open_duration_ms: 60_000 } },
  });
  const { primary, secondary } = env;

  it('every request is answered by the secondary, and the primary stops getting any once 5 failed', async () => {
    primary.script(() => ({ kind: 'status', status: 503 }));
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await send(env.url));
    expect(answers.map((a) => [a.status, a.provider])).toEqual(Array(8).fill([200, 'secondary']));
    // Two attempts per request on the primary (one retry, then failover) until the fifth failure opens it.
    expect(messageRequests(primary)).toHaveLength(5);
    expect(messageRequests(secondary)).toHaveLength(8);
    expect(await providerState(env.url, 'primary')).toMatchObject({ state: 'open' });
  });
});
