/**
 * Cluster mode's cost per request (issue 20): the BUILT relay (`node dist/main.js`) booted side by side with
 * `cluster.mode: local`, with `cluster.mode: redis` (a private redis-server on a free port, started and stopped
 * here), and both again with an rpm_limit on the key (in redis mode the shared admission path: one EVALSHA), in
 * front of the fake upstream. Each redis variant is compared with the local one of the same key limits.
 * For each, at 1 and 32 connections: JSON requests, closed loop (bench/load.ts). The rounds interleave the relays
 * so load from elsewhere on the machine lands on all of them alike; a cell reports its median round by p50.
 *
 * Redis commands per request come from `INFO commandstats` of the private Redis before and after each cell, minus
 * what the replica sends when idle over the same time (heartbeats, the periodic reads), divided by the requests.
 *
 * Goals: added p50 at 1 connection <= +0.2 ms over local; req/s at 32 connections >= 0.9x local; <= 1 Redis round
 * trip per request, 0 when no key has limits.
 *
 *   npm run build && node -r @swc-node/register bench/cluster.ts
 *       [--seconds=N]   measured seconds per cell (default 3; env BENCH_SECONDS too), plus 1 s of warm-up each
 *       [--rounds=N]    (default 3)
 *       [--connections=1,32]
 *       [--main=dist/main.js]
 *       [--no-write]    print only; do not write bench/results/cluster.json
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawCommand, RedisServer } from '../test/support/redis-server';
import { runLoad } from './load';
import {
  BENCH_CLIENT_KEY,
  BENCH_HEADERS,
  benchMessagesBody,
  cpuSeconds,
  freePort,
  PROXY_NODE_FLAGS,
  ROOT,
  startFakeUpstream,
  startNode,
} from './processes';

function flag(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const SECONDS = Number(flag('seconds') ?? process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(flag('rounds') ?? 3);
const CONNECTIONS = (flag('connections') ?? '1,32').split(',').map(Number);
const MAIN = flag('main') ?? 'dist/main.js';
const WRITE = !process.argv.includes('--no-write');
const WARMUP_MS = 1000;

type Variant = 'local' | 'redis' | 'local+rpm_limit' | 'redis+rpm_limit';
const VARIANTS: Variant[] = ['local', 'redis', 'local+rpm_limit', 'redis+rpm_limit'];
const isLocal = (v: Variant) => v.startsWith('local');
/** The local variant a redis one is compared with (the same key limits). */
const baseline = (v: Variant): Variant => (v === 'redis+rpm_limit' ? 'local+rpm_limit' : 'local');

function relayConfig(variant: Variant, port: number, upstream: string, redisUrl: string): string {
  const limit = variant.endsWith('+rpm_limit') ? ['        rpm_limit: 100000000'] : [];
  const cluster = isLocal(variant)
    ? ['cluster:', '  mode: local']
    : [
        'cluster:',
        '  mode: redis',
        '  redis:',
        `    url: "${redisUrl}"`,
        `    key_prefix: "bench-${variant}:"`,
      ];
  return [
    'server:',
    `  listen: "127.0.0.1:${port}"`,
    '  auth:',
    `    api_keys: ["${BENCH_CLIENT_KEY}"]`,
    'providers:',
    '  - name: fake',
    '    type: anthropic',
    `    base_url: "${upstream}"`,
    '    keys:',
    '      - key: "bench-provider-key-0001"',
    ...limit,
    'cache:',
    '  mode: disabled',
    'logging:',
    '  level: info',
    ...cluster,
    '',
  ].join('\n');
}

/** Total calls per command from INFO commandstats (`cmdstat_evalsha:calls=12,...`). */
async function commandCalls(port: number): Promise<Map<string, number>> {
  const info = await rawCommand(port, 'INFO commandstats', 2000);
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [cmd, n] of after) {
    // INFO itself is ours.
    if (cmd === 'info') continue;
    const d = n - (before.get(cmd) ?? 0);
    if (d > 0) out.set(cmd, d);
  }
  return out;
}

/** Commands MONITOR saw while `during` ran: sent by clients (each at most one round trip) and run inside scripts. */
async function monitored<T>(
  port: number,
  during: () => Promise<T>,
): Promise<{ result: T; client: Map<string, number>; lua: Map<string, number> }> {
  const client = new Map<string, number>();
  const lua = new Map<string, number>();
  const socket = net.connect(port, '127.0.0.1');
  let buffer = '';
  let started = false;
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (!started) {
          started = line === '+OK';
          if (started) resolve();
          continue;
        }
        // +1700000000.123456 [0 127.0.0.1:50000] "evalsha" ...   or   +1700000000.123457 [0 lua] "hincrby" ...
        const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
        if (!m) continue;
        const into = m[1] === 'lua' ? lua : client;
        const cmd = m[2]!.toLowerCase();
        into.set(cmd, (into.get(cmd) ?? 0) + 1);
      }
    });
    socket.write('MONITOR\r\n');
  });
  try {
    return { result: await during(), client, lua };
  } finally {
    socket.destroy();
  }
}

