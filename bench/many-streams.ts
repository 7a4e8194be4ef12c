/**
 * Many long streams through one relay process (issue 23, item 2). Three processes kinds, all on 127.0.0.1:
 *
 * - the fake upstream of test/fakes (its own process): model `bench-drip` streams STREAM_EVENTS deltas one per
 *   second, `bench-flood` streams FLOOD_EVENTS deltas as fast as its reader takes them; every delta's text is its
 *   send time (the fake's `stamp` option);
 * - the built relay (`node dist/main.js`, cache disabled, one provider at the fake);
 * - CLIENT_PROCS client processes on raw sockets (no HTTP parser: the chunked framing is skipped, only the stamps
 *   are looked for), which open the streams at RAMP_PER_S in all and compute each delta's delay as arrival minus
 *   send time (same machine, same clock).
 *
 * Phase 1: the relay's RSS (/proc/<pid>/status) and heap (its /metrics) idle after a warm-up, then with STREAMS
 * open streams in steady state for STEADY_S seconds, with every event's delay. Phase 2, on a fresh relay: SLOW
 * clients ask for a flood and read nothing for SLOW_S seconds; the relay's RSS over that time, and, when they
 * read again, how many bytes were waiting for each of them (sent by the upstream before they resumed).
 *
 *   npm run bench:streams       (STREAMS=10000 CLIENT_PROCS=4 RAMP_PER_S=500 STEADY_S=60 SLOW=100 SLOW_S=30)
 *   DIRECT=1 SLOW=0 RESULT_FILE=many-streams-direct.json: the same streams from the fake upstream without the relay
 *
 * 10,000 streams take ~20,000 descriptors in the relay (client and upstream sockets) and 10,000 in the fake: the
 * children are started with `ulimit -n` raised (this needs a hard limit that high, or root). Results are printed
 * and written to bench/results/many-streams.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { FakeUpstream } from '../test/fakes/fake-upstream';
import type { Scenario } from '../test/fakes/fake-scenario';
import { BENCH_CLIENT_KEY, cpuSeconds, freePort, PROXY_NODE_FLAGS, ROOT } from './processes';

const num = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const STREAMS = num('STREAMS', 10_000);
const CLIENT_PROCS = num('CLIENT_PROCS', 4);
const RAMP_PER_S = num('RAMP_PER_S', 500);
const SETTLE_S = num('SETTLE_S', 10);
const STEADY_S = num('STEADY_S', 60);
const SLOW = num('SLOW', 100);
const SLOW_S = num('SLOW_S', 30);
/** How often the steady window samples the relay's memory (and so scrapes its /metrics). */
const SAMPLE_EVERY_S = num('SAMPLE_EVERY_S', 1);
/** The relay's RSS at which phase 2 is stopped: memory that grew this far is not bounded. */
const SLOW_RSS_LIMIT_MIB = num('SLOW_RSS_LIMIT_MIB', 3072);
const RAMP_S = Math.ceil(STREAMS / RAMP_PER_S);
/** Long enough that the last stream opened is still open at the end of the steady window. */
const STREAM_EVENTS = num('STREAM_EVENTS', RAMP_S + SETTLE_S + STEADY_S + 15);
const FLOOD_EVENTS = num('FLOOD_EVENTS', 400_000);
/** Pads each stream's request to about this many KiB (a Claude Code turn carries its history: 50–500 KB). */
const BODY_KB = num('BODY_KB', 0);
const DRIP_MODEL = 'bench-drip';
const FLOOD_MODEL = 'bench-flood';

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The raw HTTP/1.1 request of one stream. */
function rawRequest(port: number, model: string): string {
  const body = JSON.stringify({
    model,
    max_tokens: 1024,
    stream: true,
    messages: [
      {
        role: 'user',
        content: 'Stream me a long answer, one event a second.' + ' history'.repeat((BODY_KB * 1024) / 8),
      },
    ],
  });
  return (
    `POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
    `x-api-key: ${BENCH_CLIENT_KEY}\r\nanthropic-version: 2023-06-01\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const STAMP = '"text_delta","text":"';

/** Reads one stream off a raw socket: the status, every stamp's delay, and how it ended. */
class StreamReader {
  status = 0;
  ended: 'message_stop' | 'error_event' | 'closed' | undefined;
  private carry = '';

  constructor(private readonly onStamp: (sentAt: number, arrivedAt: number) => void) {}

  push(chunk: Buffer, arrivedAt: number): void {
    let text = this.carry + chunk.toString('latin1');
    if (this.status === 0) {
      if (!text.includes('\r\n')) {
        this.carry = text;
        return;
      }
      this.status = Number(text.slice(9, 12));
    }
    // Only whole events are scanned; the rest waits for the next chunk.
    const end = text.lastIndexOf('\n\n');
    if (end < 0) {
      this.carry = text;
      return;
    }
    this.carry = text.slice(end + 2);
    text = text.slice(0, end);
    let at = text.indexOf(STAMP);
    while (at >= 0) {
      const from = at + STAMP.length;
      const to = text.indexOf('"', from);
      this.onStamp(Number(text.slice(from, to)), arrivedAt);
      at = text.indexOf(STAMP, to);
    }
    if (text.includes('event: message_stop')) this.ended = 'message_stop';
    else if (text.includes('event: error')) this.ended = 'error_event';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Role: the fake upstream.

async function upstreamRole(): Promise<void> {
  const drip: Scenario = { kind: 'sse', deltas: STREAM_EVENTS, delayMs: 1000, stamp: true };
  const flood: Scenario = { kind: 'sse', deltas: FLOOD_EVENTS, stamp: true };
  const fake = new FakeUpstream({ record: false });
  fake.script((req) => {
    const model = (req.body as { model?: string } | undefined)?.model;
    return model === DRIP_MODEL ? drip : model === FLOOD_MODEL ? flood : undefined;
  });
  const url = await fake.start();
  console.log(`listening ${url}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Role: a client process. Told by its parent (IPC) when the measured window opens and closes.

interface ClientReport {
  opened: number;
  ok: number;
  failedStatus: Record<string, number>;
  connectErrors: number;
  errorCodes: Record<string, number>;
  closedEarly: number;
  errorEvents: number;
  delays: number[];
  eventsInWindow: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

function clientRole(port: number, count: number, perSecond: number): void {
  const request = rawRequest(port, DRIP_MODEL);
  const sockets: Socket[] = [];
  const report: ClientReport = {
    opened: 0,
    ok: 0,
    failedStatus: {},
    connectErrors: 0,
    errorCodes: {},
    closedEarly: 0,
    errorEvents: 0,
    delays: [],
    eventsInWindow: 0,
    loopP99Ms: 0,
    loopMaxMs: 0,
  };
  let measuring = false;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const onStamp = (sentAt: number, arrivedAt: number) => {
    if (!measuring) return;
    report.delays.push(arrivedAt - sentAt);
    report.eventsInWindow++;
  };
  const open = () => {
    const reader = new StreamReader(onStamp);
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.push(socket);
    report.opened++;
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      const first = reader.status === 0;
      reader.push(chunk, now());
      if (first && reader.status !== 0) {
        if (reader.status === 200) report.ok++;
        else report.failedStatus[reader.status] = (report.failedStatus[reader.status] ?? 0) + 1;
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'unknown';
      report.errorCodes[code] = (report.errorCodes[code] ?? 0) + 1;
      if (reader.status === 0) report.connectErrors++;
    });
    socket.on('close', () => {
      if (stopping) return;
      if (reader.ended === 'error_event') report.errorEvents++;
      else if (reader.ended !== 'message_stop') report.closedEarly++;
    });
  };
  let stopping = false;
  // Opened in small batches every 20 ms, so the ramp is smooth.
  const perTick = Math.max(1, Math.round(perSecond / 50));
  const ramp = setInterval(() => {
    for (let i = 0; i < perTick && report.opened < count; i++) open();
    if (report.opened >= count) clearInterval(ramp);
  }, 20);
  process.on('message', (msg: string) => {
    if (msg === 'status') {
      process.send?.({ type: 'status', opened: report.opened, ok: report.ok });
    } else if (msg === 'measure') {
      measuring = true;
      loop.enable();
    } else if (msg === 'stop') {
      measuring = false;
      loop.disable();
      report.loopP99Ms = loop.percentile(99) / 1e6;
      report.loopMaxMs = loop.max / 1e6;
      process.send?.({ type: 'report', report }, () => {
        stopping = true;
        for (const s of sockets) s.destroy();
        setTimeout(() => process.exit(0), 200);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The orchestrator.

interface Child {
  proc: ChildProcess;
  output: string;
  /** Output lines at level warn or above (the relay's JSON logs), or that name an errno, the first 50. */
  problems: string[];
}

/** Starts `node <args>` with the descriptor limit raised to `nofile`, IPC open; resolves when `ready` is printed. */
function startLimited(args: string[], nofile: number, ready: string): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn('sh', ['-c', `ulimit -n ${nofile} && exec "$0" "$@"`, process.execPath, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const child: Child = { proc, output: '', problems: [] };
    const timer = setTimeout(
      () => reject(new Error(`${args.join(' ')} did not start: ${child.output}`)),
      30_000,
    );
    const seen = (d: Buffer) => {
      // The relay logs a line per request: keep only the start of its output (the pipe is still drained).
      const text = d.toString();
      if (child.output.length < 20_000) child.output += text;
      if (child.problems.length < 50 && /"level":(40|50|60)|EMFILE|ENFILE/.test(text)) {
        for (const line of text.split('\n')) {
          if (/"level":(40|50|60)|EMFILE|ENFILE/.test(line)) child.problems.push(line.slice(0, 600));
        }
      }
      if (child.output.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    proc.stdout?.on('data', seen);
    proc.stderr?.on('data', seen);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited ${code}: ${child.output}`));
    });
  });
}

