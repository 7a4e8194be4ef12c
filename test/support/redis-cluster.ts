import { ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, killChild, rawCommand, spawnRedisAndWait } from './redis-server';

/**
 * Test harness: a 3-master Redis Cluster (no replicas) on free ports, built with
 * `redis-server --cluster-enabled yes` and `redis-cli --cluster create`. Check `redisServerAvailable(['redis-server',
 * 'redis-cli'])` first; call `stop()` in afterAll. Optionally password-protected (`--requirepass`/`--masterauth`)
 * and/or TLS-only for clients (`--tls-cluster yes`, a throw-away self-signed certificate made with `openssl`).
 */

/** How to build the cluster. */
export interface RedisClusterOptions {
  /** Masters (no replicas); 3 by default. */
  masters?: number;
  /**
   * `--requirepass` and `--masterauth` on every node; `redis-cli -a` joins them. No whitespace or quotes (the
   * harness sends it with inline commands).
   */
  password?: string;
  /**
   * Nodes serve clients and the cluster bus over TLS and announce their TLS ports; each also keeps a plain port
   * (`ports`) for the harness's own raw commands. Needs a redis-server built with TLS, and `openssl`.
   */
  tls?: boolean;
}

const execFileAsync = promisify(execFile);

// Each node also needs its cluster bus port (port + 10000) free; older servers have no --cluster-port option.
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port > 55_535 || taken.has(port) || taken.has(port + 10_000)) continue;
    if (await portFree(port + 10_000)) return port;
  }
  throw new Error('could not find free ports for a Redis Cluster node (port and port + 10000)');
}

async function portFree(port: number): Promise<boolean> {
  try {
    await rawCommand(port, 'PING', 200);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

/** A running Redis Cluster on 127.0.0.1 (3 masters unless told otherwise). */
export class RedisCluster {
  private constructor(
    /** The plain-TCP ports of the nodes: where `command()` / rawCommand reach them. */
    readonly ports: number[],
    /** The ports the nodes announce to clients: the TLS ports of a TLS cluster, else `ports`. */
    readonly clientPorts: number[],
    private readonly children: ChildProcess[],
    private readonly dir: string,
    /** The `requirepass` of every node, when there is one. */
    readonly password: string | undefined,
    readonly tls: boolean,
  ) {}

  /** `host:port` seeds, as `cache.redis.cluster_nodes` takes them (no credentials, no TLS). */
  get nodes(): string[] {
    return this.clientPorts.map((p) => `127.0.0.1:${p}`);
  }

  /**
   * URL seeds, `redis://` (`rediss://` on a TLS cluster) with `:<password>@` (URL-encoded) when a password is given,
   * by default the cluster's own; pass `null` for none.
   */
  urls(password: string | null = this.password ?? null): string[] {
    const scheme = this.tls ? 'rediss' : 'redis';
    const auth = password === null ? '' : `:${encodeURIComponent(password)}@`;
    return this.clientPorts.map((p) => `${scheme}://${auth}127.0.0.1:${p}`);
  }

  /** A raw inline command to the node on plain port `port` (one of `ports`), authenticated when needed. */
  async command(port: number, command: string): Promise<string> {
    return rawCommand(port, command, 1000, this.password);
  }

  /** Starts cluster-enabled servers, joins them, and waits for `cluster_state:ok` on each. */
  static async start(options: number | RedisClusterOptions = {}): Promise<RedisCluster> {
    const {
      masters = 3,
      password,
      tls = false,
    } = typeof options === 'number' ? { masters: options } : options;
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-cluster-'));
    const children: ChildProcess[] = [];
    const ports: number[] = [];
    const clientPorts: number[] = [];
    const cluster = new RedisCluster(ports, clientPorts, children, dir, password, tls);
    try {
      const taken = new Set<number>();
      // The bus port is the announced port + 10000: the TLS port on a TLS cluster.
      for (let i = 0; i < masters; i++) {
        const port = await clusterPort(taken);
        taken.add(port).add(port + 10_000);
        clientPorts.push(port);
      }
      if (tls) {
        for (let i = 0; i < masters; i++) {
          let port = await freePort();
          while (taken.has(port)) port = await freePort();
          taken.add(port);
          ports.push(port);
        }
      } else {
        ports.push(...clientPorts);
      }
      const tlsFiles = tls ? await selfSignedCertificate(dir) : undefined;
      for (const [i, port] of ports.entries()) {
        const args = [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '2000',
          '--save', '',
          '--appendonly', 'no',
          '--dir', dir,
        ]; // prettier-ignore
        if (password !== undefined) args.push('--requirepass', password, '--masterauth', password);
        if (tlsFiles !== undefined) {
          args.push(
            '--tls-port', String(clientPorts[i]),
            '--tls-cluster', 'yes',
            '--tls-cert-file', tlsFiles.cert,
            '--tls-key-file', tlsFiles.key,
            '--tls-ca-cert-file', tlsFiles.cert,
            '--tls-auth-clients', 'no',
          ); // prettier-ignore
        }
        children.push(await spawnRedisAndWait(args, dir, port, password));
      }
      const cli = [
        ...(password === undefined ? [] : ['-a', password, '--no-auth-warning']),
        ...(tlsFiles === undefined ? [] : ['--tls', '--cacert', tlsFiles.cert]),
      ];
      await execFileAsync(
        'redis-cli',
        [...cli, '--cluster', 'create', ...cluster.nodes, '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 30_000 },
      );
      await cluster.waitForState();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Kills every node and removes the temp directory (node configs). Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => killChild(child)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitForState(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.ports.map((port) => this.command(port, 'CLUSTER INFO').catch(() => '')),
      );
      if (states.every((info) => info.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline)
        throw new Error(`Redis Cluster ${this.nodes.join(',')} never reached cluster_state:ok`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Writes a throw-away self-signed certificate for 127.0.0.1 (its own CA) into `dir`. */
async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'tls-cert.pem');
  const key = join(dir, 'tls-key.pem');
  await execFileAsync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
    ], // prettier-ignore
    { timeout: 10_000 },
  );
  return { cert, key };
}
