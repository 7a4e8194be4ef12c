import { describe, expect, it } from 'vitest';
import { JumpClock } from '../fakes/fake-clock';

import {
  messageRequests,
  providerState,
  send,
  useTwoProviderRelay,
  waitUntil,
} from './support/breaker-relay';

// Spec: health-and-circuit-breaker.md, "OPEN에서 HALF-OPEN으로", "HALF-OPEN에서 CLOSED로", "HALF-OPEN에서 OPEN으로".

const OPEN_MS = 600;
const PROBES = 3;

describe('breaker: HALF_OPEN after open_duration_ms', () => {
  // The relay's clock: each test moves it past the open interval instead of waiting it out.
  const clock = new JumpClock();
  const env = useTwoProviderRelay(
    {
      routing: { retry: { max_attempts: 1 } },
      // The probe job stays off (the harness default): here only the open timer may move the circuit.
      health: {
        circuit_breaker: { failure_threshold: 5, open_duration_ms: OPEN_MS, half_open_probes: PROBES },
      },
    },
    { clock },
  );
  const { primary, secondary } = env;

  /** Opens the primary's circuit with 5 answered 503s and waits until its open timer has run out. */
  async function openThenWaitForHalfOpen(): Promise<void> {
    primary.script(() => ({ kind: 'status', status: 503 }));
    for (let i = 0; i < 5; i++) await send(env.url);
    expect((await providerState(env.url, 'primary')).state).toBe('open');
    clock.advance(OPEN_MS);
    await waitUntil('the primary circuit to turn half_open', async () => {
      const state = await providerState(env.url, 'primary');
      return state.state === 'half_open' ? state : undefined;
    });
    primary.reset();
    secondary.reset();
  }

  it(`admits at most ${PROBES} requests to the provider under test, and ${PROBES} successes close it`, async () => {
    await openThenWaitForHalfOpen();
    // The recovered primary answers slowly, so its test requests are all still open while the rest arrive.
    primary.script(() => ({ kind: 'json', headersDelayMs: 1_000 }));

    const burst = Array.from({ length: 8 }, () => send(env.url));
    await primary.waitForRequests(PROBES);
    await secondary.waitForRequests(8 - PROBES);
    expect(await providerState(env.url, 'primary')).toMatchObject({
      state: 'half_open',
      half_open_in_flight: PROBES,
    });

    const answers = await Promise.all(burst);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.provider === 'primary')).toHaveLength(PROBES);
    expect(answers.filter((a) => a.provider === 'secondary')).toHaveLength(8 - PROBES);
    expect(messageRequests(primary)).toHaveLength(PROBES);

    expect(await providerState(env.url, 'primary')).toMatchObject({
      state: 'closed',
      consecutive_failures: 0,
      half_open_in_flight: 0,
      opened_at: null,
      retry_at: null,
    });
    // CLOSED again: the primary has all the traffic back.
    primary.script(undefined);
    for (let i = 0; i < 4; i++) expect((await send(env.url)).provider).toBe('primary');
    expect(messageRequests(secondary)).toHaveLength(8 - PROBES);
  });

  it('sequential successes close it after exactly half_open_probes requests', async () => {
    await openThenWaitForHalfOpen();
    primary.script(undefined);
    for (let i = 1; i < PROBES; i++) {
      expect((await send(env.url)).provider).toBe('primary');
      expect((await providerState(env.url, 'primary')).state).toBe('half_open');
    }
    expect((await send(env.url)).provider).toBe('primary');
    expect((await providerState(env.url, 'primary')).state).toBe('closed');
  });

  it('a failed test request reopens the circuit and restarts the open timer', async () => {
    await openThenWaitForHalfOpen();
    const before = Date.now();
    // First test request succeeds, the second fails: one failure is enough in HALF_OPEN.
    primary.script((_req, call) => (call === 0 ? { kind: 'json' } : { kind: 'status', status: 503 }));
    expect(await send(env.url)).toMatchObject({ status: 200, provider: 'primary' });
    expect(await send(env.url)).toMatchObject({ status: 503, provider: 'primary' });

    const reopened = await providerState(env.url, 'primary');
    expect(reopened.state).toBe('open');
    expect(Date.parse(reopened.opened_at!)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(reopened.retry_at!) - Date.parse(reopened.opened_at!)).toBe(OPEN_MS);

    for (let i = 0; i < 3; i++) expect((await send(env.url)).provider).toBe('secondary');
    expect(messageRequests(primary)).toHaveLength(2);

    // And the next open interval ends in HALF_OPEN again.
    clock.advance(OPEN_MS);
    await waitUntil('the reopened circuit to turn half_open', async () =>
      (await providerState(env.url, 'primary')).state === 'half_open' ? true : undefined,
    );
  });

  it('logs each change of state an operator did not ask for: OPEN (with the last error), HALF_OPEN, OPEN again, CLOSED', async () => {
    const from = env.relay.logs.length;
    await openThenWaitForHalfOpen();
    primary.script((_req, call) => (call === 0 ? { kind: 'status', status: 503 } : { kind: 'json' }));
    await send(env.url);
    clock.advance(OPEN_MS);
    await waitUntil('the reopened circuit to turn half_open', async () =>
      (await providerState(env.url, 'primary')).state === 'half_open' ? true : undefined,
    );
    for (let i = 0; i < PROBES; i++) await send(env.url);
    expect((await providerState(env.url, 'primary')).state).toBe('closed');

    const lines = env.relay.logs
      .slice(from)
      .map((l) => JSON.parse(l) as { level: number; context?: string; msg: string })
      .filter((l) => l.context === 'Breaker');
    expect(lines.map((l) => [l.level, l.msg.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, '<t>')])).toEqual([
      [
        40,
        'provider primary circuit OPEN after 5 consecutive failures: routing skips it; last error: 503 upstream error; half-open at <t>',
      ],
      [30, `provider primary circuit HALF_OPEN: admitting ${PROBES} probe request(s)`],
      [
        40,
        'provider primary circuit OPEN again: a half-open probe request failed; last error: 503 upstream error; half-open at <t>',
      ],
      [30, `provider primary circuit HALF_OPEN: admitting ${PROBES} probe request(s)`],
      [30, `provider primary circuit CLOSED: ${PROBES} probe request(s) succeeded`],
    ]);
  });
});