function relayConfig(port: number, upstream: string): string {
  return [
    'server:',
    `  listen: "127.0.0.1:${port}"`,
    // One provider carries every stream: its connection pool must hold them all (default 4096).
    `  max_connections_per_provider: ${STREAMS + 1000}`,
    '  max_connections_per_ip: 0',
    '  auth:',
    `    api_keys: ["${BENCH_CLIENT_KEY}"]`,
    'providers:',
    '  - name: fake',
    '    type: anthropic',
    `    base_url: "${upstream}"`,
    '    keys:',
    '      - key: "bench-provider-key-0001"',
    'cache:',
    '  mode: disabled',
    'logging:',
    '  level: info',
    '',
  ].join('\n');
}

/** The main thread's time on a CPU and waiting for one (run queue), in seconds (/proc/<pid>/schedstat). */
function schedSeconds(pid: number): { run: number; wait: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { run: (run ?? 0) / 1e9, wait: (wait ?? 0) / 1e9 };
}

function vmRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Metrics {
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** The relay's event-loop delay since the previous scrape (prom-client resets it on each), in seconds. */
  loopMax: number;
  loopP99: number;
  /** Garbage collections so far by kind (minor, major, incremental, weakcb): count, seconds, and over 10 ms. */
  gc: Record<string, { count: number; seconds: number; over10ms: number }>;
}

