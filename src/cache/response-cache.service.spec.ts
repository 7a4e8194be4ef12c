import { describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock';
import { validateConfig } from '../config/config-validation';
import type { DeliveredAnswer } from '../protocol/answer';
import { RelayError } from '../protocol/relay-error';
import { CacheNotFoundError, type Cache } from './cache';
import { encodeAnswer } from './cached-answer';
import { MAX_ENTRY_BYTES, ResponseCache } from './response-cache.service';
import { SingleCache } from './single-cache';

const ANSWER = Buffer.from(
  JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn' }),
);

function configWith(cache: Record<string, unknown> = {}) {
  return validateConfig({ providers: [{ name: 'p' }], cache: { mode: 'single', ...cache } }).config;
}

/** A backend with only the required interface: get rejects on a miss (no find). */
class GetOnlyCache implements Cache {
  readonly data = new Map<string, Buffer>();
  failWith: Error | undefined;
  async get(key: string): Promise<Buffer> {
    if (this.failWith) throw this.failWith;
    const value = this.data.get(key);
    if (!value) throw new CacheNotFoundError();
    return value;
  }
  async set(key: string, value: Buffer): Promise<void> {
    this.data.set(key, value);
  }
  async setWithTTL(key: string, value: Buffer): Promise<void> {
    this.data.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async exists(key: string): Promise<boolean> {
    return this.data.has(key);
  }
  async close(): Promise<void> {}
}

const delivered = (over: Partial<DeliveredAnswer>): DeliveredAnswer =>
  ({ kind: 'delivered', status: 200, headers: {}, usage: {}, completed: true, ...over }) as DeliveredAnswer;

describe('ResponseCache', () => {
  it('looks up synchronously in single mode: a miss and, once stored, a hit', async () => {
    const config = configWith();
    const cache = new ResponseCache(config, new SingleCache(config.cache, systemClock));
    expect(cache.lookup('k', undefined)).toBeUndefined();
    cache.store('k', { kind: 'json', body: ANSWER, storedAt: Date.now() }, 60_000);
    await Promise.resolve(); // the write is fire-and-forget
    const hit = cache.lookup('k', undefined);
    if (hit instanceof Promise) throw new Error('single mode must answer synchronously');
    expect(hit?.body.equals(ANSWER)).toBe(true);
    expect(cache.stats()).toMatchObject({ lookups: 2, hits: 1, misses: 1, stored: 1 });
  });

  it('reads through get() for a backend without find(): not-found is a miss, any other error a counted miss', async () => {
    const backend = new GetOnlyCache();
    const cache = new ResponseCache(configWith(), backend);
    await expect(cache.lookup('absent', undefined)).resolves.toBeUndefined();
    backend.data.set('k', encodeAnswer({ kind: 'json', body: ANSWER, storedAt: Date.now() }));
    expect((await cache.lookup('k', undefined))?.body.equals(ANSWER)).toBe(true);
    backend.failWith = new Error('backend on fire');
    await expect(cache.lookup('k', undefined)).resolves.toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, read_errors: 1 });
  });

  it('treats an entry older than the request max-age as a miss', async () => {
    const backend = new GetOnlyCache();
    const cache = new ResponseCache(configWith(), backend);
    backend.data.set('k', encodeAnswer({ kind: 'json', body: ANSWER, storedAt: Date.now() - 10_000 }));
    await expect(cache.lookup('k', 5_000)).resolves.toBeUndefined();
    expect(await cache.lookup('k', 60_000)).toBeDefined();
  });

  it('single-flight: followers wait for the leader and get its answer; after it settles nobody is pending', async () => {
    const cache = new ResponseCache(configWith(), new GetOnlyCache());
    expect(cache.pending('k')).toBeUndefined();
    const settle = cache.lead('k');
    const a = cache.pending('k');
    const b = cache.pending('k');
    expect(a).toBe(b);
    const answer = { kind: 'json' as const, body: ANSWER, storedAt: 1 };
    settle(answer);
    await expect(a).resolves.toBe(answer);
    expect(cache.pending('k')).toBeUndefined();
    // A leader nobody followed settles without error.
    cache.lead('j')(undefined);
    expect(cache.pending('j')).toBeUndefined();
  });

  it('does not turn answers over the largest entry into entries, and counts them', () => {
    const small = new ResponseCache(configWith({ ristretto: { max_cost: 1_000 } }), new GetOnlyCache());
    expect(small.maxEntryBytes).toBe(1_000);
    expect(small.toEntry('messages', delivered({ body: ANSWER }))?.body).toBe(ANSWER);
    expect(small.toEntry('messages', delivered({ body: Buffer.alloc(1_001, 0x20) }))).toBeUndefined();
    expect(small.toEntry('messages', delivered({ captureOverflowed: true }))).toBeUndefined();
    expect(small.stats().too_large).toBe(2);
    expect(small.toEntry('messages', delivered({ captureRefused: true }))).toBeUndefined();
    expect(small.stats()).toMatchObject({ too_large: 2, capture_budget_full: 1 });
    const ha = new ResponseCache(configWith({ mode: 'ha' }), new GetOnlyCache());
    expect(ha.maxEntryBytes).toBe(MAX_ENTRY_BYTES);
  });

  const facts = (headers: Record<string, string>) => ({
    endpoint: 'messages' as const,
    body: { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
    model: 'm',
    stream: false,
    headers,
    clientScope: 'scope',
  });

  it('bypasses (does not fail) a body nested too deeply for the canonical walk of its key', () => {
    const cache = new ResponseCache(configWith({}), new GetOnlyCache());
    const body = JSON.parse(
      `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`,
    ) as Record<string, unknown>;
    expect(cache.plan({ ...facts({}), body })).toEqual({ use: false });
  });

  it('keeps answers for cache.ttl_ms; a request max-age only filters what it accepts, x-cc-relay-cache-ttl shortens', () => {
    const cache = new ResponseCache(configWith({ ttl_ms: 600_000 }), new GetOnlyCache());
    expect(cache.plan(facts({}))).toMatchObject({ use: true, ttlMs: 600_000 });
    expect(cache.plan(facts({ 'cache-control': 'max-age=1' }))).toMatchObject({
      ttlMs: 600_000,
      maxAgeMs: 1_000,
    });
    expect(cache.plan(facts({ 'x-cc-relay-cache-ttl': '30' }))).toMatchObject({ ttlMs: 30_000 });
    expect(cache.plan(facts({ 'x-cc-relay-cache-ttl': '99999' }))).toMatchObject({ ttlMs: 600_000 });
    let thrown: unknown;
    try {
      cache.plan(facts({ 'x-cc-relay-cache-ttl': 'soon' }));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RelayError);
    expect((thrown as RelayError).status).toBe(400);
  });

  it('never stores an answer of a fallback model under the requested model, and counts it', () => {
    const cache = new ResponseCache(configWith(), new GetOnlyCache());
    expect(cache.mayStore(delivered({ model: 'claude-sonnet' }), 'claude-sonnet')).toBe(true);
    expect(cache.mayStore(delivered({ model: 'claude-haiku' }), 'claude-sonnet')).toBe(false);
    expect(cache.stats().fallback_not_stored).toBe(1);
  });
});
