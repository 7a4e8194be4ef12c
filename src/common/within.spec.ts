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
});