/** The relay's own view of its memory, event loop and collections (prom-client's process metrics at /metrics). */
/** The longest /metrics scrape so far, ms (the relay builds the text on its event loop). */
let longestScrapeMs = 0;

async function relayMetrics(port: number): Promise<Metrics> {
  const asked = performance.now();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  longestScrapeMs = Math.max(longestScrapeMs, performance.now() - asked);
  const get = (name: string) => Number(new RegExp(`^cc_relay_${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1]);
  const gc: Metrics['gc'] = {};
  for (const kind of ['minor', 'major', 'incremental', 'weakcb']) {
    const series = (suffix: string) => get(`nodejs_gc_duration_seconds_${suffix}{kind="${kind}"}`) || 0;
    const le = (bound: string) =>
      Number(
        new RegExp(
          `^cc_relay_nodejs_gc_duration_seconds_bucket\\{le="${bound}",kind="${kind}"\\} (\\d+)`,
          'm',
        ).exec(text)?.[1] ?? 0,
      );
    gc[kind] = { count: series('count'), seconds: series('sum'), over10ms: series('count') - le('0.01') };
  }
  return {
    heapUsed: get('nodejs_heap_size_used_bytes'),
    heapTotal: get('nodejs_heap_size_total_bytes'),
    external: get('nodejs_external_memory_bytes'),
    loopMax: get('nodejs_eventloop_lag_max_seconds'),
    loopP99: get('nodejs_eventloop_lag_p99_seconds'),
    gc,
  };
}

interface MemSample {
  rssKiB: number;
  heapUsedMiB: number;
  /** Of several samples, the lowest heap used: the closest to the live heap (just after a collection). */
  heapUsedMinMiB?: number;
  heapTotalMiB: number;
  externalMiB: number;
  /** The relay's event-loop delay since the previous sample, ms: its longest and its p99. */
  loopMaxMs?: number;
  loopP99Ms?: number;
  gc?: Metrics['gc'];
}

async function sampleMemory(pid: number, port: number): Promise<MemSample> {
  const m = await relayMetrics(port);
  return {
    rssKiB: vmRssKiB(pid),
    heapUsedMiB: m.heapUsed / 2 ** 20,
    heapTotalMiB: m.heapTotal / 2 ** 20,
    externalMiB: m.external / 2 ** 20,
    loopMaxMs: m.loopMax * 1000,
    loopP99Ms: m.loopP99 * 1000,
    gc: m.gc,
  };
}

/** What the relay's collections did between two samples: per kind, count, pause seconds per second, over 10 ms. */
function gcBetween(a: MemSample, b: MemSample, seconds: number): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [kind, end] of Object.entries(b.gc ?? {})) {
    const start = a.gc?.[kind] ?? { count: 0, seconds: 0, over10ms: 0 };
    out[kind] = {
      count: end.count - start.count,
      pause_s_per_s: round((end.seconds - start.seconds) / seconds, 4),
      over_10ms: end.over10ms - start.over10ms,
    };
  }
  return out;
}

/**
 * Kernel memory of a process's TCP sockets (ss's skmem: `r` received and not yet read, `w` queued to send), which
 * no RSS shows: bytes a slow reader leaves in the relay's sockets.
 */
async function socketMemory(pid: number): Promise<{ sockets: number; recvKiB: number; sendKiB: number }> {
  const lines = (await shell('ss -tmnpH state established')).split('\n');
  let sockets = 0;
  let recv = 0;
  let sendQ = 0;
  for (let i = 0; i < lines.length - 1; i++) {
    if (!lines[i]!.includes(`pid=${pid},`)) continue;
    const m = /skmem:\(r(\d+),rb\d+,t\d+,tb\d+,f\d+,w(\d+)/.exec(lines[i + 1]!);
    if (!m) continue;
    sockets++;
    recv += Number(m[1]);
    sendQ += Number(m[2]);
  }
  return { sockets, recvKiB: round(recv / 1024), sendKiB: round(sendQ / 1024) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function medianSample(samples: MemSample[]): MemSample {
  return {
    rssKiB: median(samples.map((s) => s.rssKiB)),
    heapUsedMiB: median(samples.map((s) => s.heapUsedMiB)),
    heapUsedMinMiB: Math.min(...samples.map((s) => s.heapUsedMiB)),
    heapTotalMiB: median(samples.map((s) => s.heapTotalMiB)),
    externalMiB: median(samples.map((s) => s.externalMiB)),
  };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function startRelay(upstream: string, dir: string, nofile: number, name: string) {
  const port = await freePort();
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(configPath, relayConfig(port, upstream));
  // SIGUSR2 writes a heap snapshot, which collects garbage first: a way to see memory after a full GC.
  const snapshots = join(dir, `${name}-snapshots`);
  mkdirSync(snapshots, { recursive: true });
  const relay = await startLimited(
    [
      ...PROXY_NODE_FLAGS,
      '--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${snapshots}`,
      'dist/main.js',
      '--config',
      configPath,
    ],
    nofile,
    'listening',
  );
  return { relay, port, pid: relay.proc.pid!, snapshots };
}

