import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { waitUntil } from './support/breaker-relay';
import { MINIMAL } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY } from './support/relay-harness';
import { spawnRelay, type RelayProcess } from './support/relay-process';
import { connectionRefused, openStream, streamedText } from './support/sse-client';

// Issue 4, "Graceful drain", with a real SIGTERM to the relay's own process: readiness 503 at once, new
// connections refused after delay_ms, in-flight streams finish within grace_ms, a stream still open when grace_ms
// runs out ends with `event: error` before the process exits (with code 0).

const SHORT_TEXT = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho';
const LONG_TEXT = `${SHORT_TEXT} sigma tau upsilon phi chi psi omega ${SHORT_TEXT}`;

/** The relay as its own process, one provider at `upstream`, with these shutdown settings. */
function spawnDrainingRelay(
  upstream: string,
  shutdown: { delay_ms: number; grace_ms: number },
): Promise<RelayProcess> {
  return spawnRelay({
    server: { listen: '127.0.0.1:0', auth: { api_keys: [CLIENT_KEY] }, shutdown },
    providers: [{ name: 'primary', type: 'anthropic', base_url: upstream, keys: [{ key: PROVIDER_KEY }] }],
    health: { health_check: { enabled: false } },
    cache: { mode: 'disabled' },
    logging: { level: 'info', format: 'json' },
  });
}

async function readyStatus(base: string): Promise<number | 'refused'> {
  try {
    const res = await fetch(`${base}/health/ready`);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'refused';
  }
}

describe('graceful drain on SIGTERM (real process)', () => {
  const fake = new FakeUpstream();
  let relay: RelayProcess;

  beforeAll(async () => {
    const upstream = await fake.start();
    relay = await spawnDrainingRelay(upstream, { delay_ms: 500, grace_ms: 2_500 });
    await waitUntil('the relay to be ready', async () =>
      (await readyStatus(relay.url)) === 200 ? true : undefined,
    );
  });
  afterAll(async () => {
    await relay.cleanup();
    await fake.close();
  });

  it('drains: ready 503, listener closed after delay_ms, short stream completes, long stream gets event: error, exit 0', async () => {
    // max_tokens tells the fake which stream is which: 1 outlasts the grace period, 2 ends well inside it.
    fake.script((req) =>
      (req.body as { max_tokens?: number }).max_tokens === 1
        ? { kind: 'sse', text: LONG_TEXT, deltas: 40, delayMs: 150 }
        : { kind: 'sse', text: SHORT_TEXT, deltas: 12, delayMs: 150 },
    );
    const long = await openStream(relay.url, { ...MINIMAL, max_tokens: 1 });
    const short = await openStream(relay.url, { ...MINIMAL, max_tokens: 2 });
    expect([long.status, short.status]).toEqual([200, 200]);
    await Promise.all([long.waitForEvent('content_block_delta'), short.waitForEvent('content_block_delta')]);

    expect(relay.child.kill('SIGTERM')).toBe(true);

    // Readiness turns 503 while the listener still accepts (delay_ms): the first answer after the signal that
    // is not 200 is a 503, never a refused connection.
    const firstNot200 = await waitUntil('readiness to change', async () => {
      const status = await readyStatus(relay.url);
      return status === 200 ? undefined : status;
    });
    expect(firstNot200).toBe(503);

    // After delay_ms new connections are refused, while both streams are still being served.
    await waitUntil('the listener to refuse new connections', async () =>
      (await connectionRefused(relay.port)) ? true : undefined,
    );
    expect(short.ended).toBe(false);
    expect(long.ended).toBe(false);

    const shortEvents = await short.done;
    expect(shortEvents.at(-1)?.event).toBe('message_stop');
    expect(streamedText(shortEvents)).toBe(SHORT_TEXT);

    const longEvents = await long.done;
    const last = longEvents.at(-1);
    expect(last?.event).toBe('error');
    expect(last?.data).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(longEvents.some((e) => e.event === 'message_stop')).toBe(false);
    // What the long stream did get is an unbroken prefix of the answer.
    expect(LONG_TEXT.startsWith(streamedText(longEvents))).toBe(true);

    expect(await relay.exited).toEqual({ code: 0, signal: null });
    const upstreamLong = fake.requests.find((r) => (r.body as { max_tokens?: number }).max_tokens === 1);
    expect(upstreamLong?.aborted).toBe(true);
    const logs = relay.lines.join('\n');
    expect(logs).toContain('SIGTERM: draining');
    expect(logs).toContain('grace period over: ended 1 open request(s) with an error');
    expect(logs).toContain('drained');
  });
});

describe('a second signal during the drain (real process)', () => {
  const fake = new FakeUpstream();
  let relay: RelayProcess;

  beforeAll(async () => {
    const upstream = await fake.start();
    relay = await spawnDrainingRelay(upstream, { delay_ms: 0, grace_ms: 20_000 });
  });
  afterAll(async () => {
    await relay.cleanup();
    await fake.close();
  });

  it('exits at once, still ending open streams with event: error and saying so in the log', async () => {
    fake.script(() => ({ kind: 'sse', text: LONG_TEXT, deltas: 40, delayMs: 200 }));
    const stream = await openStream(relay.url, MINIMAL);
    await stream.waitForEvent('content_block_delta');

    relay.child.kill('SIGTERM');
    await waitUntil('the drain to start', async () =>
      relay.lines.some((l) => l.includes('SIGTERM: draining')) ? true : undefined,
    );
    const secondAt = Date.now();
    relay.child.kill('SIGTERM');

    const events = await stream.done;
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { error: { type: 'overloaded_error' } } });
    expect(await relay.exited).toEqual({ code: 1, signal: null });
    // Long before the 20 s grace period.
    expect(Date.now() - secondAt).toBeLessThan(5_000);
    expect(relay.lines.join('\n')).toContain('second signal: exiting now');
  });
});
