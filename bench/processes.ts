import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The repository root (benchmarks start the built relay and the fake upstream from here). */
export const ROOT = join(__dirname, '..');

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Spawns `node <args>` in the repository, output piped (read it, or the pipe fills); `env` adds to ours. */
export function spawnNode(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn('node', args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
  });
}

/**
 * Spawns `node <args>` in the repository and resolves once its output contains `readyText` (20 s at most).
 * `env` adds to this process's environment.
 */
export function startNode(
  args: string[],
  readyText: string,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnNode(args, env);
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${seen}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (seen.length < 10_000) seen += d.toString();
      if (seen.includes(readyText)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr?.on('data', (d: Buffer) => (seen += d.toString()));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${seen}`)));
  });
}

/** CPU seconds (user + system, every thread) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Node flags both proxies run with: the relay's own, as `npm start` and the Dockerfile give them, so the relay is
 * measured as it ships and the reference gets the same runtime (BENCH_NODE_FLAGS overrides, '' for none).
 */
export const PROXY_NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '--no-memory-reducer')
  .split(' ')
  .filter(Boolean);

/** The client key the benchmarks' relays accept. */
export const BENCH_CLIENT_KEY = 'bench-client-key-0001';

/**
 * The config of a benchmark relay: one `anthropic` provider at `upstream` with one key, one client key, JSON logs
 * at `logLevel` (info: one access line per request), then `extra` (a cache section; the default turns the cache off).
 */
export function benchRelayConfig(
  port: number,
  upstream: string,
  extra: string[] = ['cache:', '  mode: disabled'],
  logLevel = 'info',
): string {
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
    'logging:',
    `  level: ${logLevel}`,
    ...extra,
    '',
  ].join('\n');
}

/**
 * The fake upstream of `test/fakes` on `port` (the benchmarks' stand-in for the Anthropic API); `extra` adds its
 * options (`--sse-deltas N`, `--sse-delay-ms M`: see fake-upstream.main.ts).
 */
export function startFakeUpstream(port: number, extra: string[] = []): Promise<ChildProcess> {
  return startNode(
    ['-r', '@swc-node/register', 'test/fakes/fake-upstream.main.ts', '--port', String(port), ...extra],
    'listening',
  );
}

/**
 * The fake upstream's stream shape from the environment: DELTAS=N content_block_delta events per streamed answer
 * (default: the fake's 3), EVENT_DELAY_MS=M between events (each event then its own write). Returns its options
 * and the events one streamed answer has (deltas plus message_start, content_block_start/stop, message_delta,
 * message_stop), for a cost per event.
 */
export function streamShapeFromEnv(env: NodeJS.ProcessEnv = process.env): { args: string[]; events: number } {
  const args: string[] = [];
  if (env.DELTAS) args.push('--sse-deltas', env.DELTAS);
  if (env.EVENT_DELAY_MS) args.push('--sse-delay-ms', env.EVENT_DELAY_MS);
  // An empty DELTAS (DELTAS= in a shell loop) is the fake's default, as in args above.
  return { args, events: Number(env.DELTAS || 3) + 5 };
}

/**
 * The node arguments of the reference pass-through proxy (`bench/reference-proxy.ts`, or `script`) on `port`,
 * forwarding to `upstream`, with `flags` before the script (the proxy flags, plus any a benchmark adds).
 */
export function referenceArgs(
  port: number,
  upstream: string,
  flags: string[] = PROXY_NODE_FLAGS,
  script = 'bench/reference-proxy.ts',
): string[] {
  return [...flags, '-r', '@swc-node/register', script, String(port), upstream];
}

/** The text the reference proxy prints once it accepts connections. */
export const REFERENCE_READY = 'ready';

/** The headers of a benchmark request: JSON body, the bench client key, the API version. */
export const BENCH_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'x-api-key': BENCH_CLIENT_KEY,
  'anthropic-version': '2023-06-01',
};

/** The body of a benchmark request: a short chat turn of realistic size, streamed or not. */
export function benchMessagesBody(stream: boolean, model = 'claude-sonnet-4-6'): string {
  return JSON.stringify({
    model,
    max_tokens: 256,
    stream,
    messages: [{ role: 'user', content: 'Benchmark me: a short prompt of realistic size for a chat turn.' }],
  });
}

let distinctSent = 0;

/**
 * A load's request body: benchMessagesBody every time, or (distinct) one numbered per request of this process,
 * all of one length, so that with a cache on every request is a miss that gets stored.
 */
export function benchRequestBody(stream: boolean, distinct: boolean): string | (() => string) {
  const body = benchMessagesBody(stream);
  if (!distinct) return body;
  return () => body.replace('Benchmark me', `Benchmark me #${String(distinctSent++).padStart(12, '0')}`);
}

/** Counts the full (Mark-Compact) GCs a process started with --trace-gc reports on its stdout: the count so far. */
export function fullGcCounter(child: ChildProcess): () => number {
  let count = 0;
  child.stdout?.on('data', (d: Buffer) => {
    count += d.toString('latin1').split('Mark-Compact').length - 1;
  });
  return () => count;
}
