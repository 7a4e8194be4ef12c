/**
 * The relay beside the relays users would pick for the job (issue 23): `npm run bench -- --peers`.
 *
 * In one run, on 127.0.0.1, against one fake Anthropic upstream: the bare Fastify + undici pass-through
 * (bench/reference-proxy.ts), the same pass-through inside NestJS (bench/reference-nest.ts), that one with only the
 * per-request work the relay's contract requires (bench/reference-floor.ts), the built relay (cache off), the Portkey gateway and claude-code-router, each configured as a plain pass-through of the Messages API. The
 * peers are installed from bench/peers/package-lock.json (`npm ci --prefix bench/peers`, on demand; never in the
 * product's dependencies). Each target must first return the upstream's answer intact (JSON body equal, SSE event
 * sequence equal, ids aside); one that does not is reported with the reason and left out. Then, in alternating
 * rounds: JSON req/s at 32 connections, SSE req/s at 16 connections with the CPU per streamed request of the
 * target's whole process tree, and the p50 a JSON request adds at 1 connection over calling the upstream directly.
 * Medians over rounds go to docs/benchmarks.md ("Peers (issue 23)", replaced on each run) and bench/results/peers.json.
 *
 *   BENCH_WARMUP_SECONDS=10 per target and mode first, then BENCH_SECONDS=4 per cell (plus 1 s warm-up),
 *   BENCH_ROUNDS=3; BENCH_PEERS=bare,nest,floor,relay,portkey,ccr picks targets (a partial run writes no report).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { request } from 'undici';
import { parseSse } from '../test/fakes/sse-parse';
import { runLoad, type LoadResult } from './load';
import {
  BENCH_HEADERS,
  benchMessagesBody,
  benchRelayConfig,
  freePort,
  PROXY_NODE_FLAGS,
  REFERENCE_READY,
  referenceArgs,
  ROOT,
  spawnNode,
  startFakeUpstream,
  startNode,
} from './processes';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ALL_TARGETS = ['bare', 'nest', 'floor', 'relay', 'portkey', 'ccr'] as const;
type TargetName = (typeof ALL_TARGETS)[number];
const PICKED = (process.env.BENCH_PEERS ?? ALL_TARGETS.join(',')).split(',').filter(Boolean);

const PEERS_DIR = join(ROOT, 'bench', 'peers');
const PORTKEY_MAIN = join(PEERS_DIR, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
const CCR_MAIN = join(PEERS_DIR, 'node_modules', '@musistudio', 'claude-code-router', 'dist', 'cli.js');

/** The three cells of the table, in the order they run. */
const CELLS = [
  { key: 'json32', stream: false, connections: 32 },
  { key: 'sse16', stream: true, connections: 16 },
  { key: 'json1', stream: false, connections: 1 },
] as const;
type CellKey = (typeof CELLS)[number]['key'];

export interface Target {
  name: TargetName | 'direct';
  label: string;
  url: string;
  /** The target's root process; its CPU is that of the whole tree under it. Undefined for the upstream. */
  pid?: number;
  headers: Record<string, string>;
}

interface Sample extends LoadResult {
  cpuUsPerReq?: number;
}

