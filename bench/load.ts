import { Pool } from 'undici';

/** One load run's numbers. */
export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * A closed-loop load generator: `connections` loops each send a request and wait for the whole answer (for SSE,
 * the whole stream) before the next, for `durationMs`. Latency is measured with hrtime per request.
 * `body` may be a function for a fresh body per request; `onResponse` sees every answer's status and headers.
 */
export async function runLoad(opts: {
  url: string;
  path: string;
  body: string | (() => string);
  headers: Record<string, string>;
  connections: number;
  durationMs: number;
  onResponse?: (status: number, headers: Record<string, string | string[] | undefined>) => void;
}): Promise<LoadResult> {
  const target = new URL(opts.url);
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  const stopAt = Date.now() + opts.durationMs;
  const loop = async () => {
    while (Date.now() < stopAt) {
      const t0 = process.hrtime.bigint();
      try {
        const res = await pool.request({
          path: opts.path,
          method: 'POST',
          headers: opts.headers,
          body: typeof opts.body === 'function' ? opts.body() : opts.body,
        });
        for await (const _chunk of res.body) {
          // drain
        }
        opts.onResponse?.(res.statusCode, res.headers);
        if (res.statusCode !== 200) errors++;
        else latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50Ms: pct(50),
    p99Ms: pct(99),
  };
}

/** The median of a list (its upper middle for an even count; NaN for none). */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}