/** Per request, net of what the replica sends when idle over the same time. */
function perRequest(
  counts: Map<string, number>,
  idlePerSecond: Map<string, number>,
  seconds: number,
  requests: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cmd, n] of counts) {
    const net = n - (idlePerSecond.get(cmd) ?? 0) * seconds;
    if (net > 0.5) out[cmd] = Number((net / Math.max(1, requests)).toFixed(4));
  }
  return out;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

interface RoundTrips {
  variant: Variant;
  requests: number;
  /** Commands the replica sent per request (each at most one round trip; pipelined ones share one). */
  clientPerReq: Record<string, number>;
  /** Commands run inside Lua scripts per request (Redis work, no round trips). */
  luaPerReq: Record<string, number>;
}

/** One connection for 2 s under MONITOR, net of what the replicas send idle (heartbeats, periodic reads). */
async function roundTrips(variant: Variant, url: string, port: number): Promise<RoundTrips> {
  const idleSeconds = 2;
  const idle = await monitored(port, () => new Promise((r) => setTimeout(r, idleSeconds * 1000)));
  const rate = (m: Map<string, number>) => new Map([...m].map(([cmd, n]) => [cmd, n / idleSeconds]));
  const loaded = await monitored(port, () =>
    runLoad({
      url,
      path: '/v1/messages',
      body: benchMessagesBody(false),
      headers: BENCH_HEADERS,
      connections: 1,
      durationMs: 2000,
    }),
  );
  const r = loaded.result;
  return {
    variant,
    requests: r.requests,
    clientPerReq: perRequest(loaded.client, rate(idle.client), r.seconds, r.requests),
    luaPerReq: perRequest(loaded.lua, rate(idle.lua), r.seconds, r.requests),
  };
}

interface Cell {
  variant: Variant;
  connections: number;
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  /** Redis commands per request, net of the idle rate; undefined for `local`. */
  redisPerReq?: number;
  /** The commands behind it (per request, net of idle). */
  redisCommands?: Record<string, number>;
}

