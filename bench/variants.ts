/**
 * A/B of relay variants in one run: the reference pass-through and each variant of the built relay run side by
 * side, and rounds drive them in alternating order, so the machine's drift lands on all of them alike (on this
 * VM two runs minutes apart differ by more than most single changes). Reports each target's CPU per request and
 * req/s (medians over rounds) and the relay variants against the reference.
 *
 *   npm run build && node -r @swc-node/register bench/variants.ts
 *     VARIANTS="control;base;quiet:level=warn;old:main=dist-old/main.js;x:CC_SOME_ENV=1"
 *       (name, then comma-separated settings: `level=` the log level, `main=` another build's entry point,
 *       `cache=` the relay's cache.mode (default disabled), `script=` a pass-through script run like the
 *       reference instead of a relay, NAME=value an environment variable)
 *     MODE=json|sse  CONNS=32  BENCH_SECONDS=4  BENCH_ROUNDS=5  BENCH_WARMUP_SECONDS=10
 *     DISTINCT=1  every request body different (same length), so with a cache on every request is a stored miss
 *     DELTAS=N  (MODE=sse) N content_block_delta events per stream, for a long answer; the CPU per event is then
 *       reported too.  EVENT_DELAY_MS=M  the events M ms apart, each in its own write (as a real model's tokens)
 *
 * TRACE_GC=1: every target runs with --trace-gc, and each round's count of its full (Mark-Compact) GCs is printed
 * beside its CPU. A process of the same code can settle in a state with ~10 full GCs a second under long streams
 * (docs/benchmarks.md, "Streams (issue 23)", 2026-12-07 night) and then costs twice the CPU: read such rounds apart.
 *
 * Start with a control variant that is not compared: in two runs the first relay started measured ~5 µs/request
 * more CPU than identical relays started after it (cause not found).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, runLoad } from './load';
import {
  BENCH_HEADERS,
  benchRequestBody,
  benchRelayConfig,
  cpuSeconds,
  freePort,
  fullGcCounter,
  PROXY_NODE_FLAGS,
  REFERENCE_READY,
  referenceArgs,
  startFakeUpstream,
  spawnNode,
  streamShapeFromEnv,
  startNode,
} from './processes';

const MODE = process.env.MODE === 'sse' ? 'sse' : 'json';
const CONNS = Number(process.env.CONNS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const DISTINCT = process.env.DISTINCT === '1';
const SHAPE = streamShapeFromEnv();
const GC_FLAGS = process.env.TRACE_GC === '1' ? ['--trace-gc'] : [];

/** With TRACE_GC=1, each target's full GCs so far (by its pid). */
const fullGcs = new Map<number, () => number>();
function countFullGcs(child: ChildProcess): void {
  if (GC_FLAGS.length > 0) fullGcs.set(child.pid!, fullGcCounter(child));
}

interface Variant {
  name: string;
  level: string;
  /** The relay's entry point (another build, e.g. a copy of dist/ from before a change). */
  main: string;
  /** Instead of a relay: a pass-through script run like the reference (`script PORT UPSTREAM`). */
  script?: string;
  /** The relay's `cache.mode`. */
  cache: string;
  env: Record<string, string>;
}

/** Parses VARIANTS: `name[:level=L,NAME=value,...]` separated by `;`. */
export function parseVariants(spec: string): Variant[] {
  return spec
    .split(';')
    .filter(Boolean)
    .map((part) => {
      const [name, settings = ''] = part.split(':', 2) as [string, string?];
      const v: Variant = { name, level: 'info', main: 'dist/main.js', cache: 'disabled', env: {} };
      for (const kv of settings.split(',').filter(Boolean)) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`variant ${name}: "${kv}" is not NAME=value`);
        const key = kv.slice(0, eq);
        const value = kv.slice(eq + 1);
        if (key === 'level') v.level = value;
        else if (key === 'main') v.main = value;
        else if (key === 'script') v.script = value;
        else if (key === 'cache') v.cache = value;
        else v.env[key] = value;
      }
      return v;
    });
}

