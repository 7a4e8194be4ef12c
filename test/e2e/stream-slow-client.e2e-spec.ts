import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSse } from '../fakes/sse-parse';
import { waitUntil } from '../support/wait-until';
import { post } from './support/http';
import { ask, startRoutingWorld, type RoutingWorld } from './support/routing-world';

// Issue 17.8: a client that reads a fast stream slowly but steadily is never cut, however long the relay waits on
// its back-pressure (the upstream's stall timeout is not the client's); one that reads nothing for
// client_stall_timeout_ms is let go with `event: error` (should it read again) and a warn line saying why. The
// stream is larger than the kernel's socket buffers on loopback (~4 MB), so the relay really does wait on the client.

const BIG_TEXT = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(170_000);
const BIG = { kind: 'sse' as const, text: BIG_TEXT, deltas: 6_000 };
const STALL_MS = 1_000;
const CLIENT_STALL_MS = 2_000;

interface ReadPlan {
  /** Bytes taken per read while reading slowly. */
  bytes: number;
  everyMs: number;
  /** Read slowly this long, then everything as fast as it comes. */
  slowForMs: number;
  /** Once this many bytes were read, read nothing for `pauseForMs` (Infinity: never read again). */
  pauseAfterBytes?: number;
  pauseForMs?: number;
}

/** Reads `body` as `plan` says; resolves with what was read once it ends (cleanly or not). */
function readAs(body: Readable, plan: ReadPlan): Promise<{ text: string; error?: unknown }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let total = 0;
    let pausedUntil = 0;
    let paused = false;
    let settled = false;
    const started = Date.now();
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      resolve({ text: Buffer.concat(parts).toString('utf8'), error });
    };
    body.pause();
    body.once('end', () => finish());
    body.once('error', (err) => finish(err));
    const timer = setInterval(() => {
      const now = Date.now();
      if (plan.pauseAfterBytes !== undefined && !paused && total >= plan.pauseAfterBytes) {
        paused = true;
        pausedUntil = now + (plan.pauseForMs ?? 0);
      }
      if (now < pausedUntil) return;
      if (now - started >= plan.slowForMs + (plan.pauseForMs ?? 0)) {
        clearInterval(timer);
        body.on('data', (chunk: Buffer) => parts.push(chunk));
        body.resume();
        return;
      }
      let got = 0;
      while (got < plan.bytes) {
        const chunk = body.read() as Buffer | null;
        if (!chunk) break;
        const take = Math.min(chunk.length, plan.bytes - got);
        if (take < chunk.length) body.unshift(chunk.subarray(take));
        parts.push(chunk.subarray(0, take));
        got += take;
      }
      total += got;
    }, plan.everyMs);
  });
}

/** How long the log lines may take to arrive (they leave in batches). */
const LOG_WAIT = { timeoutMs: 15_000, everyMs: 50 };

describe('a slow client of a fast stream', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  async function start(clientStallMs: number): Promise<RoutingWorld> {
    world = await startRoutingWorld([{ name: 'alpha' }], {
      routing: { stall_timeout_ms: STALL_MS, client_stall_timeout_ms: clientStallMs },
      logging: { level: 'info' },
    });
    world.fake('alpha').script(() => BIG);
    return world;
  }

  const parsed = (line: string) => JSON.parse(line) as Record<string, unknown>;
  const warnings = (w: RoutingWorld) => w.relay.logs.map(parsed).filter((l) => l.level === 40);
  const accessLine = (w: RoutingWorld) =>
    w.relay.logs.map(parsed).find((l) => l.msg === 'request' && l.route === '/v1/messages');

  it('gets the whole stream, ending in message_stop, while it keeps reading a few KB at a time', async () => {
    const w = await start(60_000);
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    expect(res.statusCode).toBe(200);
    // Slowly for four stall timeouts: the relay waits on this client far longer than the stall timeout at a time.
    const { text, error } = await readAs(res.body, {
      bytes: 4 * 1024,
      everyMs: 100,
      slowForMs: 4 * STALL_MS,
    });
    expect(error).toBeUndefined();
    const events = parseSse(text);
    expect(events.map((e) => e.event).at(-1)).toBe('message_stop');
    expect(events.map((e) => e.event)).not.toContain('error');
    const deltas = events.filter((e) => e.event === 'content_block_delta');
    expect(deltas.map((e) => (e.data as { delta: { text: string } }).delta.text).join('')).toBe(BIG_TEXT);
    expect(warnings(w)).toEqual([]);
    const access = await waitUntil('the access line', () => accessLine(w), LOG_WAIT);
    expect(access).toMatchObject({ status: 200, aborted: false });
    expect(access).not.toHaveProperty('stream_end');
  }, 60_000);

  it('ends the stream of a client that stops reading with event: error after whole events, and says why', async () => {
    const w = await start(CLIENT_STALL_MS);
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    const { text } = await readAs(res.body, {
      bytes: 4 * 1024,
      everyMs: 100,
      slowForMs: 0,
      pauseAfterBytes: 0,
      // Past the client's timeout, and back before the relay gives up on it (another timeout later).
      pauseForMs: 1.6 * CLIENT_STALL_MS,
    });
    const events = parseSse(text);
    // Every event whole (no data cut mid-JSON), the error event last, the answer not complete.
    for (const e of events) expect(typeof e.data).toBe('object');
    expect(events.map((e) => e.event)).not.toContain('message_stop');
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { error: { type: 'timeout_error' } } });
    const warn = await waitUntil('the warn line', () => warnings(w).at(0), LOG_WAIT);
    expect(warn).toMatchObject({
      msg: 'stream ended: the client stopped reading',
      provider: 'alpha',
      stream_end: 'client_stalled',
    });
    expect(warn.reason).toMatch(/^the client read nothing for \d+ ms$/);
    expect(warn.bytes).toBeGreaterThan(0);
    const access = await waitUntil('the access line', () => accessLine(w), LOG_WAIT);
    expect(access).toMatchObject({ status: 200, aborted: true, stream_end: 'client_stalled' });
  }, 60_000);

  it('disconnects a client that never reads again, with a warn line and an access line that say so', async () => {
    const w = await start(CLIENT_STALL_MS);
    const res = await post(w.relay.url, '/v1/messages', { ...ask(), stream: true });
    res.body.pause();
    const warn = await waitUntil('the warn line', () => warnings(w).at(0), LOG_WAIT);
    expect(warn).toMatchObject({ provider: 'alpha', stream_end: 'client_stalled' });
    // The relay lets go of the socket too: its access line is written when the response closes.
    const access = await waitUntil('the access line', () => accessLine(w), LOG_WAIT);
    expect(access).toMatchObject({ status: 200, aborted: true, stream_end: 'client_stalled' });
    res.body.destroy();
  }, 60_000);
});
