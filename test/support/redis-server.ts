import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test harness: a throw-away `redis-server` on a free port that a test may kill and bring back on the same
 * port (the "Redis down under load" tests). Never persists anything (--save "" --appendonly no).
 */

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every server this process started if the run dies before its afterAll (best effort). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * Whether the Redis binaries are installed. When they are not: under CI (env CI set) this throws, because a
 * skipped Redis suite must fail the build; elsewhere it returns false after a loud warning.
 */
export function redisServerAvailable(binaries: string[] = ['redis-server']): boolean {
  const missing = binaries.filter((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return true;
  const message = `${missing.join(', ')} not installed: the Redis tests that start their own servers cannot run`;
  if (process.env.CI) throw new Error(`${message} (CI is set, so this is a failure, not a skip)`);
  console.warn(
    `\n${'!'.repeat(100)}\n!!! SKIPPING: ${message}.\n!!! Install redis-server to run them.\n${'!'.repeat(100)}\n`,
  );
  return false;
}

/**
 * Whether redis-server was built with TLS (and `openssl` is there to make a certificate), for the TLS cluster of
 * RedisCluster. When not: under CI this throws (a skipped suite must fail the build); elsewhere it warns and
 * returns false.
 */
export function redisTlsAvailable(): boolean {
  // A TLS build refuses this (no CA file) with "Failed to configure TLS"; a build without TLS never says that.
  const probe = spawnSync(
    'redis-server',
    ['--port', '0', '--tls-port', '1', '--tls-cert-file', '/nonexistent', '--tls-key-file', '/nonexistent'],
    { encoding: 'utf8', timeout: 5000 },
  );
  const tls = `${probe.stdout ?? ''}${probe.stderr ?? ''}`.includes('Failed to configure TLS');
  const openssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
  if (tls && openssl) return true;
  const message = tls ? 'openssl not installed' : 'redis-server was built without TLS';
  if (process.env.CI)
    throw new Error(`${message}: the TLS cluster test cannot run (CI is set, so this fails)`);
  console.warn(`\n${'!'.repeat(100)}\n!!! SKIPPING the TLS cluster test: ${message}.\n${'!'.repeat(100)}\n`);
  return false;
}

/**
 * Whether something answers PING at host:port, checked synchronously (in a child node process) so test files
 * can decide to skip at collection time. Under CI an unreachable Redis throws instead of skipping.
 */
export function redisReachableSync(host: string, port: number): boolean {
  const script = `
    const s = require('node:net').connect(${port}, ${JSON.stringify(host)});
    s.setTimeout(1000, () => process.exit(1));
    s.on('error', () => process.exit(1));
    s.on('connect', () => s.write('PING\\r\\n'));
    s.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1));`;
  const ok = spawnSync(process.execPath, ['-e', script], { stdio: 'ignore', timeout: 5000 }).status === 0;
  if (ok) return true;
  const message = `no Redis answers on ${host}:${port}`;
  if (process.env.CI) throw new Error(`${message} (CI is set, so this is a failure, not a skip)`);
  console.warn(`\n${'!'.repeat(100)}\n!!! SKIPPING: ${message}.\n${'!'.repeat(100)}\n`);
  return false;
}

/** A port nobody listens on right now (bind port 0, read it, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Sends one inline command over a raw socket and resolves the raw reply (no client library involved). With a
 * `password` (a server started with --requirepass) it sends `AUTH <password>` first and resolves the reply of
 * the command, or the AUTH error. The password must not contain whitespace or quotes (inline protocol).
 */
export async function rawCommand(
  port: number,
  command: string,
  timeoutMs = 1000,
  password?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    let authPending = password !== undefined;
    const done = (error?: Error) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`redis :${port} did not answer ${command}`)));
    socket.on('error', done);
    socket.on('connect', () =>
      socket.write(password === undefined ? `${command}\r\n` : `AUTH ${password}\r\n${command}\r\n`),
    );
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (authPending) {
        const end = reply.indexOf('\r\n');
        if (end < 0) return;
        if (!reply.startsWith('+OK')) {
          reply = reply.slice(0, end + 2);
          done();
          return;
        }
        authPending = false;
        reply = reply.slice(end + 2);
        if (reply === '') return;
      }
      // Inline replies end with CRLF; bulk replies ($n\r\n...\r\n) once the announced length has arrived.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (!bulk && reply.endsWith('\r\n')) done();
      else if (bulk && reply.length >= bulk[0].length + Number(bulk[1]) + 2) done();
    });
  });
}

/** Resolves once PING answers PONG on the port (after AUTH, given a password), rejects after `timeoutMs`. */
export async function waitForPing(port: number, timeoutMs = 10_000, password?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await rawCommand(port, 'PING', 500, password)).startsWith('+PONG')) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline)
      throw new Error(`redis-server on :${port} did not answer PING in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A spawned redis-server and the tail of its log (shown when it fails to come up). */
export interface SpawnedRedis {
  child: ChildProcess;
  log(): string;
}

/** Spawns `redis-server` with the given arguments, tracked so a crashed run still kills it on exit. */
export function spawnRedis(args: string[], cwd: string): SpawnedRedis {
  installExitHook();
  const child = spawn('redis-server', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.on('error', () => live.delete(child));
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, log: () => tail };
}

/**
 * Spawns and waits for PING (on `port`, plain TCP, after AUTH given a password); on failure kills the child and
 * puts its log in the error.
 */
export async function spawnRedisAndWait(
  args: string[],
  cwd: string,
  port: number,
  password?: string,
): Promise<ChildProcess> {
  const spawned = spawnRedis(args, cwd);
  try {
    await waitForPing(port, 10_000, password);
  } catch (error) {
    await killChild(spawned.child);
    throw new Error(`${(error as Error).message}\n--- redis-server log ---\n${spawned.log()}`);
  }
  return spawned.child;
}

/** Kills a child and resolves when it is gone. */
export async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** One extra redis-server on a free port, for tests that kill and restart it. */
export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'cc-relay-redis-'));

  private constructor(readonly port: number) {}

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.spawn();
    return server;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the server (SIGKILL: the way a crash or a pulled cable looks to the client). */
  async stop(): Promise<void> {
    await killChild(this.child);
    this.child = undefined;
  }

  /** Brings a server back on the same port (empty: nothing is persisted). */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawn();
  }

  /** Stops the server and removes its working directory. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async spawn(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    this.child = await spawnRedisAndWait([...args, '--dir', this.dir], this.dir, this.port);
  }
}
