/**
 * µs of CPU per client-key check (ClientAuthenticator.authenticate, as the onRequest hook runs it) with 2, 5,000
 * and 50,000 configured keys, for a valid key and a wrong one, beside the former linear check (timingSafeEqual
 * against every padded key) for comparison. Not a test: numbers depend on the machine.
 *
 *   node -r @swc-node/register bench/client-key-check.ts       (ITERATIONS=20000)
 */
import { timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import { ClientAuthenticator } from '../src/common/client-authenticator';

const ITERATIONS = Number(process.env.ITERATIONS ?? 20_000);

/** The former SecretSet: every candidate compared with every key (kept here only to compare). */
function linearIndexOf(keys: readonly string[]): (candidate: string) => number {
  const width = 4 + Math.max(0, ...keys.map((k) => Buffer.byteLength(k)));
  const pad = (v: string, out: Buffer) => {
    out.fill(0);
    out.writeUInt32BE(Buffer.byteLength(v), 0);
    out.write(v, 4, width - 4, 'utf8');
    return out;
  };
  const padded = keys.map((k) => pad(k, Buffer.alloc(width)));
  const scratch = Buffer.alloc(width);
  return (candidate) => {
    const c = pad(candidate, scratch);
    let matched = -1;
    for (let i = 0; i < padded.length; i++) {
      if (timingSafeEqual(c, padded[i]!) && matched === -1) matched = i;
    }
    return matched;
  };
}

function usPer(fn: () => void, iterations: number): number {
  for (let i = 0; i < Math.min(1000, iterations); i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  return ((performance.now() - t0) * 1000) / iterations;
}

const rows: string[] = ['| keys | check | valid key µs | wrong key µs |', '| ---: | --- | ---: | ---: |'];
for (const n of [2, 5_000, 50_000]) {
  const keys = Array.from(
    { length: n },
    (_, i) => `sk-relay-${String(i).padStart(8, '0')}-${'x'.repeat(32)}`,
  );
  const auth = new ClientAuthenticator({ api_keys: keys, allow_bearer: true, allow_open: false });
  const req = (key: string) => ({ headers: { 'x-api-key': key } }) as unknown as FastifyRequest;
  const good = req(keys[n - 1]!);
  const bad = req('sk-relay-wrong');
  const hmacGood = usPer(() => auth.authenticate(good), ITERATIONS);
  const hmacBad = usPer(() => {
    try {
      auth.authenticate(bad);
    } catch {
      // 401, as expected
    }
  }, ITERATIONS);
  rows.push(`| ${n} | HMAC + Map | ${hmacGood.toFixed(2)} | ${hmacBad.toFixed(2)} |`);
  const linear = linearIndexOf(keys);
  const its = Math.max(20, Math.floor(ITERATIONS / Math.max(1, n / 50)));
  const linGood = usPer(() => linear(keys[n - 1]!), its);
  const linBad = usPer(() => linear('sk-relay-wrong'), its);
  rows.push(`| ${n} | linear (former) | ${linGood.toFixed(2)} | ${linBad.toFixed(2)} |`);
}
process.stdout.write(rows.join('\n') + '\n');
