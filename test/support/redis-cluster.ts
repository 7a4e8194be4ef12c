import { ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, killChild, rawCommand, spawnRedisAndWait } from './redis-server';

/**
 * Test harness: a 3-master Redis Cluster (no replicas) on free ports, built with
 * `redis-server --cluster-enabled yes` and `redis-cli --cluster create`. Check `redisServerAvailable(['redis-server',
 * 'redis-cli'])` first; call `stop()` in afterAll.
 */

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

/** A running 3-master Redis Cluster on 127.0.0.1. */
export class RedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly children: ChildProcess[],
    private readonly dir: string,
  ) {}

  /** `host:port` seeds, as `cache.redis.cluster_nodes` takes them. */
  get nodes(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  /** Starts three cluster-enabled servers, joins them, and waits for `cluster_state:ok` on each. */
  static async start(masters = 3): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-cluster-'));
    const children: ChildProcess[] = [];
    const ports: number[] = [];
    const cluster = new RedisCluster(ports, children, dir);
    try {
      const taken = new Set<number>();
      for (let i = 0; i < masters; i++) {
        const port = await clusterPort(taken);
        taken.add(port).add(port + 10_000);
        ports.push(port);
      }
      for (const port of ports) {
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
        children.push(await spawnRedisAndWait(args, dir, port));
      }
      await execFileAsync(
        'redis-cli',
        ['--cluster', 'create', ...cluster.nodes, '--cluster-replicas', '0', '--cluster-yes'],
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
        this.ports.map((port) => rawCommand(port, 'CLUSTER INFO').catch(() => '')),
      );
      if (states.every((info) => info.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline)
        throw new Error(`Redis Cluster ${this.nodes.join(',')} never reached cluster_state:ok`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
