import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { within } from './within';

/** fn's result (or its throw, as a rejection) after ms. */
const later = <T>(ms: number, fn: () => T): Promise<T> =>
  new Promise((resolve) => setTimeout(resolve, ms)).then(fn);

describe('within', () => {
  it('gives the value or the error of an operation that settles in time', async () => {
    await expect(within(Promise.resolve(7), 1_000)).resolves.toEqual({ ok: true, value: 7 });
    const boom = new Error('boom');
    await expect(within(Promise.reject(boom), 1_000)).resolves.toEqual({
      ok: false,
      timedOut: false,
      error: boom,
    });
  });

  it('says "timed out" once the timer fires, and hands a later failure to onLateFailure, not to the process', async () => {
    const late: unknown[] = [];
    const outcome = await within(
      later(60, () => {
        throw new Error('too late');
      }),
      10,
      (err) => late.push(err),
    );
    expect(outcome).toEqual({ ok: false, timedOut: true });
    await later(80, () => undefined);
    expect(late).toHaveLength(1);
    expect((late[0] as Error).message).toBe('too late');
  });

  it('ignores a value that arrives after the timeout', async () => {
    await expect(
      within(
        later(50, () => 'slow'),
        5,
      ),
    ).resolves.toEqual({ ok: false, timedOut: true });
  });

  // A Redis reply that came in while the event loop was blocked (a GC pause, a busy machine) is in the socket when
  // the late timer fires: it is the answer, not a timeout. The echo server is another process, as Redis is, so the
  // reply comes back while this one is blocked and waits in the kernel.
  it('takes a reply that arrived while the event loop was blocked past the timeout', async () => {
    const echo = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer((c) => c.on('data', (d) => c.write(d)));
         s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(echo.stdout, 'data')) as [Buffer];
      const client = connect(Number(line.toString().trim()), '127.0.0.1');
      await once(client, 'connect');
      const reply = new Promise<string>((resolve) => client.once('data', (data) => resolve(data.toString())));
      const outcome = within(reply, 20);
      client.write('pong');
      const blockedUntil = Date.now() + 200; // the echo comes back within this block; the timer is due during it
      while (Date.now() < blockedUntil) {
        // blocked
      }
      await expect(outcome).resolves.toEqual({ ok: true, value: 'pong' });
      client.destroy();
    } finally {
      echo.kill();
    }
  });
});
