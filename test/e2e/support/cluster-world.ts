import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'undici';
import { FakeUpstream, type RecordedRequest } from '../../fakes/fake-upstream';
import { Nginx } from '../../support/nginx';
import { RedisServer } from '../../support/redis-server';
import { ADMIN_TOKEN, SECONDARY_KEY, waitUntil } from './breaker-relay';
import { MINIMAL, post } from './http';
import { CLIENT_KEY, PROVIDER_KEY } from './relay-harness';
import { spawnRelay, type RelayProcess } from './relay-process';
import { openStream } from './sse-client';

/**
 * The multi-replica world of issue 20: a private redis-server (killable), two fake upstreams (`primary` in front
 * of `secondary` on the failover strategy), THREE relay processes (`src/main.ts --config`, as production runs
 * them) with `cluster.mode: redis` on that Redis, and a real nginx running the shipped deploy/nginx config with a
 * round-robin upstream over the three. Tests talk to `url` (nginx) like an operator behind an ingress.
 *
 * Every upstream request is attributed to the replica that sent it (`senderOf`): the fake records the client's
 * TCP port, and the world looks up, in /proc, which replica process owns that socket.
 */

export const REPLICAS = 3;

/** Deep merge of plain objects; arrays and scalars in `b` replace. */
export function mergeConfig(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlainObject(v) && isPlainObject(prev) ? mergeConfig(prev, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What every replica of a world runs with before the suite's patch: the cluster on the world's Redis. */
export function clusterConfig(
  redisUrl: string,
  primary: string,
  secondary: string,
  prefix: string,
): Record<string, unknown> {
  const models = ['claude-sonnet-4-6', 'claude-haiku-4-5'];
  return {
    server: {
      listen: '127.0.0.1:0',
      auth: { api_keys: [CLIENT_KEY] },
      shutdown: { delay_ms: 0, grace_ms: 1000 },
    },
    providers: [
      {
        name: 'primary',
        type: 'anthropic',
        base_url: primary,
        priority: 10,
        keys: [{ key: PROVIDER_KEY }],
        models,
      },
      {
        name: 'secondary',
        type: 'anthropic',
        base_url: secondary,
        priority: 5,
        keys: [{ key: SECONDARY_KEY }],
        models,
      },
    ],
    routing: { strategy: 'failover', debug: true },
    health: { health_check: { enabled: false } },
    cache: { mode: 'disabled' },
    admin: { token: ADMIN_TOKEN },
    logging: { level: 'info', format: 'json' },
    cluster: {
      mode: 'redis',
      redis: { url: redisUrl, key_prefix: prefix },
      heartbeat_ms: 500,
    },
  };
}

/** One replica: its process and its name (POD_NAME, what the admin API and x-cc-relay-instance call it). */
export interface Replica {
  name: string;
  process: RelayProcess;
}

/** A request an upstream received, with the replica that sent it (undefined when it could not be told). */
export interface SentRequest {
  rec: RecordedRequest;
  replica: string | undefined;
}

export class ClusterWorld {
  readonly primary = new FakeUpstream();
  readonly secondary = new FakeUpstream();
  redis!: RedisServer;
  nginx!: Nginx;
  readonly replicas: Replica[] = [];
  /** Upstream requests in arrival order, each with the replica that sent it. */
  readonly sent = new Map<FakeUpstream, SentRequest[]>();
  private readonly prefix = `cc-relay-e2e-cluster-${process.pid}-${Date.now()}:`;

  /** A last say over the config (e.g. a providers list built from the fakes' URLs, known only at start). */
  configure: (config: Record<string, unknown>) => Record<string, unknown> = (config) => config;

  constructor(private readonly patch: Record<string, unknown> = {}) {}

  /** The ingress (nginx) base URL: what every test talks to. */
  get url(): string {
    return this.nginx.url;
  }

  /** The config every replica runs (the world's base with the suite's patch; `cluster: null` leaves it out). */
  config(): Record<string, unknown> {
    const config = this.configure(
      mergeConfig(
        clusterConfig(this.redis.url, this.primary.url, this.secondary.url, this.prefix),
        this.patch,
      ),
    );
    if (config.cluster === null) delete config.cluster;
    // CC_RELAY_E2E_CLUSTER=local runs the same suite on per-replica state: how to see each check fail without
    // the shared state.
    else if (process.env.CC_RELAY_E2E_CLUSTER === 'local') delete config.cluster;
    return config;
  }

  async start(): Promise<void> {
    this.redis = await RedisServer.start();
    for (const fake of [this.primary, this.secondary]) {
      await fake.start();
      this.sent.set(fake, []);
      fake.onRecorded = (rec) => this.sent.get(fake)?.push({ rec, replica: this.senderOf(fake, rec) });
    }
    const config = this.config();
    // One after another: three compiles at once on a busy machine can outlast a replica's start timeout.
    for (let i = 0; i < REPLICAS; i++) {
      const name = `replica-${i}`;
      this.replicas.push({ name, process: await spawnRelay(config, { POD_NAME: name }) });
    }
    for (const r of this.replicas) {
      await waitUntil(
        `${r.name} to be ready`,
        async () => ((await status(`${r.process.url}/health/ready`)) === 200 ? true : undefined),
        {
          timeoutMs: 20_000,
        },
      );
    }
    this.nginx = await Nginx.start(this.replicas.map((r) => r.process.port));
  }

  /** Stops nginx, every replica, the fakes and Redis. Safe after a failed start. */
  async stop(): Promise<void> {
    await this.nginx?.stop();
    await Promise.all(this.replicas.map((r) => r.process.cleanup()));
    for (const fake of [this.primary, this.secondary]) fake.onRecorded = undefined;
    await this.primary.close();
    await this.secondary.close();
    await this.redis?.dispose();
  }

  /** Forgets the fakes' scripts and recorded requests. */
  resetFakes(): void {
    this.primary.reset();
    this.secondary.reset();
    for (const list of this.sent.values()) list.length = 0;
  }

  /** POST /v1/messages requests `fake` received since the last reset, with their senders. */
  messages(fake: FakeUpstream): SentRequest[] {
    return (this.sent.get(fake) ?? []).filter(
      (s) => s.rec.method === 'POST' && s.rec.path === '/v1/messages',
    );
  }

  /** Requests other than Messages (the health probes) `fake` received since the last reset. */
  probes(fake: FakeUpstream): SentRequest[] {
    return (this.sent.get(fake) ?? []).filter(
      (s) => !(s.rec.method === 'POST' && s.rec.path === '/v1/messages'),
    );
  }

  /** The replica by name. */
  replica(name: string): Replica {
    const found = this.replicas.find((r) => r.name === name);
    if (!found) throw new Error(`no replica ${name}`);
    return found;
  }

  /** Which replica's process owns the TCP connection `rec` came on (Linux /proc; undefined when gone or unknown). */
  private senderOf(fake: FakeUpstream, rec: RecordedRequest): string | undefined {
    if (rec.remotePort === undefined) return undefined;
    const inode = socketInode(rec.remotePort, Number(new URL(fake.url).port));
    if (inode === undefined) return undefined;
    const target = `socket:[${inode}]`;
    for (const r of this.replicas) {
      const pid = r.process.child.pid;
      if (pid === undefined) continue;
      try {
        for (const fd of readdirSync(`/proc/${pid}/fd`)) {
          try {
            if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return r.name;
          } catch {
            // closed meanwhile
          }
        }
      } catch {
        // process gone
      }
    }
    return undefined;
  }
}

/** The inode of the loopback TCP socket with this local port connected to `remotePort` (from /proc/net/tcp*). */
function socketInode(localPort: number, remotePort: number): string | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const local = `:${hex(localPort)}`;
  const remote = `:${hex(remotePort)}`;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      if (cols[1]!.endsWith(local) && cols[2]!.endsWith(remote)) return cols[9];
    }
  }
  return undefined;
}