/** Makes the relay collect all its garbage (by writing a heap snapshot, deleted at once). */
async function fullGc(pid: number, snapshots: string): Promise<void> {
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(200);
    const files = readdirSync(snapshots).filter((f) => f.endsWith('.heapsnapshot'));
    if (files.length === 0) continue;
    const file = join(snapshots, files[0]!);
    let last = -1;
    for (;;) {
      await sleep(300);
      const size = statSync(file).size;
      if (size === last && size > 0) break;
      last = size;
    }
    rmSync(file);
    return;
  }
  throw new Error('no heap snapshot written');
}

/** A short warm-up: the relay's code paths compiled and its pools made before "idle" is sampled. */
async function warmUp(port: number): Promise<void> {
  const { Agent, request } = await import('undici');
  // Its own pool, closed after: its keep-alive connections would hold descriptors in the relay.
  const dispatcher = new Agent({ connections: 16 });
  const body = JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: 64,
    stream: true,
    messages: [{ role: 'user', content: 'warm up' }],
  });
  const one = async () => {
    const res = await request(`http://127.0.0.1:${port}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': BENCH_CLIENT_KEY,
        'anthropic-version': '2023-06-01',
      },
      body,
      dispatcher,
    });
    await res.body.text();
  };
  const until = Date.now() + 3000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (Date.now() < until) await one();
    }),
  );
  await dispatcher.close();
}

async function idleMemory(pid: number, port: number): Promise<MemSample> {
  const samples: MemSample[] = [];
  for (let i = 0; i < 10; i++) {
    await sleep(500);
    samples.push(await sampleMemory(pid, port));
  }
  return medianSample(samples);
}

function send(child: Child, msg: string): void {
  child.proc.send(msg);
}

function nextMessage<T>(child: Child, type: string, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} from a client`)), timeoutMs);
    const on = (msg: { type: string } & T) => {
      if (msg.type !== type) return;
      clearTimeout(timer);
      child.proc.off('message', on);
      resolve(msg);
    };
    child.proc.on('message', on);
  });
}

