/**
 * Relay overhead benchmark (issue 2): the relay (built, `node dist/main.js`), a minimal Fastify + undici
 * pass-through (bench/reference-proxy.ts) and the fake upstream called directly, in one run, JSON and SSE, at 1 and
 * 32 connections. Reports p50/p99, req/s, CPU per request and RSS of the proxy process, and the ratios the issue
 * sets goals for. Everything runs on 127.0.0.1 and every run is bounded in time.
 *
 *   npm run bench            (BENCH_WARMUP_SECONDS=10 per proxy and mode first, then BENCH_SECONDS=4 per run,
 *                             BENCH_ROUNDS=3 rounds, medians reported)
 *   npm run bench -- --peers (bench/peers.ts: the references, the relay and the Portkey gateway and
 *                             claude-code-router in the same rounds, issue 23)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, type LoadResult } from './load';
import { peersMain } from './peers';
import {
  BENCH_HEADERS,
  benchMessagesBody,
  benchRelayConfig,
  cpuSeconds,
  freePort,
  REFERENCE_READY,
  referenceArgs,
  ROOT,
  rssMiB,
  startFakeUpstream,
  startNode,
  PROXY_NODE_FLAGS,
} from './processes';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/**
 * Load sent to each proxy per mode before anything is measured. A relay process serves for days; what it costs
 * then is the question, not its first seconds: after 1 s of load the relay was still spending ~17% of its CPU in
 * V8's optimising compiler (perf, cpu-clock), against ~1% after 20 s. The reference warms up the same way.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Subsets for quick A/B runs while tuning, e.g. BENCH_MODES=json BENCH_CONNS=32 (the report needs all four). */
const MODES = (process.env.BENCH_MODES ?? 'json,sse').split(',') as Array<'json' | 'sse'>;
const CONNS = (process.env.BENCH_CONNS ?? '1,32').split(',').map(Number);

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

interface Cell extends LoadResult {
  target: string;
  mode: 'json' | 'sse';
  connections: number;
  cpuUsPerReq?: number;
  rssMiB?: number;
}

async function main(): Promise<void> {
  const fakePort = await freePort();
  const refPort = await freePort();
  const relayPort = await freePort();
  const upstream = `http://127.0.0.1:${fakePort}`;
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-bench-'));
  const configPath = join(dir, 'bench.yaml');
  writeFileSync(configPath, benchRelayConfig(relayPort, upstream));

  const children: ChildProcess[] = [];
  try {
    children.push(await startFakeUpstream(fakePort));
    const ref = await startNode(referenceArgs(refPort, upstream), REFERENCE_READY);
    children.push(ref);
    const relay = await startNode([...PROXY_NODE_FLAGS, 'dist/main.js', '--config', configPath], 'listening');
    children.push(relay);

    const targets = [
      { name: 'direct', url: upstream, pid: undefined as number | undefined },
      { name: 'reference', url: `http://127.0.0.1:${refPort}`, pid: ref.pid },
      { name: 'relay', url: `http://127.0.0.1:${relayPort}`, pid: relay.pid },
    ];
    const cells: Cell[] = [];
    for (const mode of MODES) {
      const body = benchMessagesBody(mode === 'sse');
      const loadOf = (url: string, connections: number) => ({
        url,
        path: '/v1/messages',
        body,
        headers: BENCH_HEADERS,
        connections,
      });
      for (const t of targets) {
        if (t.pid) await runLoad({ ...loadOf(t.url, 32), durationMs: WARMUP_SECONDS * 1000 });
      }
      for (const connections of CONNS) {
        // Rounds alternate the order of the targets and each metric is the median over rounds, because this
        // 2-core machine's speed drifts between runs; one run per target would compare different weather.
        const samples = new Map<string, Cell[]>();
        for (let round = 0; round < ROUNDS; round++) {
          const order = round % 2 === 0 ? targets : [...targets].reverse();
          for (const t of order) {
            const load = loadOf(t.url, connections);
            await runLoad({ ...load, durationMs: 1000 }); // warm-up: JIT, pools
            const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
            const r = await runLoad({ ...load, durationMs: SECONDS * 1000 });
            const cell: Cell = { ...r, target: t.name, mode, connections };
            if (t.pid) {
              cell.cpuUsPerReq = ((cpuSeconds(t.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
              cell.rssMiB = rssMiB(t.pid);
            }
            samples.set(t.name, [...(samples.get(t.name) ?? []), cell]);
          }
        }
        for (const t of targets) {
          const runs = samples.get(t.name)!;
          const cell: Cell = {
            ...runs[runs.length - 1]!,
            rps: median(runs.map((c) => c.rps)),
            p50Ms: median(runs.map((c) => c.p50Ms)),
            p99Ms: median(runs.map((c) => c.p99Ms)),
            cpuUsPerReq: t.pid ? median(runs.map((c) => c.cpuUsPerReq ?? NaN)) : undefined,
            errors: runs.reduce((n, c) => n + c.errors, 0),
          };
          cells.push(cell);
          process.stdout.write(
            `${mode.padEnd(4)} c=${String(connections).padEnd(2)} ${t.name.padEnd(9)} ${cell.rps.toFixed(0).padStart(6)} req/s  p50 ${cell.p50Ms.toFixed(3)} ms  p99 ${cell.p99Ms.toFixed(3)} ms` +
              (cell.cpuUsPerReq !== undefined
                ? `  cpu ${cell.cpuUsPerReq.toFixed(0)} µs/req  rss ${cell.rssMiB?.toFixed(0)} MiB`
                : '') +
              (cell.errors ? `  errors ${cell.errors}` : '') +
              '\n',
          );
        }
      }
    }

    process.stdout.write(
      '\nratios (relay vs reference; goal: added p50 and CPU ≤ 1.25×, req/s at 32 conn ≥ 0.85×)\n',
    );
    const summary: Record<string, number> = {};
    for (const mode of MODES) {
      for (const connections of CONNS) {
        const get = (target: string) =>
          cells.find((c) => c.mode === mode && c.connections === connections && c.target === target)!;
        const d = get('direct');
        const ref = get('reference');
        const rel = get('relay');
        const added = (rel.p50Ms - d.p50Ms) / Math.max(1e-6, ref.p50Ms - d.p50Ms);
        const cpu = (rel.cpuUsPerReq ?? NaN) / (ref.cpuUsPerReq ?? NaN);
        const rps = rel.rps / ref.rps;
        summary[`${mode}_c${connections}_added_p50_ratio`] = added;
        summary[`${mode}_c${connections}_cpu_ratio`] = cpu;
        summary[`${mode}_c${connections}_rps_ratio`] = rps;
        process.stdout.write(
          `${mode.padEnd(4)} c=${String(connections).padEnd(2)} added p50 ${added.toFixed(2)}×  cpu/req ${cpu.toFixed(2)}×  req/s ${rps.toFixed(2)}×\n`,
        );
      }
    }
    if (MODES.length < 2 || CONNS.length < 2) return; // a partial run is not the report
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(
      join(ROOT, 'bench', 'results', 'proxy-overhead.json'),
      JSON.stringify(
        {
          date: new Date().toISOString(),
          seconds: SECONDS,
          rounds: ROUNDS,
          warmupSeconds: WARMUP_SECONDS,
          cells,
          summary,
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

(process.argv.includes('--peers') ? peersMain() : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
