import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KeyPool } from '../routing/key-pool';
import type { ProviderRuntime } from '../routing/routing.service';
import { KeyVerifier } from './key-verifier';
import type { AttemptResult } from '../protocol/answer';
import type { UpstreamClient, UpstreamRequest } from './upstream-client';

const unauthorized: AttemptResult = {
  kind: 'status',
  status: 401,
  headers: {},
  rawHeaders: {},
  body: Buffer.from('{}'),
};

/** An upstream whose key check answers `status` (or fails), recording the checks and releasing them on demand. */
function upstream(status: number | 'fail') {
  const sent: UpstreamRequest[] = [];
  const waiting: Array<() => void> = [];
  const client = {
    send(req: UpstreamRequest) {
      sent.push(req);
      return new Promise((resolve, reject) => {
        waiting.push(() =>
          status === 'fail'
            ? reject(new Error('ECONNREFUSED'))
            : resolve({
                statusCode: status,
                body: Object.assign(Readable.from([]), { dump: async () => {} }),
              }),
        );
      });
    },
  } as unknown as UpstreamClient;
  const release = () => waiting.splice(0).forEach((go) => go());
  return { client, sent, release };
}

function runtime(auth: 'x-api-key' | 'bearer' = 'x-api-key'): ProviderRuntime {
  const keys = new KeyPool(
    'p',
    [{ key: 'sk-ant-key-0000', rpm_limit: 0, itpm_limit: 0, otpm_limit: 0, weight: 1 }],
    { now: () => Date.now() },
    Math.random,
  );
  return { name: 'p', baseUrl: 'http://up', auth, keys, inFlight: 0 } as unknown as ProviderRuntime;
}

const lease = { keyId: 'p#0', key: 'sk-ant-key-0000' };
const req = (id: string, headers = {}) => ({ id, headers });
const flush = () => new Promise((r) => setImmediate(r));

describe('KeyVerifier', () => {
  it('checks the key with GET /v1/models in the provider auth style, and keeps it when it works', async () => {
    const up = upstream(200);
    const rt = runtime('bearer');
    const v = new KeyVerifier(up.client);
    const settled = v.settle401(rt, lease, req('r1'), unauthorized);
    await flush();
    // Held while the check runs.
    expect(rt.keys.snapshot()[0]?.available).toBe(false);
    up.release();
    expect(await settled).toBe(true);
    expect(up.sent[0]).toMatchObject({ method: 'GET', pathAndQuery: '/v1/models?limit=1' });
    expect(up.sent[0]?.headers).toContain('Bearer sk-ant-key-0000');
    expect(rt.keys.snapshot()[0]).toMatchObject({ available: true, rejected: null });
    // Found working just now: the next such 401 reuses that, no second call.
    expect(await v.settle401(rt, lease, req('r2'), unauthorized)).toBe(true);
    expect(up.sent).toHaveLength(1);
  });

  it('parks the key when the check answers 401, with one check for concurrent 401s of the key', async () => {
    const up = upstream(401);
    const rt = runtime();
    const v = new KeyVerifier(up.client);
    const both = Promise.all([
      v.settle401(rt, lease, req('r1'), unauthorized),
      v.settle401(rt, lease, req('r2'), unauthorized),
    ]);
    await flush();
    up.release();
    expect(await both).toEqual([false, false]);
    expect(up.sent).toHaveLength(1);
    expect(up.sent[0]?.headers).toContain('x-api-key');
    expect(rt.keys.snapshot()[0]?.rejected).toMatchObject({ status: 401 });
  });

  it('without a verdict parks only on a second 401 from another request', async () => {
    const up = upstream('fail');
    const rt = runtime();
    const v = new KeyVerifier(up.client);
    const first = v.settle401(rt, lease, req('r1'), unauthorized);
    await flush();
    up.release();
    expect(await first).toBe(false);
    expect(rt.keys.snapshot()[0]?.rejected).toBeNull();
    const again = v.settle401(rt, lease, req('r1'), unauthorized);
    await flush();
    up.release();
    await again;
    expect(rt.keys.snapshot()[0]?.rejected).toBeNull(); // the same request retried: no confirmation
    const other = v.settle401(rt, lease, req('r2'), unauthorized);
    await flush();
    up.release();
    await other;
    expect(rt.keys.snapshot()[0]?.rejected).toMatchObject({ status: 401 });
  });

  it('forgets an unconfirmed 401 when the operator resets the pool: one 401 after it parks nothing', async () => {
    const up = upstream('fail');
    const rt = runtime();
    const v = new KeyVerifier(up.client);
    const first = v.settle401(rt, lease, req('r1'), unauthorized);
    await flush();
    up.release();
    await first;
    rt.keys.clearPenalties();
    const other = v.settle401(rt, lease, req('r2'), unauthorized);
    await flush();
    up.release();
    await other;
    expect(rt.keys.snapshot()[0]?.rejected).toBeNull();
  });

  it('makes no check and parks nothing for a 401 the request explains, nor for other statuses', async () => {
    const up = upstream(401);
    const rt = runtime();
    const v = new KeyVerifier(up.client);
    expect(
      await v.settle401(rt, lease, req('r1', { 'anthropic-beta': 'oauth-2025-04-20' }), unauthorized),
    ).toBe(true);
    expect(await v.settle401(rt, lease, req('r2'), { ...unauthorized, status: 400 })).toBe(false);
    expect(up.sent).toHaveLength(0);
    expect(rt.keys.snapshot()[0]).toMatchObject({ available: true, rejected: null });
  });
});
