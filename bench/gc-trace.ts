/**
 * Garbage collection under load: the relay against the reference pass-through, each under --trace-gc-nvp while
 * 32 connections drive it for BENCH_SECONDS after a warm-up. Reports scavenges and mark-compacts per 1,000
 * requests, their pause time per request, and the bytes a scavenge copies or promotes per request (what survives
 * the young generation, which is what a scavenge's cost follows).
 *
 *   npm run build && node -r @swc-node/register bench/gc-trace.ts     (MODE=json|sse, BENCH_SECONDS=5,
 *   TARGETS=reference,relay, CACHE_MODE=disabled|single|ha for the relay; REF_SCRIPT=path.ts runs another pass-through script, same arguments, as the reference;
 *   DISTINCT=1 makes every request body different, so with a cache on every request is a miss that is stored)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './load';
import {
  BENCH_HEADERS,
  benchRequestBody,
  benchRelayConfig,
  freePort,
  PROXY_NODE_FLAGS,
  REFERENCE_READY,
  referenceArgs,
  ROOT,
  startFakeUpstream,
} from './processes';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const MODE = process.env.MODE === 'sse' ? 'sse' : 'json';
const DISTINCT = process.env.DISTINCT === '1';

interface GcLine {
  kind: string;
  pause: number;
  copied: number;
  promoted: number;
}

function spawnTraced(args: string[], readyText: string, lines: GcLine[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', ['--trace-gc-nvp', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    let pending = '';
    let ready = false;
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        if (!ready && line.includes(readyText)) {
          ready = true;
          resolve(child);
        }
        const m = /pause=([\d.]+).*gc=(\w+)/.exec(line);
        if (!m) continue;
        const num = (k: string) => Number(new RegExp(`\\b${k}=([\\d.]+)`).exec(line)?.[1] ?? 0);
        lines.push({
          kind: m[2]!,
          pause: Number(m[1]),
          copied: num('new_space_survived'),
          promoted: num('promoted'),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}`)));
  });
}

async function main(): Promise<void> {
  const fakePort = await freePort();
  const upstream = `http://127.0.0.1:${fakePort}`;
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-gc-'));
  const fake = await startFakeUpstream(fakePort);
  const children: ChildProcess[] = [fake];
  try {
    for (const target of (process.env.TARGETS ?? 'reference,relay').split(',') as Array<
      'reference' | 'relay'
    >) {
      const port = await freePort();
      const lines: GcLine[] = [];
      let args: string[];
      if (target === 'relay') {
        const configPath = join(dir, 'bench.yaml');
        writeFileSync(
          configPath,
          benchRelayConfig(port, upstream, ['cache:', `  mode: ${process.env.CACHE_MODE ?? 'disabled'}`]),
        );
        args = [...PROXY_NODE_FLAGS, 'dist/main.js', '--config', configPath];
      } else {
        args = referenceArgs(port, upstream, PROXY_NODE_FLAGS, process.env.REF_SCRIPT);
      }
      const child = await spawnTraced(args, target === 'relay' ? 'listening' : REFERENCE_READY, lines);
      children.push(child);
      const load = {
        url: `http://127.0.0.1:${port}`,
        path: '/v1/messages',
        body: benchRequestBody(MODE === 'sse', DISTINCT),
        headers: BENCH_HEADERS,
        connections: 32,
      };
      await runLoad({ ...load, durationMs: 10_000 });
      const from = lines.length;
      const r = await runLoad({ ...load, durationMs: SECONDS * 1000 });
      const seen = lines.slice(from);
      const per = (xs: GcLine[], f: (l: GcLine) => number) => xs.reduce((a, l) => a + f(l), 0) / r.requests;
      const scav = seen.filter((l) => l.kind === 's');
      const major = seen.filter((l) => l.kind !== 's');
      process.stdout.write(
        `${target} ${MODE}: ${r.requests} requests, ${r.rps.toFixed(0)} req/s; ` +
          `scavenges ${((scav.length * 1000) / r.requests).toFixed(2)}/1k req, ` +
          `${(per(scav, (l) => l.pause) * 1000).toFixed(1)} µs pause/req, ` +
          `survived ${per(scav, (l) => l.copied).toFixed(0)} B/req, promoted ${per(scav, (l) => l.promoted).toFixed(0)} B/req; ` +
          `other GCs ${major.length} (${major.map((l) => l.kind).join(',')}), ${(per(major, (l) => l.pause) * 1000).toFixed(1)} µs pause/req\n`,
      );
      child.kill('SIGTERM');
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