/** Resolves once `url` answers at all (60 s at most: on a busy machine a relay can take that long to start). */
async function waitUntilServing(url: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`${url} never answered: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function main(): Promise<void> {
  const variants = parseVariants(process.env.VARIANTS ?? 'base');
  const fakePort = await freePort();
  const upstream = `http://127.0.0.1:${fakePort}`;
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-variants-'));
  const children: ChildProcess[] = [];
  try {
    children.push(await startFakeUpstream(fakePort, MODE === 'sse' ? SHAPE.args : []));
    const targets: Array<{ name: string; url: string; pid: number }> = [];
    const refPort = await freePort();
    const ref = await startNode(referenceArgs(refPort, upstream, [...PROXY_NODE_FLAGS, ...GC_FLAGS]), REFERENCE_READY);
    countFullGcs(ref);
    children.push(ref);
    targets.push({ name: 'reference', url: `http://127.0.0.1:${refPort}`, pid: ref.pid! });
    for (const v of variants) {
      const port = await freePort();
      if (v.script) {
        const child = await startNode(
          referenceArgs(port, upstream, [...PROXY_NODE_FLAGS, ...GC_FLAGS], v.script),
          REFERENCE_READY,
          v.env,
        );
        countFullGcs(child);
        children.push(child);
        targets.push({ name: v.name, url: `http://127.0.0.1:${port}`, pid: child.pid! });
        continue;
      }
      const configPath = join(dir, `${v.name}.yaml`);
      writeFileSync(configPath, benchRelayConfig(port, upstream, ['cache:', `  mode: ${v.cache}`], v.level));
      // A relay logging at warn prints nothing once up: started with no ready text, then polled until it answers.
      const child = spawnNode([...PROXY_NODE_FLAGS, ...GC_FLAGS, v.main, '--config', configPath], v.env);
      children.push(child);
      countFullGcs(child);
      child.stdout?.resume();
      child.stderr?.resume();
      await waitUntilServing(`http://127.0.0.1:${port}/health/live`);
      targets.push({ name: v.name, url: `http://127.0.0.1:${port}`, pid: child.pid! });
    }
    const load = (url: string, durationMs: number) =>
      runLoad({
        url,
        path: '/v1/messages',
        body: benchRequestBody(MODE === 'sse', DISTINCT),
        headers: BENCH_HEADERS,
        connections: CONNS,
        durationMs,
      });
    for (const t of targets) await load(t.url, WARMUP_SECONDS * 1000);
    const cpu = new Map<string, number[]>();
    const rps = new Map<string, number[]>();
    const gcs = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        await load(t.url, 1000);
        const cpu0 = cpuSeconds(t.pid);
        const gc0 = fullGcs.get(t.pid)?.() ?? 0;
        const r = await load(t.url, SECONDS * 1000);
        gcs.set(t.name, [...(gcs.get(t.name) ?? []), (fullGcs.get(t.pid)?.() ?? 0) - gc0]);
        if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} requests failed`);
        cpu.set(t.name, [...(cpu.get(t.name) ?? []), ((cpuSeconds(t.pid) - cpu0) * 1e6) / r.requests]);
        rps.set(t.name, [...(rps.get(t.name) ?? []), r.rps]);
      }
    }
    const refCpu = median(cpu.get('reference')!);
    const refRps = median(rps.get('reference')!);
    process.stdout.write(
      `${MODE}${DISTINCT ? ' (distinct bodies)' : ''}${MODE === 'sse' ? `, ${SHAPE.events} events per stream` : ''}` +
        `${process.env.EVENT_DELAY_MS ? ` ${process.env.EVENT_DELAY_MS} ms apart` : ''}` +
        ` c=${CONNS}, ${ROUNDS} rounds of ${SECONDS} s, medians\n`,
    );
    for (const t of targets) {
      const c = median(cpu.get(t.name)!);
      const q = median(rps.get(t.name)!);
      process.stdout.write(
        `${t.name.padEnd(12)} cpu ${c.toFixed(1).padStart(6)} µs/req (${(c / refCpu).toFixed(2)}×)  ` +
          (MODE === 'sse' ? `${(c / SHAPE.events).toFixed(2).padStart(6)} µs/event  ` : '') +
          `${q.toFixed(0).padStart(6)} req/s (${(q / refRps).toFixed(2)}×)  ` +
          `rounds: ${cpu
            .get(t.name)!
            .map((x) => x.toFixed(0))
            .join(' ')}` +
          (GC_FLAGS.length > 0 ? `  full GCs: ${gcs.get(t.name)!.join(' ')}` : '') +
          '\n',
      );
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