function median(xs: number[]): number {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * CPU seconds (user + system, every thread) used so far by `root` and every process under it, plus what its
 * exited and reaped children used (cutime/cstime), so a peer that forks workers or helpers is counted whole.
 */
export function treeCpuSeconds(root: number): number {
  const { children, own } = processTable();
  let ticks = 0;
  for (const pid of [root, ...descendants(root, children)]) ticks += own.get(pid) ?? 0;
  return ticks / 100;
}

/** Every process's parent's children and own CPU ticks (utime + stime + cutime + cstime), from /proc. */
function processTable(): { children: Map<number, number[]>; own: Map<number, number> } {
  const children = new Map<number, number[]>();
  const own = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "pid (comm) ": state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based in proc(5).
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(f[1]);
    own.set(pid, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  return { children, own };
}

function descendants(root: number, children: Map<number, number[]>): number[] {
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** SIGKILL to a process this benchmark started and to every process under it. */
function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  for (const pid of descendants(child.pid, processTable().children)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  child.kill('SIGKILL');
}

/** `npm ci --prefix bench/peers` unless its node_modules already holds what the lockfile says. */
function ensurePeersInstalled(): { seconds: number; skipped: boolean } {
  const lock = join(PEERS_DIR, 'package-lock.json');
  const installed = join(PEERS_DIR, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) {
    return { seconds: 0, skipped: true };
  }
  process.stdout.write('installing the peers: npm ci --prefix bench/peers ...\n');
  const t0 = Date.now();
  // --ignore-scripts: Portkey's postinstall runs patch-package over patches its package does not ship.
  execFileSync('npm', ['ci', '--prefix', PEERS_DIR, '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return { seconds: (Date.now() - t0) / 1000, skipped: false };
}

function peerVersion(pkg: string): string {
  const file = join(PEERS_DIR, 'node_modules', ...pkg.split('/'), 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

const tempDirs: string[] = [];

/** A fresh directory under the system's temp directory, removed when the run ends. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Resolves once `port` accepts a TCP connection (for peers that print nothing when ready); 30 s at most. */
async function waitForPort(child: ChildProcess, port: number, what: string): Promise<void> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}: ${output}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${port} within 30 s: ${output}`);
}

/**
 * The Portkey gateway as `npx @portkey-ai/gateway` runs it (headless, NODE_ENV=production), the fake upstream
 * allowed as a custom host; requests pick its `anthropic` provider with the upstream as custom host (headers).
 */
async function startPortkey(port: number): Promise<ChildProcess> {
  return startNode([PORTKEY_MAIN, `--port=${port}`, '--headless'], 'Ready for connections', {
    TRUSTED_CUSTOM_HOSTS: '127.0.0.1',
  });
}

/**
 * claude-code-router's service (`ccr start`, in the foreground) with a config in a home of its own: one provider at
 * the upstream's Messages URL with only the Anthropic transformer (which it then bypasses: the body goes through as
 * is), the default route to it, logging off.
 */
async function startCcr(port: number, upstream: string): Promise<ChildProcess> {
  const home = tempDir('cc-relay-bench-ccr-');
  mkdirSync(join(home, '.claude-code-router'));
  const model = (JSON.parse(benchMessagesBody(false)) as { model: string }).model;
  writeFileSync(
    join(home, '.claude-code-router', 'config.json'),
    JSON.stringify(
      {
        LOG: false,
        HOST: '127.0.0.1',
        PORT: port,
        NON_INTERACTIVE_MODE: true,
        Providers: [
          {
            name: 'fake',
            api_base_url: `${upstream}/v1/messages`,
            api_key: 'bench-provider-key-0001',
            models: [model],
            transformer: { use: ['Anthropic'] },
          },
        ],
        Router: { default: `fake,${model}` },
      },
      null,
      2,
    ),
  );
  const child = spawnNode([CCR_MAIN, 'start'], { HOME: home });
  try {
    await waitForPort(child, port, 'claude-code-router');
  } catch (err) {
    killTree(child);
    throw err;
  }
  return child;
}

/** Ids the fake numbers per request (message, request): equal answers differ only there. */
function normalise(text: string): string {
  return text.replace(/msg_fake_\d+/g, 'msg_fake_N').replace(/req_fake_\d+/g, 'req_fake_N');
}

async function answer(
  t: Target,
  stream: boolean,
): Promise<{ status: number; contentType: string; body: string }> {
  const res = await request(`${t.url}/v1/messages`, {
    method: 'POST',
    headers: t.headers,
    body: benchMessagesBody(stream),
  });
  return {
    status: res.statusCode,
    contentType: String(res.headers['content-type'] ?? ''),
    body: normalise(await res.body.text()),
  };
}

/** Why `t` does not return the upstream's answer intact, or undefined when it does (JSON and SSE). */
export async function integrityProblem(t: Target, direct: Target): Promise<string | undefined> {
  for (const stream of [false, true]) {
    const kind = stream ? 'SSE' : 'JSON';
    const [want, got] = [await answer(direct, stream), await answer(t, stream)];
    if (got.status !== want.status)
      return `${kind}: status ${got.status}, upstream ${want.status}: ${got.body.slice(0, 300)}`;
    if (!stream) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(got.body);
      } catch {
        return `JSON: body is not JSON: ${got.body.slice(0, 300)}`;
      }
      if (!isDeepStrictEqual(parsed, JSON.parse(want.body)))
        return `JSON: body differs: ${got.body.slice(0, 300)}`;
      continue;
    }
    if (!got.contentType.startsWith('text/event-stream')) return `SSE: content-type ${got.contentType}`;
    const events = (body: string) => parseSse(body).map((e) => [e.event, e.data]);
    const [w, g] = [events(want.body), events(got.body)];
    if (!isDeepStrictEqual(g, w)) {
      const at = g.findIndex((e, i) => !isDeepStrictEqual(e, w[i]));
      const i = at === -1 ? Math.min(g.length, w.length) : at;
      return `SSE: ${g.length} events, upstream ${w.length}; event ${i} is ${JSON.stringify(g[i] ?? null).slice(0, 200)}, upstream's ${JSON.stringify(w[i] ?? null).slice(0, 200)}`;
    }
  }
  return undefined;
}

async function measure(t: Target, stream: boolean, connections: number, ms: number): Promise<Sample> {
  const load = {
    url: t.url,
    path: '/v1/messages',
    body: benchMessagesBody(stream),
    headers: t.headers,
    connections,
  };
  await runLoad({ ...load, durationMs: 1000 }); // warm-up: JIT, pools
  const cpu0 = t.pid ? treeCpuSeconds(t.pid) : 0;
  const r: Sample = await runLoad({ ...load, durationMs: ms });
  if (t.pid) r.cpuUsPerReq = ((treeCpuSeconds(t.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
  return r;
}

interface Row {
  target: string;
  label: string;
  skipped?: string;
  json32Rps?: number;
  sse16Rps?: number;
  sse16CpuUs?: number;
  json32CpuUs?: number;
  json1P50Ms?: number;
  addedP50Us?: number;
  errors?: number;
}

const int = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US');

function tableLines(rows: Row[]): string[] {
  const out = [
    '| | JSON req/s at 32 conn | SSE req/s at 16 conn | CPU µs per SSE request | added p50 at 1 conn |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const label = r.target === 'relay' ? `**${r.label}**` : r.label;
    if (r.skipped) {
      out.push(`| ${label} | skipped: ${r.skipped.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | | | |`);
      continue;
    }
    if (r.target === 'direct') {
      out.push(
        `| ${label} | ${int(r.json32Rps)} | ${int(r.sse16Rps)} | – | (p50 ${int((r.json1P50Ms ?? NaN) * 1000)} µs) |`,
      );
      continue;
    }
    const added =
      r.addedP50Us === undefined ? '–' : `${r.addedP50Us >= 0 ? '+' : '−'}${int(Math.abs(r.addedP50Us))} µs`;
    out.push(`| ${label} | ${int(r.json32Rps)} | ${int(r.sse16Rps)} | ${int(r.sse16CpuUs)} | ${added} |`);
  }
  return out;
}

const SECTION = '## Peers (issue 23)';

/** Prose wrapped at `width` characters (docs/benchmarks.md's line length). */
function wrap(text: string, width = 118): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Replaces (or appends) the "Peers (issue 23)" section of docs/benchmarks.md. */
function writeDoc(body: string[]): void {
  const file = join(ROOT, 'docs', 'benchmarks.md');
  const doc = readFileSync(file, 'utf8');
  const section = `${[SECTION, '', ...body].join('\n').trimEnd()}\n`;
  const start = doc.indexOf(`\n${SECTION}\n`);
  if (start === -1) {
    writeFileSync(file, `${doc.trimEnd()}\n\n${section}`);
    return;
  }
  const next = doc.indexOf('\n## ', start + SECTION.length + 1);
  writeFileSync(file, doc.slice(0, start + 1) + section + (next === -1 ? '' : '\n' + doc.slice(next + 1)));
}

export async function peersMain(): Promise<void> {
  const install = ensurePeersInstalled();
  const versions = {
    portkey: peerVersion('@portkey-ai/gateway'),
    ccr: peerVersion('@musistudio/claude-code-router'),
  };
  const fakePort = await freePort();
  const upstream = `http://127.0.0.1:${fakePort}`;
  const children: ChildProcess[] = [];
  const loadBefore = loadavg();
  const startedAt = new Date();
  try {
    children.push(await startFakeUpstream(fakePort));
    const direct: Target = {
      name: 'direct',
      label: 'fake upstream, called directly',
      url: upstream,
      headers: { ...BENCH_HEADERS },
    };
    const labels: Record<TargetName, string> = {
      bare: 'bare Fastify + undici pass-through',
      nest: 'NestJS + undici pass-through',
      floor: "the same + the contract's per-request work (floor)",
      relay: 'cc-relay (cache off)',
      portkey: `Portkey gateway ${versions.portkey}`,
      ccr: `claude-code-router ${versions.ccr}`,
    };
    const rows: Row[] = [];
    const targets: Target[] = [];
    for (const name of ALL_TARGETS.filter((n) => PICKED.includes(n))) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const headers: Record<string, string> = { ...BENCH_HEADERS };
      let child: ChildProcess;
      try {
        switch (name) {
          case 'bare':
            child = await startNode(referenceArgs(port, upstream), REFERENCE_READY);
            break;
          case 'nest':
            child = await startNode(
              referenceArgs(port, upstream, PROXY_NODE_FLAGS, 'bench/reference-nest.ts'),
              REFERENCE_READY,
            );
            break;
          case 'floor':
            child = await startNode(
              referenceArgs(port, upstream, PROXY_NODE_FLAGS, 'bench/reference-floor.ts'),
              REFERENCE_READY,
            );
            break;
          case 'relay': {
            const dir = tempDir('cc-relay-bench-');
            const config = join(dir, 'bench.yaml');
            writeFileSync(config, benchRelayConfig(port, upstream));
            child = await startNode([...PROXY_NODE_FLAGS, 'dist/main.js', '--config', config], 'listening');
            break;
          }
          case 'portkey':
            child = await startPortkey(port);
            headers['x-portkey-provider'] = 'anthropic';
            headers['x-portkey-custom-host'] = `${upstream}/v1`;
            break;
          case 'ccr':
            child = await startCcr(port, upstream);
            break;
        }
      } catch (err) {
        const reason = `did not start: ${(err instanceof Error ? err.message : String(err)).slice(0, 300)}`;
        process.stdout.write(`${labels[name]}: ${reason}\n`);
        rows.push({ target: name, label: labels[name], skipped: reason });
        continue;
      }
      children.push(child);
      const t: Target = { name, label: labels[name], url, pid: child.pid, headers };
      const problem = await integrityProblem(t, direct).catch(
        (err: unknown) => `request failed: ${String(err)}`,
      );
      if (problem) {
        process.stdout.write(`${t.label}: skipped, the answer is not the upstream's: ${problem}\n`);
        rows.push({ target: name, label: t.label, skipped: `answer not intact: ${problem}` });
        killTree(child);
        continue;
      }
      process.stdout.write(`${t.label}: answers intact (JSON and SSE)\n`);
      targets.push(t);
    }

    // Steady state first: each target serves WARMUP_SECONDS of load per mode before anything is measured.
    for (const stream of [false, true]) {
      for (const t of targets) {
        await runLoad({
          url: t.url,
          path: '/v1/messages',
          body: benchMessagesBody(stream),
          headers: t.headers,
          connections: stream ? 16 : 32,
          durationMs: WARMUP_SECONDS * 1000,
        });
      }
    }

    const all = [direct, ...targets];
    const samples = new Map<string, Sample[]>(); // `${target}/${cell}`
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? all : [...all].reverse();
      for (const cell of CELLS) {
        for (const t of order) {
          const s = await measure(t, cell.stream, cell.connections, SECONDS * 1000);
          const key = `${t.name}/${cell.key}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          process.stdout.write(
            `round ${round + 1} ${cell.key.padEnd(6)} ${t.name.padEnd(7)} ${s.rps.toFixed(0).padStart(6)} req/s  p50 ${s.p50Ms.toFixed(3)} ms` +
              (s.cpuUsPerReq !== undefined ? `  cpu ${s.cpuUsPerReq.toFixed(0)} µs/req` : '') +
              (s.errors ? `  errors ${s.errors}` : '') +
              '\n',
          );
        }
      }
    }

    const of = (t: Target, cell: CellKey) => samples.get(`${t.name}/${cell}`) ?? [];
    const directP50 = of(direct, 'json1').map((s) => s.p50Ms);
    const measured: Row[] = all.map((t) => ({
      target: t.name,
      label: t.label,
      json32Rps: median(of(t, 'json32').map((s) => s.rps)),
      sse16Rps: median(of(t, 'sse16').map((s) => s.rps)),
      sse16CpuUs: t.pid ? median(of(t, 'sse16').map((s) => s.cpuUsPerReq ?? NaN)) : undefined,
      json32CpuUs: t.pid ? median(of(t, 'json32').map((s) => s.cpuUsPerReq ?? NaN)) : undefined,
      json1P50Ms: median(of(t, 'json1').map((s) => s.p50Ms)),
      // Per round, against the upstream measured in the same round; then the median of those.
      addedP50Us: t.pid
        ? median(of(t, 'json1').map((s, i) => (s.p50Ms - (directP50[i] ?? NaN)) * 1000))
        : undefined,
      errors: CELLS.reduce((n, c) => n + of(t, c.key).reduce((m, s) => m + s.errors, 0), 0),
    }));
    const order: Array<TargetName | 'direct'> = ['bare', 'nest', 'floor', 'relay', 'portkey', 'ccr', 'direct'];
    const table = [...measured, ...rows].sort(
      (a, b) => order.indexOf(a.target as TargetName) - order.indexOf(b.target as TargetName),
    );
    const loadAfter = loadavg();

    process.stdout.write('\n' + tableLines(table).join('\n') + '\n');
    const errors = measured.filter((r) => r.errors);
    for (const r of errors) process.stdout.write(`${r.label}: ${r.errors} failed requests\n`);

    if (PICKED.length < ALL_TARGETS.length) return; // a partial run is not the report
    const cpu = cpus();
    const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node.js ${process.version}, ${process.platform} ${process.arch}`;
    const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
    const result = {
      date: startedAt.toISOString(),
      machine,
      loadavg: { before: loadBefore, after: loadAfter },
      seconds: SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      rounds: ROUNDS,
      versions,
      install,
      rows: table,
      samples: Object.fromEntries(samples),
    };
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'peers.json'), JSON.stringify(result, null, 2) + '\n');
    const errorNote = errors.map((r) => `${r.label}: ${r.errors} requests failed (not counted).`).join(' ');
    writeDoc([
      '```',
      'npm run bench -- --peers    # builds; installs bench/peers on first use (npm ci); ~8 min; bench/results/peers.json',
      '    BENCH_WARMUP_SECONDS=10 BENCH_SECONDS=4 BENCH_ROUNDS=3   (defaults; BENCH_PEERS=bare,portkey: partial, no report)',
      '```',
      '',
      ...wrap(
        `Written by \`bench/peers.ts\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${machine}; ` +
          `load average (1/5/15 min) ${fmtLoad(loadBefore)} before the run, ${fmtLoad(loadAfter)} after.` +
          (loadBefore[0]! > cpu.length / 2 ? ' **The machine was busy: the numbers are noisy.**' : '') +
          (errorNote ? ` ${errorNote}` : ''),
      ),
      '',
      ...tableLines(table),
      '',
      ...wrap(
        '**Method.** One fake Anthropic upstream (`test/fakes/fake-upstream.main.ts`, recording off) on 127.0.0.1 and, ' +
          'each in its own process, every target configured as a plain pass-through of the Messages API to it: the bare ' +
          'Fastify + undici pass-through (`bench/reference-proxy.ts`), the same inside NestJS (`bench/reference-nest.ts`), ' +
          "that one plus only the per-request work the relay's contract requires, each item in its cheapest library form " +
          '(`bench/reference-floor.ts`: client key, request id, body parse, `anthropic-*` headers both ways, TTFT and ' +
          'stall timers, usage, a histogram and a counter, a pino access line, the commit point, a key taken ' +
          'round-robin behind a failure-counting breaker; no fail-over, retry, cancellation or back-pressure), ' +
          'the built relay (one `anthropic` provider, one client key, `cache.mode: disabled`, JSON logs at `info` to a ' +
          'pipe, metrics on), the Portkey gateway (`build/start-server.js --headless`, `NODE_ENV=production`; requests ' +
          'pick its `anthropic` provider with the upstream as `x-portkey-custom-host`, allowed by ' +
          '`TRUSTED_CUSTOM_HOSTS`) and claude-code-router (`ccr start` in the foreground, a config in a home of its own: ' +
          "one provider at the upstream's `/v1/messages` with only the `Anthropic` transformer, which it then bypasses, " +
          "the default route to it, logging off). The references and the relay run with the relay's Node flags " +
          `(\`${PROXY_NODE_FLAGS.join(' ') || 'none'}\`), the peers as they ship (no flags). The peers are pinned by ` +
          "`bench/peers/package-lock.json` and installed with `npm ci --ignore-scripts` (not in the product's " +
          'dependencies). Portkey gets `@hono/node-server` 1.14.1 through an override: with the version npm resolves ' +
          "(1.19) and with 1.14.2 its Response hands Portkey the upstream fetch's immutable headers and every stream " +
          'fails with `TypeError: immutable` (Portkey-AI/gateway#1389, #1550).',
      ),
      '',
      ...wrap(
        "Before measuring, each target must return the upstream's answer intact: the JSON body equal and the SSE " +
          'event sequence equal (event names and parsed data), message and request ids aside; a target that does not ' +
          `is listed as skipped with the reason. Each target then serves ${WARMUP_SECONDS} s of JSON load at 32 ` +
          `connections and ${WARMUP_SECONDS} s of SSE at 16. Then ${ROUNDS} rounds, the order of the targets ` +
          `alternating between rounds, each cell 1 s warm-up + ${SECONDS} s measured by the closed-loop generator ` +
          '(`bench/load.ts`): JSON at 32 connections, SSE (`stream: true`, 8 events) at 16, JSON at 1. CPU per SSE ' +
          "request is the user + system time of the target's whole process tree (`/proc/<pid>/stat` of the process and " +
          'every descendant, all threads, plus reaped children) over the requests it served. Added p50 is the ' +
          "target's p50 at 1 connection minus the upstream's own, called directly in the same round. Every figure is " +
          "the median over the rounds. The generator, the upstream and the target share the machine's cores, so only " +
          'rows of one run compare.',
      ),
      '',
      ...wrap(
        'Portkey holds the first event of every stream for 25 ms (a `setTimeout(…, 25)` in the stream reader of ' +
          '`build/start-server.js`), so one connection carries at most 40 of its streams a second whatever the CPU.',
      ),
      '',
    ]);
    process.stdout.write('\nwrote docs/benchmarks.md (Peers (issue 23)) and bench/results/peers.json\n');
  } finally {
    for (const c of children) killTree(c);
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  }
}