/**
 * DIRECT=1: the clients stream from the fake upstream itself, no relay between (the harness's own floor: the
 * delays the fake and the clients add on this machine). The process fields then describe the fake.
 */
const DIRECT = process.env.DIRECT === '1';

async function manyStreams(upstream: string, upstreamPid: number, dir: string, nofile: number) {
  const { relay, port, pid } = DIRECT
    ? {
        relay: { proc: { kill: () => true }, problems: [] as string[] },
        port: Number(new URL(upstream).port),
        pid: upstreamPid,
      }
    : await startRelay(upstream, dir, nofile, 'relay-many');
  try {
    await warmUp(port);
    const idle = await idleMemory(pid, port);
    log(`idle: RSS ${round(idle.rssKiB / 1024)} MiB, heap used ${round(idle.heapUsedMiB)} MiB`);
    // Each stream takes two descriptors in the relay: what fits beside the ones it holds idle.
    const idleFiles = readdirSync(`/proc/${pid}/fd`).length;
    // A margin for the connections the relay opens beside its streams' (its upstream pool may hold a few more while
    // the ramp outpaces the upstream's accepts): out of descriptors, the relay's accept resets new connections.
    const streams = Math.min(STREAMS, Math.floor((nofile - idleFiles - 400) / 2));
    if (streams < STREAMS) {
      log(
        `the relay may open ${nofile} files and holds ${idleFiles} idle: ${streams} streams fit, not ${STREAMS}`,
      );
    }

    const perProc = Math.ceil(streams / CLIENT_PROCS);
    const clients: Child[] = [];
    const clientFiles = Math.ceil(perProc * 1.1) + 1000;
    for (let i = 0; i < CLIENT_PROCS; i++) {
      const count = Math.min(perProc, streams - i * perProc);
      const c = await startLimited(
        [
          '-r',
          '@swc-node/register',
          'bench/many-streams.ts',
          'client',
          String(port),
          String(count),
          String(RAMP_PER_S / CLIENT_PROCS),
        ],
        clientFiles,
        'client-ready',
      ).catch(async (err: unknown) => {
        for (const k of clients) k.proc.kill('SIGKILL');
        throw err;
      });
      clients.push(c);
    }
    const started = Date.now();
    let maxFiles = 0;
    // Ramp, then settle: wait until every stream has its 200 (committed) or the ramp is long over.
    for (;;) {
      await sleep(2000);
      const statuses = await Promise.all(
        clients.map((c) => {
          const p = nextMessage<{ opened: number; ok: number }>(c, 'status');
          send(c, 'status');
          return p;
        }),
      );
      const ok = statuses.reduce((a, s) => a + s.ok, 0);
      const opened = statuses.reduce((a, s) => a + s.opened, 0);
      const rss = vmRssKiB(pid);
      maxFiles = Math.max(maxFiles, readdirSync(`/proc/${pid}/fd`).length);
      log(
        `t=${round((Date.now() - started) / 1000, 0)} s: ${opened} opened, ${ok} streaming, relay RSS ${round(rss / 1024)} MiB`,
      );
      if (ok >= streams) break;
      if (Date.now() - started > (RAMP_S + 30) * 1000) {
        log(`only ${ok} of ${streams} streams committed; measuring those`);
        break;
      }
    }
    await sleep(SETTLE_S * 1000);

    // The steady window: delays measured by the clients, memory sampled here every 5 s.
    for (const c of clients) send(c, 'measure');
    const cpu0 = {
      relay: cpuSeconds(pid),
      upstream: cpuSeconds(upstreamPid),
      clients: clients.map((c) => cpuSeconds(c.proc.pid!)),
    };
    const sched0 = schedSeconds(pid);
    const t0 = Date.now();
    const first = await sampleMemory(pid, port);
    const samples: MemSample[] = [];
    longestScrapeMs = 0;
    while (Date.now() - t0 < STEADY_S * 1000) {
      await sleep(SAMPLE_EVERY_S * 1000);
      samples.push(await sampleMemory(pid, port));
    }
    const windowS = (Date.now() - t0) / 1000;
    const sched1 = schedSeconds(pid);
    const cpu = {
      relay: (cpuSeconds(pid) - cpu0.relay) / windowS,
      upstream: (cpuSeconds(upstreamPid) - cpu0.upstream) / windowS,
      clients: clients.reduce((a, c, i) => a + cpuSeconds(c.proc.pid!) - cpu0.clients[i]!, 0) / windowS,
    };
    const reports = await Promise.all(
      clients.map((c) => {
        const p = nextMessage<{ report: ClientReport }>(c, 'report');
        send(c, 'stop');
        return p.then((m) => m.report);
      }),
    );
    const steady = medianSample(samples);
    const all = new Float64Array(reports.reduce((a, r) => a + r.delays.length, 0));
    let k = 0;
    for (const r of reports) for (const d of r.delays) all[k++] = d;
    all.sort();
    const ok = reports.reduce((a, r) => a + r.ok, 0);
    const failedStatus: Record<string, number> = {};
    for (const r of reports)
      for (const [s, n] of Object.entries(r.failedStatus)) failedStatus[s] = (failedStatus[s] ?? 0) + n;
    await sleep(3000);
    const afterClose = await sampleMemory(pid, port);
    return {
      target: DIRECT ? 'the fake upstream, no relay (DIRECT=1)' : 'the relay',
      streams,
      relay_nofile: nofile,
      relay_idle_files: idleFiles,
      relay_max_files_seen: maxFiles,
      streaming: ok,
      failed_status: failedStatus,
      connect_errors: reports.reduce((a, r) => a + r.connectErrors, 0),
      error_codes: reports.reduce<Record<string, number>>((a, r) => {
        for (const [c, n] of Object.entries(r.errorCodes)) a[c] = (a[c] ?? 0) + n;
        return a;
      }, {}),
      relay_problems: relay.problems.slice(0, 10),
      closed_early: reports.reduce((a, r) => a + r.closedEarly, 0),
      error_events: reports.reduce((a, r) => a + r.errorEvents, 0),
      idle,
      steady,
      steady_rss_samples_mib: samples.map((s) => round(s.rssKiB / 1024)),
      after_close: afterClose,
      rss_per_stream_kib: round((steady.rssKiB - idle.rssKiB) / ok, 2),
      heap_used_per_stream_kib: round(((steady.heapUsedMiB - idle.heapUsedMiB) * 1024) / ok, 2),
      live_heap_per_stream_kib: round(((steady.heapUsedMinMiB! - idle.heapUsedMinMiB!) * 1024) / ok, 2),
      external_per_stream_kib: round(((steady.externalMiB - idle.externalMiB) * 1024) / ok, 2),
      window_s: round(windowS),
      events_in_window: all.length,
      events_per_s: round(all.length / windowS, 0),
      delay_ms: {
        p50: round(percentile(all, 50), 2),
        p90: round(percentile(all, 90), 2),
        p99: round(percentile(all, 99), 2),
        p999: round(percentile(all, 99.9), 2),
        max: round(all[all.length - 1] ?? NaN, 2),
        over_50ms: all.length - lowerBound(all, 50),
      },
      // The relay's own event loop, per second of the window (prom-client's monitorEventLoopDelay, reset on each
      // scrape): the median of the seconds' p99 and the longest delay of any second; and its collections.
      relay_loop_delay_p99_ms_median: round(median(samples.map((x) => x.loopP99Ms ?? NaN)), 2),
      relay_loop_delay_max_ms: round(Math.max(...samples.map((x) => x.loopMaxMs ?? NaN)), 2),
      relay_gc: gcBetween(first, samples[samples.length - 1]!, windowS),
      sample_every_s: SAMPLE_EVERY_S,
      longest_metrics_scrape_ms: round(longestScrapeMs, 1),
      client_loop_delay_p99_ms: round(Math.max(...reports.map((r) => r.loopP99Ms)), 2),
      client_loop_delay_max_ms: round(Math.max(...reports.map((r) => r.loopMaxMs)), 2),
      // Time the relay's event loop thread was runnable but waited for a CPU, per second: on a shared machine,
      // delay that is the machine's, not the relay's.
      relay_runqueue_wait_s_per_s: round((sched1.wait - sched0.wait) / windowS, 3),
      relay_main_thread_cpu_s_per_s: round((sched1.run - sched0.run) / windowS, 3),
      cpu_cores: {
        relay: round(cpu.relay, 2),
        upstream: round(cpu.upstream, 2),
        clients: round(cpu.clients, 2),
      },
    };
  } finally {
    relay.proc.kill('SIGKILL');
  }
}

