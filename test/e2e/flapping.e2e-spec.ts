import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../src/health/breaker-registry';
import type { BreakerTransition } from '../../src/health/circuit-breaker';
import { FakeUpstream } from '../fakes/fake-upstream';
import {
  messageRequests,
  providerState,
  send,
  twoProviderConfig,
  type Served,
} from './support/breaker-relay';
import { startRelay, type RunningRelay } from './support/relay-harness';

// Issue 4, the flapping test: the primary answers 503 for its first ~2 s and is healthy afterwards, while requests
// arrive steadily. Every request is served, the failing primary sees at most half_open_probes requests per open
// interval, and traffic is back on the primary within open_duration_ms plus one probe interval of its recovery.
// Everything is asserted from what the fakes recorded (receivedAt, which fake served what) and the breaker's own
// transitions, never from how long a request took.

const OPEN_MS = 1_000;
const INTERVAL_MS = 500;
const PROBES = 3;
const OUTAGE_MS = 2_000;
const EVERY_MS = 50;
const RUN_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('flapping primary', () => {
  const primary = new FakeUpstream();
  const secondary = new FakeUpstream();
  let relay: RunningRelay;
  const transitions: BreakerTransition[] = [];

  beforeAll(async () => {
    await primary.start();
    await secondary.start();
    relay = await startRelay(
      twoProviderConfig(primary, secondary, {
        health: {
          health_check: { enabled: true, interval_ms: INTERVAL_MS, timeout_ms: 1_000 },
          circuit_breaker: { failure_threshold: 5, open_duration_ms: OPEN_MS, half_open_probes: PROBES },
        },
      }),
    );
    relay.app.get(BreakerRegistry).onTransition((name, t) => {
      if (name === 'primary') transitions.push(t);
    });
  });
  afterAll(async () => {
    await relay.close();
    await primary.close();
    await secondary.close();
  });

  it('serves every request, probes the failing primary sparingly, and returns to it after recovery', async () => {
    const startedAt = Date.now();
    const recoverAt = startedAt + OUTAGE_MS;
    // The whole host is down until recoverAt: messages and health probes alike.
    primary.script(() => (Date.now() < recoverAt ? { kind: 'status', status: 503 } : undefined));

    const answers: Array<Promise<Served & { sentAt: number }>> = [];
    while (Date.now() - startedAt < RUN_MS) {
      const sentAt = Date.now();
      answers.push(send(relay.url).then((a) => ({ ...a, sentAt })));
      await sleep(EVERY_MS);
    }
    const served = await Promise.all(answers);

    // 1. Every request is served; during the outage by the secondary.
    expect(served.filter((a) => a.status !== 200)).toEqual([]);
    // (A request sent just before the recovery may retry on the recovered primary after its backoff.)
    const duringOutage = served.filter((a) => a.sentAt < recoverAt - 500);
    expect(duringOutage.length).toBeGreaterThanOrEqual(5);
    expect(duringOutage.every((a) => a.provider === 'secondary')).toBe(true);

    // 2. While failing, the primary sees at most half_open_probes requests per open interval. The breaker admits
    // nothing while OPEN, and a request it admits in HALF_OPEN reaches the fake after that HALF_OPEN began and
    // before the next one (a whole open interval lies between them); so the failed requests are counted from each
    // opening of the circuit to the next HALF_OPEN and then per HALF_OPEN period. The first window only holds
    // requests admitted while still CLOSED and in transit when the circuit opened.
    const failed = messageRequests(primary).filter((r) => r.scenario?.kind === 'status');
    const firstOpen = transitions.find((t) => t.to === 'open');
    expect(firstOpen).toBeDefined();
    const halfOpens = transitions.filter((t) => t.to === 'half_open').map((t) => t.at);
    // The outage outlasts one open interval, so the circuit was tested and reopened at least once.
    expect(transitions.some((t) => t.from === 'half_open' && t.to === 'open')).toBe(true);
    const windowStarts = [firstOpen!.at, ...halfOpens];
    for (let i = 0; i < windowStarts.length; i++) {
      const from = windowStarts[i]!;
      const to = windowStarts[i + 1] ?? Infinity;
      const inWindow = failed.filter((r) => r.receivedAt >= from && r.receivedAt < to);
      expect(inWindow.length, `failed primary requests from ${from - startedAt} ms`).toBeLessThanOrEqual(
        PROBES,
      );
    }

    // 3. Traffic returns to the primary within open_duration_ms plus one probe interval of its recovery.
    const servedByPrimary = messageRequests(primary).filter((r) => r.scenario?.kind !== 'status');
    const firstBack = servedByPrimary[0];
    expect(firstBack).toBeDefined();
    expect(firstBack!.receivedAt).toBeGreaterThanOrEqual(recoverAt);
    expect(firstBack!.receivedAt - recoverAt).toBeLessThanOrEqual(OPEN_MS + INTERVAL_MS);
    // ...and stays there: the circuit closed, and the last second of traffic all went to the primary.
    expect(transitions.at(-1)).toMatchObject({ from: 'half_open', to: 'closed' });
    expect((await providerState(relay.url, 'primary')).state).toBe('closed');
    const lastSecond = served.filter((a) => a.sentAt >= startedAt + RUN_MS - 1_000);
    expect(lastSecond.length).toBeGreaterThan(0);
    expect(lastSecond.every((a) => a.provider === 'primary')).toBe(true);
  });
});