async function measure(
  variant: Variant,
  url: string,
  pid: number,
  connections: number,
  redisPort: number,
  idlePerSecond: Map<string, number>,
): Promise<Cell> {
  const body = benchMessagesBody(false);
  await runLoad({
    url,
    path: '/v1/messages',
    body,
    headers: BENCH_HEADERS,
    connections,
    durationMs: WARMUP_MS,
  });
  const before = await commandCalls(redisPort);
  const cpu0 = cpuSeconds(pid);
  const r = await runLoad({
    url,
    path: '/v1/messages',
    body,
    headers: BENCH_HEADERS,
    connections,
    durationMs: SECONDS * 1000,
  });
  const cpu = cpuSeconds(pid) - cpu0;
  const cell: Cell = {
    variant,
    connections,
    requests: r.requests,
    errors: r.errors,
    rps: r.rps,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerReq: (cpu * 1e6) / Math.max(1, r.requests),
  };
  if (!isLocal(variant)) {
    const used = diff(await commandCalls(redisPort), before);
    const perReq: Record<string, number> = {};
    for (const [cmd, n] of used) {
      const net = Math.max(0, n - (idlePerSecond.get(cmd) ?? 0) * r.seconds);
      if (net > 0) perReq[cmd] = net / Math.max(1, r.requests);
    }
    cell.redisCommands = perReq;
    cell.redisPerReq = Object.values(perReq).reduce((a, b) => a + b, 0);
  }
  process.stdout.write(
    `${variant.padEnd(16)} c=${String(connections).padStart(2)}  ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  cpu ${cell.cpuUsPerReq.toFixed(0)} µs/req${cell.redisPerReq === undefined ? '' : `  redis ${cell.redisPerReq.toFixed(3)} cmd/req ${JSON.stringify(cell.redisCommands)}`}${r.errors ? `  ERRORS ${r.errors}` : ''}\n`,
  );
  return cell;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-cluster-bench-'));
  const children: ChildProcess[] = [];
  const redis = await RedisServer.start();
  const load0 = loadavg()[0] ?? NaN;
  try {
    const fakePort = await freePort();
    const upstream = `http://127.0.0.1:${fakePort}`;
    children.push(await startFakeUpstream(fakePort));
    const relays: Array<{ variant: Variant; url: string; child: ChildProcess }> = [];
    for (const variant of VARIANTS) {
      const port = await freePort();
      const configPath = join(dir, `${variant}.yaml`);
      writeFileSync(configPath, relayConfig(variant, port, upstream, redis.url));
      const child = await startNode([...PROXY_NODE_FLAGS, MAIN, '--config', configPath], 'listening');
      children.push(child);
      relays.push({ variant, url: `http://127.0.0.1:${port}`, child });
    }
    // What the replicas send with no traffic at all (heartbeats, periodic reads): subtracted from every cell.
    const idleBefore = await commandCalls(redis.port);
    const idleSeconds = 3;
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idle = diff(await commandCalls(redis.port), idleBefore);
    // Two redis relays idle together; each cell loads one of them.
    const idlePerSecond = new Map([...idle].map(([cmd, n]) => [cmd, n / idleSeconds / 2]));
    process.stdout.write(
      `idle Redis commands/s (both redis relays): ${JSON.stringify(Object.fromEntries(idle))}\n`,
    );

    const rounds = new Map<string, Cell[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      process.stdout.write(`-- round ${round}/${ROUNDS}\n`);
      for (const connections of CONNECTIONS) {
        for (const relay of relays) {
          const cell = await measure(
            relay.variant,
            relay.url,
            relay.child.pid!,
            connections,
            redis.port,
            idlePerSecond,
          );
          const id = `${relay.variant}/${connections}`;
          rounds.set(id, [...(rounds.get(id) ?? []), cell]);
        }
      }
    }
    const median = (cells: Cell[]) =>
      [...cells].sort((a, b) => a.p50Ms - b.p50Ms)[Math.floor(cells.length / 2)]!;
    const cells = [...rounds.values()].map(median);
    const get = (v: Variant, c: number) => cells.find((x) => x.variant === v && x.connections === c);
    const lines = [
      `| variant | connections | req/s | p50 ms | p99 ms | CPU µs/req | Redis commands run per request (scripts' inner ones included) | vs local |`,
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
    ];
    for (const c of cells) {
      const local = get(baseline(c.variant), c.connections)!;
      const vs = isLocal(c.variant)
        ? ''
        : c.connections === 1
          ? `p50 ${c.p50Ms - local.p50Ms >= 0 ? '+' : ''}${(c.p50Ms - local.p50Ms).toFixed(3)} ms`
          : `${(c.rps / local.rps).toFixed(2)}x req/s`;
      lines.push(
        `| ${c.variant} | ${c.connections} | ${c.rps.toFixed(0)} | ${c.p50Ms.toFixed(3)} | ${c.p99Ms.toFixed(3)} | ${c.cpuUsPerReq.toFixed(0)} | ${c.redisPerReq === undefined ? '' : c.redisPerReq.toFixed(3)} | ${vs} |`,
      );
    }
    // Round trips: MONITOR while one redis relay takes load (the idle traffic of both is subtracted).
    const trips: RoundTrips[] = [];
    for (const relay of relays) {
      if (isLocal(relay.variant)) continue;
      const t = await roundTrips(relay.variant, relay.url, redis.port);
      trips.push(t);
      process.stdout.write(
        `${relay.variant}: per request, sent ${JSON.stringify(t.clientPerReq)}, inside scripts ${JSON.stringify(t.luaPerReq)}\n`,
      );
    }
    const fmt = (r: Record<string, number>) =>
      `${sum(r).toFixed(3)}${
        Object.keys(r).length
          ? ` (${Object.entries(r)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')})`
          : ''
      }`;
    lines.push(
      '',
      '| variant | commands sent per request (each at most one round trip) | run inside Lua scripts per request |',
      '| --- | --- | --- |',
      ...trips.map((t) => `| ${t.variant} | ${fmt(t.clientPerReq)} | ${fmt(t.luaPerReq)} |`),
    );
    const report = `${lines.join('\n')}\n\n(load average ${load0.toFixed(2)} at start, ${(loadavg()[0] ?? NaN).toFixed(2)} at the end; ${ROUNDS} rounds of ${SECONDS} s, median round by p50)\n`;
    process.stdout.write(`\n${report}`);
    if (WRITE) {
      const results = join(ROOT, 'bench', 'results');
      mkdirSync(results, { recursive: true });
      writeFileSync(
        join(results, 'cluster.json'),
        JSON.stringify(
          {
            at: new Date().toISOString(),
            seconds: SECONDS,
            rounds: ROUNDS,
            loadavg: [load0, loadavg()[0] ?? NaN],
            idle: Object.fromEntries(idle),
            cells,
            trips,
          },
          null,
          2,
        ) + '\n',
      );
    }
  } finally {
    for (const child of children.reverse()) await stop(child);
    await redis.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
