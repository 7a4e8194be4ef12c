/**
 * CPU per streamed request with each target's full GCs counted per round, for targets that may settle in different
 * GC states (docs/benchmarks.md, "Streams (issue 23)", 2026-12-07 night): under long streams a Node.js process of
 * one and the same code either runs with next to no full (Mark-Compact) GCs or with ~10 a second, and then costs
 * about twice the CPU. Several instances of each kind run side by side with --trace-gc, in alternating rounds; each
 * round prints CPU µs/request, req/s and the full GCs it saw, and the summary gives each kind's median over the
 * rounds with at most GC_QUIET full GCs (default 2), so kinds are compared in the same GC state.
 *
 *   npm run build && DELTAS=500 KINDS=nest,relay,nest,relay node -r @swc-node/register bench/gc-modes.ts
 *     KINDS: nest (bench/reference-nest.ts), floor (bench/reference-floor.ts), relay (the built relay, cache off)
 *     ROUNDS=4  BENCH_SECONDS=3  BENCH_WARMUP_SECONDS=5  CONNS=16  GC_QUIET=2  DELTAS=N (see bench/processes.ts)
 *     BENCH_NODE_FLAGS='' runs every target without the relay's --no-memory-reducer: then some processes land in the
 *     full-GC state after their idle spells between rounds (17 of 46 on 2026-12-07, none of 21 with the flag)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, runLoad } from './load';
import {
  BENCH_HEADERS,
  benchRelayConfig,
  benchRequestBody,
  cpuSeconds,
  freePort,
  fullGcCounter,
  PROXY_NODE_FLAGS,
  REFERENCE_READY,
  referenceArgs,
  startFakeUpstream,
  startNode,
  streamShapeFromEnv,
} from './processes';

const KINDS = (process.env.KINDS ?? 'nest,relay,nest,relay').split(',').filter(Boolean);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
const CONNS = Number(process.env.CONNS ?? 16);
const GC_QUIET = Number(process.env.GC_QUIET ?? 2);
const SCRIPTS: Record<string, string> = {
  nest: 'bench/reference-nest.ts',
  floor: 'bench/reference-floor.ts',
};

interface Target {
  name: string;
  kind: string;
  url: string;
  pid: number;
  fullGcs: () => number;
}

async function main(): Promise<void> {
  const shape = streamShapeFromEnv();
  const fakePort = await freePort();
  const upstream = `http://127.0.0.1:${fakePort}`;
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-gc-modes-'));
  const children: ChildProcess[] = [];
  try {
    children.push(await startFakeUpstream(fakePort, shape.args));
    const targets: Target[] = [];
    for (const [i, kind] of KINDS.entries()) {
      const port = await freePort();
      const flags = [...PROXY_NODE_FLAGS, '--trace-gc'];
      let child: ChildProcess;
      if (kind === 'relay') {
        const config = join(dir, `relay-${i}.yaml`);
        writeFileSync(config, benchRelayConfig(port, upstream));
        child = await startNode([...flags, 'dist/main.js', '--config', config], 'listening');
      } else if (SCRIPTS[kind]) {
        child = await startNode(referenceArgs(port, upstream, flags, SCRIPTS[kind]), REFERENCE_READY);
      } else {
        throw new Error(`KINDS: unknown kind ${kind} (nest, floor, relay)`);
      }
      children.push(child);
      targets.push({
        name: `${kind}${i}`,
        kind,
        url: `http://127.0.0.1:${port}`,
        pid: child.pid!,
        fullGcs: fullGcCounter(child),
      });
    }
    const load = (url: string, durationMs: number) =>
      runLoad({
        url,
        path: '/v1/messages',
        body: benchRequestBody(true, false),
        headers: BENCH_HEADERS,
        connections: CONNS,
        durationMs,
      });
    for (const t of targets) await load(t.url, WARMUP_SECONDS * 1000);
    const quiet = new Map<string, { cpu: number[]; rps: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const cpu0 = cpuSeconds(t.pid);
        const gc0 = t.fullGcs();
        const r = await load(t.url, SECONDS * 1000);
        if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} requests failed`);
        const cpu = ((cpuSeconds(t.pid) - cpu0) * 1e6) / r.requests;
        const gcs = t.fullGcs() - gc0;
        process.stdout.write(
          `round ${round} ${t.name.padEnd(8)} cpu ${cpu.toFixed(1).padStart(6)} µs/req  ` +
            `${r.rps.toFixed(0).padStart(6)} req/s  full GCs ${gcs}\n`,
        );
        if (gcs <= GC_QUIET) {
          const q = quiet.get(t.kind) ?? { cpu: [], rps: [] };
          q.cpu.push(cpu);
          q.rps.push(r.rps);
          quiet.set(t.kind, q);
        }
      }
    }
    process.stdout.write(
      `\n${shape.events} events per stream, c=${CONNS}; medians over rounds with at most ${GC_QUIET} full GCs:\n`,
    );
    for (const kind of new Set(KINDS)) {
      const q = quiet.get(kind);
      process.stdout.write(
        q
          ? `${kind.padEnd(6)} cpu ${median(q.cpu).toFixed(1).padStart(6)} µs/req  ` +
              `${median(q.rps).toFixed(0).padStart(6)} req/s  (${q.cpu.length} rounds)\n`
          : `${kind.padEnd(6)} no round without full GCs\n`,
      );
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
