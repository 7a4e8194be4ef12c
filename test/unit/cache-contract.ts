import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CacheClosedError, CacheNotFoundError, can, type Cache } from '../../src/cache/cache';

/** How a backend is expected to behave under {@link describeCacheContract}. */
export interface CacheContractOptions {
  /** false for a backend that keeps nothing (`disabled`): every read must then miss. Default true. */
  stores: boolean;
  /** Extra slack, in ms, when waiting for a TTL to pass (backends whose expiry is coarser than a millisecond). */
  ttlPrecisionMs?: number;
}

/** Short TTL for the expiry tests: long enough to read the value back first, short enough to wait for. */
const SHORT_TTL_MS = 200;
/** Margin on top of the TTL before the entry must be gone (event-loop and network jitter). */
const EXPIRY_MARGIN_MS = 100;

/**
 * The one behavioural contract every `Cache` backend must pass (single, ha, disabled), after
 * ../shared/spec/caching.md. Backend-agnostic: it talks only through the Cache interface and the optional
 * interfaces it detects (stats, batch get / set, flush); tests of an interface the backend lacks are skipped.
 * Keys are namespaced per test, but flush() is exercised, so `make` should return a cache isolated from other
 * tests (for Redis: a key prefix of its own). Real time is awaited only for TTL expiry.
 */