/** The index of the first value >= x in a sorted array. */
function lowerBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

async function slowClients(upstream: string, dir: string, nofile: number) {
  const { relay, port, pid, snapshots } = await startRelay(upstream, dir, nofile, 'relay-slow');
  const sockets: Socket[] = [];
  try {
    await warmUp(port);
    await fullGc(pid, snapshots);
    const idle = await idleMemory(pid, port);
    log(`slow clients: idle RSS ${round(idle.rssKiB / 1024)} MiB`);
    const request = rawRequest(port, FLOOD_MODEL);
    const readers: StreamReader[] = [];
    // What each client finds waiting when it reads again: bytes that the upstream had sent before it resumed.
    const waiting: number[] = [];
    let resumedAt = Infinity;
    for (let i = 0; i < SLOW; i++) {
      const idx = i;
      waiting.push(0);
      let counting = true;
      const reader = new StreamReader((sentAt) => {
        if (sentAt >= resumedAt) counting = false;
      });
      readers.push(reader);
      const socket = connect({ port, host: '127.0.0.1' });
      socket.on('connect', () => {
        socket.write(request);
        // Reads nothing: the kernel's receive buffer fills, then the relay's socket, then the relay itself.
        socket.pause();
      });
      // Counted by chunk, up to the one with the first event sent after the resume (so to within a chunk).
      socket.on('data', (chunk: Buffer) => {
        if (counting) waiting[idx]! += chunk.length;
        reader.push(chunk, now());
      });
      socket.on('error', () => undefined);
      sockets.push(socket);
    }
    const t0 = Date.now();
    const samples: Array<{ t: number; rssMiB: number; heapUsedMiB: number; externalMiB: number }> = [];
    let exceeded = false;
    while (Date.now() - t0 < SLOW_S * 1000) {
      await sleep(1000);
      const m = await sampleMemory(pid, port);
      samples.push({
        t: round((Date.now() - t0) / 1000, 0),
        rssMiB: round(m.rssKiB / 1024),
        heapUsedMiB: round(m.heapUsedMiB),
        externalMiB: round(m.externalMiB),
      });
      if (m.rssKiB / 1024 > SLOW_RSS_LIMIT_MIB) {
        exceeded = true;
        log(`relay RSS over ${SLOW_RSS_LIMIT_MIB} MiB: memory not bounded, stopping`);
        break;
      }
    }
    log(`slow clients: RSS over time ${samples.map((s) => s.rssMiB).join(' ')} MiB`);
    const kernel = await socketMemory(pid);
    await fullGc(pid, snapshots);
    const collected = await sampleMemory(pid, port);
    // Every client reads again for 3 s; what arrives stamped before this moment was held along the way.
    resumedAt = now();
    for (const s of sockets) s.resume();
    await sleep(3000);
    const peak = Math.max(...samples.map((s) => s.rssMiB));
    const last = samples.at(-1)!;
    const sortedWaiting = [...waiting].sort((a, b) => a - b);
    return {
      clients: SLOW,
      seconds: SLOW_S,
      committed: readers.filter((r) => r.status === 200).length,
      idle_rss_mib: round(idle.rssKiB / 1024),
      idle_heap_used_mib: round(idle.heapUsedMiB),
      peak_rss_mib: peak,
      last: last,
      growth_per_client_kib: round(((last.rssMiB - idle.rssKiB / 1024) * 1024) / SLOW),
      peak_growth_per_client_kib: round(((peak - idle.rssKiB / 1024) * 1024) / SLOW),
      waiting_kib_per_client: {
        min: round(sortedWaiting[0]! / 1024),
        median: round(median(sortedWaiting) / 1024),
        max: round(sortedWaiting.at(-1)! / 1024),
      },
      unbounded: exceeded,
      relay_socket_kernel_memory: kernel,
      after_full_gc: {
        rss_mib: round(collected.rssKiB / 1024),
        heap_used_mib: round(collected.heapUsedMiB),
        external_mib: round(collected.externalMiB),
        external_growth_per_client_kib: round(((collected.externalMiB - idle.externalMiB) * 1024) / SLOW),
      },
      statuses: readers.map((r) => r.status),
      waiting_kib: waiting.map((w) => round(w / 1024)),
      relay_problems: relay.problems.slice(0, 10),
      samples,
    };
  } finally {
    for (const s of sockets) s.destroy();
    relay.proc.kill('SIGKILL');
  }
}