async function status(url: string): Promise<number | 'refused'> {
  try {
    const res = await request(url);
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 'refused';
  }
}

/** GET with the admin token; status, the answering replica (x-cc-relay-instance) and the parsed body. */
export async function adminGet<T = unknown>(
  base: string,
  path: string,
): Promise<{ status: number; instance: string | undefined; body: T }> {
  const res = await request(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const text = await res.body.text();
  const instance = res.headers['x-cc-relay-instance'];
  return {
    status: res.statusCode,
    instance: typeof instance === 'string' ? instance : undefined,
    body: (text === '' ? undefined : JSON.parse(text)) as T,
  };
}

/** POST with the admin token (and a JSON body when given). */
export async function adminPost<T = unknown>(
  base: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; instance: string | undefined; body: T }> {
  const res = await request(`${base}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  const instance = res.headers['x-cc-relay-instance'];
  return {
    status: res.statusCode,
    instance: typeof instance === 'string' ? instance : undefined,
    body: (text === '' ? undefined : JSON.parse(text)) as T,
  };
}

/** The named provider's `state` as each replica answers GET /admin/providers (asked directly, not via nginx). */
export async function replicaProviderStates(world: ClusterWorld, provider: string): Promise<string[]> {
  return Promise.all(
    world.replicas.map(async (r) => {
      const answer = await adminGet<{ providers: Array<{ name: string; state: string }> }>(
        r.process.url,
        '/admin/providers',
      );
      if (answer.status !== 200) throw new Error(`${r.name}: GET /admin/providers answered ${answer.status}`);
      const found = answer.body.providers.find((p) => p.name === provider);
      if (!found) throw new Error(`${r.name}: no provider ${provider}`);
      return found.state;
    }),
  );
}

/** One client request of a load run that did not succeed. */
export interface FailedRequest {
  kind: 'json' | 'sse';
  what: string;
}

/** Client load running in the background until `stop()`. */
export interface Load {
  /** Requests answered in full so far. */
  readonly done: number;
  /** Stops sending, waits for the requests in flight and says what failed. */
  stop(): Promise<{ done: number; failed: FailedRequest[] }>;
}

/**
 * `concurrency` loops sending Messages requests through `base` one after another; with `sse`, every other request
 * streams. A JSON request succeeds with a 200 and a message body; a stream with a 200 and a final message_stop.
 */
export function runLoad(base: string, opts: { concurrency: number; sse?: boolean }): Load {
  let stopping = false;
  let done = 0;
  const failed: FailedRequest[] = [];
  const loop = async (lane: number) => {
    for (let i = 0; !stopping; i++) {
      const streaming = opts.sse === true && (i + lane) % 2 === 1;
      try {
        if (streaming) {
          const stream = await openStream(base, MINIMAL);
          const events = await stream.done;
          const last = events.at(-1);
          if (stream.status !== 200 || last?.event !== 'message_stop')
            failed.push({ kind: 'sse', what: `${stream.status} ${JSON.stringify(last ?? null)}` });
        } else {
          const answer = await post(base, '/v1/messages', MINIMAL);
          const text = await answer.body.text();
          if (answer.statusCode !== 200 || !text.includes('"type":"message"'))
            failed.push({ kind: 'json', what: `${answer.statusCode} ${text.slice(0, 300)}` });
        }
      } catch (error) {
        failed.push({ kind: streaming ? 'sse' : 'json', what: String(error) });
      }
      done++;
    }
  };
  const lanes = Array.from({ length: opts.concurrency }, (_, lane) => loop(lane));
  return {
    get done() {
      return done;
    },
    async stop() {
      stopping = true;
      await Promise.all(lanes);
      return { done, failed };
    },
  };
}