export function describeCacheContract(
  name: string,
  make: () => Promise<Cache> | Cache,
  opts: CacheContractOptions = { stores: true },
): void {
  const { stores } = opts;
  const expiryWaitMs = SHORT_TTL_MS + (opts.ttlPrecisionMs ?? 0) + EXPIRY_MARGIN_MS;

  describe(`Cache contract: ${name}`, () => {
    let cache: Cache;
    let closedByTest: boolean;
    let namespace: string;
    const key = (suffix: string): string => `contract:${namespace}:${suffix}`;

    beforeEach(async () => {
      cache = await make();
      closedByTest = false;
      namespace = randomUUID();
    });

    afterEach(async () => {
      if (!closedByTest) await cache.close();
    });

    async function expectMiss(k: string): Promise<void> {
      await expect(cache.get(k)).rejects.toBeInstanceOf(CacheNotFoundError);
    }

    it('a get of a key never written rejects with CacheNotFoundError', async () => {
      await expectMiss(key('never-written'));
      expect(await cache.exists(key('never-written'))).toBe(false);
    });

    it(
      stores
        ? 'returns exactly the bytes that were set, binary included'
        : 'stores nothing: a set value still misses',
      async () => {
        const allByteValues = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x00, 0xed, 0xa0, 0x80]);
        const large = randomBytes(64 * 1024);
        const values = new Map<string, Buffer>([
          [key('all-bytes'), allByteValues],
          [key('invalid-utf8'), invalidUtf8],
          [key('large'), large],
          [key('empty'), Buffer.alloc(0)],
          [key('ключ with spaces:and:colons/✓'), Buffer.from('unicode key')],
        ]);
        for (const [k, v] of values) await cache.set(k, v);
        for (const [k, v] of values) {
          if (stores) {
            const got = await cache.get(k);
            expect(Buffer.isBuffer(got)).toBe(true);
            expect(got.equals(v)).toBe(true);
          } else {
            await expectMiss(k);
          }
        }
      },
    );

    // Only for a backend that stores: registering them elsewhere would only show up as skipped tests.
    if (stores) {
      it('a caller mutating its buffers afterwards does not change what is cached', async () => {
        const input = Buffer.from('original');
        await cache.set(key('k'), input);
        input.fill(0x21);
        const first = await cache.get(key('k'));
        first.fill(0x3f);
        expect((await cache.get(key('k'))).toString()).toBe('original');
      });

      it('an overwrite replaces the value', async () => {
        await cache.set(key('k'), Buffer.from('one'));
        await cache.set(key('k'), Buffer.from('two, longer than one'));
        expect((await cache.get(key('k'))).toString()).toBe('two, longer than one');
      });
    }

    it('exists reports written keys and delete removes them', async () => {
      await cache.set(key('k'), Buffer.from('v'));
      expect(await cache.exists(key('k'))).toBe(stores);
      await cache.delete(key('k'));
      expect(await cache.exists(key('k'))).toBe(false);
      await expectMiss(key('k'));
      // Deleting what is not there is not an error.
      await expect(cache.delete(key('absent'))).resolves.toBeUndefined();
    });

    it(
      stores ? 'setWithTTL entries expire; set() entries outlive a short TTL' : 'setWithTTL stores nothing',
      async () => {
        await cache.setWithTTL(key('short'), Buffer.from('short-lived'), SHORT_TTL_MS);
        await cache.setWithTTL(key('long'), Buffer.from('long-lived'), 60_000);
        await cache.set(key('default'), Buffer.from('default ttl'));
        if (!stores) {
          await expectMiss(key('short'));
          return;
        }
        expect((await cache.get(key('short'))).toString()).toBe('short-lived');
        await sleep(expiryWaitMs);
        await expectMiss(key('short'));
        expect(await cache.exists(key('short'))).toBe(false);
        expect((await cache.get(key('long'))).toString()).toBe('long-lived');
        expect((await cache.get(key('default'))).toString()).toBe('default ttl');
      },
    );

    it('after close() every call rejects with CacheClosedError', async () => {
      await cache.set(key('k'), Buffer.from('v'));
      await cache.close();
      closedByTest = true;
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['get', () => cache.get(key('k'))],
        ['set', () => cache.set(key('k'), Buffer.from('v'))],
        ['setWithTTL', () => cache.setWithTTL(key('k'), Buffer.from('v'), 1000)],
        ['delete', () => cache.delete(key('k'))],
        ['exists', () => cache.exists(key('k'))],
      ];
      const c = cache;
      if (can(c, 'getMulti')) calls.push(['getMulti', () => c.getMulti([key('k')])]);
      if (can(c, 'setMultiWithTTL')) {
        calls.push([
          'setMultiWithTTL',
          () => c.setMultiWithTTL(new Map([[key('k'), Buffer.from('v')]]), 1000),
        ]);
      }
      if (can(c, 'flush')) calls.push(['flush', () => c.flush()]);
      // find() may answer synchronously: a throw counts like a rejection.
      if (can(c, 'find')) calls.push(['find', () => Promise.resolve().then(() => c.find(key('k')))]);
      for (const [op, call] of calls) {
        await expect(call(), op).rejects.toBeInstanceOf(CacheClosedError);
      }
      // A second close() may be a no-op or say "closed", but nothing else.
      await cache.close().catch((err: unknown) => expect(err).toBeInstanceOf(CacheClosedError));
    });

    it('stats count hits and misses', async (ctx) => {
      if (!can(cache, 'stats')) return ctx.skip();
      const before = cache.stats();
      await expectMiss(key('absent'));
      await cache.set(key('k'), Buffer.from('v'));
      if (stores) await cache.get(key('k'));
      const after = cache.stats();
      expect(after.misses - before.misses).toBe(1);
      expect(after.hits - before.hits).toBe(stores ? 1 : 0);
      for (const field of ['hits', 'misses', 'key_count', 'bytes_used', 'evictions'] as const) {
        expect(Number.isFinite(after[field]) && after[field] >= 0, field).toBe(true);
      }
    });

    it('find answers a miss with undefined instead of rejecting, a hit with the bytes, counted like get', async (ctx) => {
      if (!can(cache, 'find')) return ctx.skip();
      const before = can(cache, 'stats') ? cache.stats() : undefined;
      expect(await cache.find(key('absent'))).toBeUndefined();
      await cache.set(key('k'), Buffer.from([1, 2, 255]));
      const got = await cache.find(key('k'));
      if (stores) {
        expect(got?.equals(Buffer.from([1, 2, 255]))).toBe(true);
        got!.fill(0); // a copy, as get's
        expect((await cache.find(key('k')))?.equals(Buffer.from([1, 2, 255]))).toBe(true);
      } else {
        expect(got).toBeUndefined();
      }
      if (before && can(cache, 'stats')) {
        const after = cache.stats();
        expect(after.misses - before.misses).toBe(stores ? 1 : 2);
        expect(after.hits - before.hits).toBe(stores ? 2 : 0);
      }
    });

    it('getMulti answers every key, undefined for misses', async (ctx) => {
      if (!can(cache, 'getMulti')) return ctx.skip();
      await cache.set(key('a'), Buffer.from('A'));
      await cache.set(key('b'), Buffer.from([0, 255]));
      const found = await cache.getMulti([key('a'), key('missing'), key('b')]);
      expect([...found.keys()].sort()).toEqual([key('a'), key('b'), key('missing')].sort());
      expect(found.get(key('missing'))).toBeUndefined();
      if (stores) {
        expect(found.get(key('a'))?.toString()).toBe('A');
        expect(found.get(key('b'))?.equals(Buffer.from([0, 255]))).toBe(true);
      } else {
        expect(found.get(key('a'))).toBeUndefined();
        expect(found.get(key('b'))).toBeUndefined();
      }
    });

    it('setMultiWithTTL writes every item with that TTL', async (ctx) => {
      if (!can(cache, 'setMultiWithTTL')) return ctx.skip();
      const items = new Map([
        [key('x'), Buffer.from('X')],
        [key('y'), Buffer.from('Y')],
      ]);
      await cache.setMultiWithTTL(items, SHORT_TTL_MS);
      if (!stores) {
        await expectMiss(key('x'));
        return;
      }
      expect((await cache.get(key('x'))).toString()).toBe('X');
      expect((await cache.get(key('y'))).toString()).toBe('Y');
      await sleep(expiryWaitMs);
      await expectMiss(key('x'));
      await expectMiss(key('y'));
    });

    it('flush drops everything', async (ctx) => {
      if (!can(cache, 'flush')) return ctx.skip();
      await cache.set(key('a'), Buffer.from('A'));
      await cache.set(key('b'), Buffer.from('B'));
      await cache.flush();
      await expectMiss(key('a'));
      await expectMiss(key('b'));
      // Still usable after a flush.
      await cache.set(key('c'), Buffer.from('C'));
      if (stores) expect((await cache.get(key('c'))).toString()).toBe('C');
    });
  });
}
