import { ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, killChild, rawCommand, spawnRedisAndWait } from './redis-server';

/**
 * Test harness: a 3-master Redis Cluster (no replicas unless asked: `replicas: 1` and `killMasterOf` for failovers) on free ports, built with
 * `redis-server --cluster-enabled yes` and `redis-cli --cluster create`. Check `redisServerAvailable(['redis-server',
 * 'redis-cli'])` first; call `stop()` in afterAll. Optionally password-protected (`--requirepass`/`--masterauth`)
 * and/or TLS-only for clients (`--tls-cluster yes`, a throw-away self-signed certificate made with `openssl`).
 */

/** How to build the cluster. */
export interface RedisClusterOptions {
  /** Masters; 3 by default. */
  masters?: number;
  /**
   * Replicas per master (`--cluster-replicas`); 0 by default. With replicas the nodes use a 1000 ms
   * `cluster-node-timeout`, so a killed master's replica is promoted within a few seconds (see `killMasterOf`).
   */
  replicas?: number;
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
  /** Plain ports of the nodes `killMasterOf` killed. */
  private readonly dead = new Set<number>();

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
      replicas = 0,
      password,
      tls = false,
    } = typeof options === 'number' ? { masters: options } : options;
    const count = masters * (1 + replicas);
    const nodeTimeout = replicas > 0 ? '1000' : '2000';
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-cluster-'));
    const children: ChildProcess[] = [];
    const ports: number[] = [];
    const clientPorts: number[] = [];
    const cluster = new RedisCluster(ports, clientPorts, children, dir, password, tls);
    try {
      const taken = new Set<number>();
      // The bus port is the announced port + 10000: the TLS port on a TLS cluster.
      for (let i = 0; i < count; i++) {
        const port = await clusterPort(taken);
        taken.add(port).add(port + 10_000);
        clientPorts.push(port);
      }
      if (tls) {
        for (let i = 0; i < count; i++) {
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
          '--cluster-node-timeout', nodeTimeout,
          '--save', '',
          '--appendonly', 'no',
          '--dir', dir,
        ]; // prettier-ignore
        // A replica may always take over, however long its link to the master has been down.
        if (replicas > 0) args.push('--cluster-replica-validity-factor', '0');
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
        [
          ...cli,
          '--cluster',
          'create',
          ...cluster.nodes,
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { timeout: 30_000 },
      );
      await cluster.waitForState();
      if (replicas > 0) await cluster.waitForReplicas(masters * replicas);
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

  /**
   * Takes out the master that serves `key`'s hash slot and returns its plain port: `SIGKILL` is a crash (its
   * sockets are reset at once), `SIGSTOP` a hang or partition (connections stay open, nothing answers; `stop()`
   * still kills it). Needs a cluster started with `replicas`; `waitForPromotion` then waits for its replica.
   */
  async killMasterOf(key: string, signal: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL'): Promise<number> {
    const port = await this.masterOf(key);
    const child = this.children[this.ports.indexOf(port)];
    if (signal === 'SIGKILL') await killChild(child);
    else child?.kill('SIGSTOP');
    this.dead.add(port);
    return port;
  }

  /**
   * Waits until a surviving node is the master of `key`'s slot and every surviving node reports
   * `cluster_state:ok`; returns the new master's plain port.
   */
  async waitForPromotion(key: string, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const owner = await this.masterOf(key).catch(() => undefined);
      if (owner !== undefined && !this.dead.has(owner)) {
        await this.waitForState(Math.max(0, deadline - Date.now()));
        return owner;
      }
      if (Date.now() > deadline) throw new Error(`no replica took over the slot of ${key} in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The plain port of the master serving `key`'s slot, as a live node sees it (CLUSTER KEYSLOT + CLUSTER NODES). */
  async masterOf(key: string): Promise<number> {
    const live = this.ports.find((port) => !this.dead.has(port));
    if (live === undefined) throw new Error('no live node');
    const slot = Number((await this.command(live, `CLUSTER KEYSLOT ${key}`)).replace(/^:/, '').trim());
    const nodes = await this.command(live, 'CLUSTER NODES');
    for (const line of nodes.split('\n')) {
      // <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot> <slot> ...
      const fields = line.trim().split(' ');
      if (fields.length < 9 || !fields[2]!.split(',').includes('master') || fields[2]!.includes('fail'))
        continue;
      const owns = fields.slice(8).some((range) => {
        if (range.startsWith('[')) return false; // a slot being migrated
        const [from, to = from] = range.split('-').map(Number);
        return slot >= from! && slot <= to!;
      });
      if (!owns) continue;
      const announced = Number(fields[1]!.split('@')[0]!.split(':')[1]);
      const index = this.clientPorts.indexOf(announced);
      if (index >= 0) return this.ports[index]!;
    }
    throw new Error(`no live master serves slot ${slot} (of ${key})`);
  }

  /** Waits until `count` replicas have finished their first sync (`master_link_status:up`). */
  private async waitForReplicas(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(
        this.ports.map((port) => this.command(port, 'INFO replication').catch(() => '')),
      );
      if (infos.filter((info) => info.includes('master_link_status:up')).length >= count) return;
      if (Date.now() > deadline)
        throw new Error(`Redis Cluster ${this.nodes.join(',')}: replicas never synced`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async waitForState(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.ports
          .filter((port) => !this.dead.has(port))
          .map((port) => this.command(port, 'CLUSTER INFO').catch(() => '')),
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
