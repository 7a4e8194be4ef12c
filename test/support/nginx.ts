import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './redis-server';

/**
 * Test harness: a real nginx (Debian's package, installed by .ci/run) in front of relay replicas, running the
 * ingress config that ships in deploy/nginx. Only what cannot be the same on a shared test machine is rewritten:
 * the listen address (a free loopback port), the pid file, temp and log paths (a private directory), and the
 * upstream list (the replicas' loopback ports instead of the compose service name). Every rewrite must match the
 * shipped text, so a changed deploy file fails here instead of being silently left untested.
 */

const DEPLOY_NGINX = resolve(__dirname, '../../deploy/nginx');
const NGINX_BIN = ['/usr/sbin/nginx', 'nginx'];

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // SIGTERM, not SIGKILL: the master then takes its workers down with it (a killed master orphans them).
  process.once('exit', () => {
    for (const child of live) child.kill('SIGTERM');
  });
}

/** The nginx binary, or undefined. Under CI a missing nginx throws: a skipped ingress suite must fail the build. */
export function nginxBinary(): string | undefined {
  const found = NGINX_BIN.find((bin) => spawnSync(bin, ['-v'], { stdio: 'ignore' }).status === 0);
  if (found) return found;
  const message = 'nginx is not installed: the multi-replica tests behind the ingress cannot run';
  if (process.env.CI) throw new Error(`${message} (CI is set, so this is a failure, not a skip)`);
  console.warn(`\n${'!'.repeat(100)}\n!!! SKIPPING: ${message}.\n${'!'.repeat(100)}\n`);
  return undefined;
}

/** Replaces `from` in `text`, throwing when the shipped file no longer contains it. */
function rewrite(text: string, from: string | RegExp, to: string, file: string): string {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  if (!found)
    throw new Error(`deploy/nginx/${file} no longer contains ${String(from)}: update test/support/nginx.ts`);
  return text.replace(from, to);
}

/** The shipped nginx.conf and upstream.conf, pointed at `replicaPorts` and listening on `port` under `dir`. */
export function renderNginxConfig(
  dir: string,
  port: number,
  replicaPorts: number[],
): { nginxConf: string; upstreamConf: string } {
  let conf = readFileSync(join(DEPLOY_NGINX, 'nginx.conf'), 'utf8');
  conf = rewrite(conf, /^\s*listen 8080;$/m, `    listen 127.0.0.1:${port};`, 'nginx.conf');
  conf = rewrite(conf, 'pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`, 'nginx.conf');
  conf = rewrite(conf, 'access_log /dev/stdout;', `access_log ${dir}/access.log;`, 'nginx.conf');
  conf = conf.replace(/\/tmp\/nginx-/g, `${dir}/nginx-`);
  let upstream = readFileSync(join(DEPLOY_NGINX, 'upstream.conf'), 'utf8');
  upstream = rewrite(
    upstream,
    /^(\s*)server relay:8787( .*;)$/m,
    replicaPorts.map((p) => `$1server 127.0.0.1:${p}$2`).join('\n'),
    'upstream.conf',
  );
  return { nginxConf: conf, upstreamConf: upstream };
}

/** Resolves once something accepts TCP connections on the port, rejects after `timeoutMs`. */
async function waitForListen(port: number, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on :${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A running nginx: the shipped ingress config over the given replica ports. */
export class Nginx {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly log: () => string,
  ) {}

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts nginx (in the foreground, as the compose file runs it) on a free port in front of `replicaPorts`. */
  static async start(replicaPorts: number[], bin = nginxBinary() ?? 'nginx'): Promise<Nginx> {
    installExitHook();
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-nginx-'));
    // Run as root, nginx's workers drop to `nobody` and must still reach the temp paths nginx creates here.
    chmodSync(dir, 0o755);
    const port = await freePort();
    const { nginxConf, upstreamConf } = renderNginxConfig(dir, port, replicaPorts);
    writeFileSync(join(dir, 'nginx.conf'), nginxConf);
    writeFileSync(join(dir, 'upstream.conf'), upstreamConf);
    const child = spawn(bin, ['-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const nginx = new Nginx(port, child, dir, () => tail);
    try {
      await waitForListen(port, 10_000, () => tail);
    } catch (error) {
      await nginx.stop();
      throw error;
    }
    return nginx;
  }

  /** The access log so far (one line per request nginx passed on). */
  accessLog(): string[] {
    try {
      return readFileSync(join(this.dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** Stops nginx (SIGTERM: a fast shutdown, workers included), waits for the exit and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((done) => {
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
        this.child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        this.child.kill('SIGTERM');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