function log(line: string): void {
  process.stdout.write(`[many-streams] ${line}\n`);
}

async function main(): Promise<void> {
  const role = process.argv[2];
  if (role === 'upstream') return upstreamRole();
  if (role === 'client') {
    clientRole(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
    console.log('client-ready');
    return;
  }

  // Both ends of every stream in the relay, plus its own files.
  // The soft limit is raised up to the hard one (only CAP_SYS_RESOURCE may raise that); the relay's streams are
  // cut to what fits when it is lower than 2 per stream plus its own files.
  const hard = Number(
    await shell('ulimit -Hn')
      .catch(() => 'unlimited')
      .then((s) => (s.trim() === 'unlimited' ? Infinity : s)),
  );
  const nofile = Math.min(hard, Math.max(2 * STREAMS + 2000, 4096));
  if (nofile < 2 * STREAMS + 200) {
    log(`ulimit -Hn is ${hard}: fewer than ${STREAMS} streams fit in one relay (2 descriptors each)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-streams-'));
  const upstream = await startLimited(
    ['-r', '@swc-node/register', 'bench/many-streams.ts', 'upstream'],
    Math.min(hard, STREAMS + 2000),
    'listening',
  );
  const url = /listening (\S+)/.exec(upstream.output)![1]!;
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node.js ${process.version}`,
    load_average: readFileSync('/proc/loadavg', 'utf8').trim(),
    node_flags: PROXY_NODE_FLAGS.join(' '),
    config: {
      BODY_KB,
      STREAMS,
      CLIENT_PROCS,
      RAMP_PER_S,
      SETTLE_S,
      STEADY_S,
      STREAM_EVENTS,
      SLOW,
      SLOW_S,
      FLOOD_EVENTS,
    },
  };
  try {
    if (STREAMS > 0) {
      result.many = await manyStreams(url, upstream.proc.pid!, dir, nofile);
      log(JSON.stringify(result.many, null, 1));
    }
    if (SLOW > 0) {
      result.slow = await slowClients(url, dir, nofile);
      log(JSON.stringify(result.slow, null, 1));
    }
    result.load_average_after = readFileSync('/proc/loadavg', 'utf8').trim();
  } finally {
    upstream.proc.kill('SIGKILL');
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const out = join(ROOT, 'bench', 'results', process.env.RESULT_FILE ?? 'many-streams.json');
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  log(`written to ${out}`);
}

function shell(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

const role = process.argv[2];
main().then(
  () => {
    if (role !== 'upstream' && role !== 'client') process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
