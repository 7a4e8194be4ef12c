/**
 * Live heap per request in flight: the relay against the reference pass-through. Both proxies serve a warm-up,
 * then take a heap snapshot idle and again with N requests parked at the fake upstream (JSON requests waiting for
 * their answer: `fake-hang`; streams committed and then silent: `fake-stall`), and report the difference per
 * request and by constructor. Garbage collection under load scales with what requests in flight keep alive, so
 * this is the number the young generation's survival comes from.
 *
 *   npm run build && node -r @swc-node/register bench/inflight-heap.ts    (IN_FLIGHT=200)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { runLoad } from './load';
import {
  BENCH_HEADERS,
  benchMessagesBody,
  benchRelayConfig,
  freePort,
  PROXY_NODE_FLAGS,
  REFERENCE_READY,
  referenceArgs,
  startFakeUpstream,
  startNode,
} from './processes';

const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 200);

interface Summary {
  total: number;
  byName: Map<string, { size: number; count: number }>;
}

/** Sums a V8 heap snapshot's self sizes, by node type and name (constructor for objects). */
function summarise(file: string): Summary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeIdx = fields.indexOf('type');
  const nameIdx = fields.indexOf('name');
  const sizeIdx = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const byName = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeIdx]!]!;
    const size = snap.nodes[i + sizeIdx]!;
    total += size;
    let name = type;
    if (type === 'object' || type === 'closure' || type === 'hidden' || type === 'native')
      name = `${type}:${snap.strings[snap.nodes[i + nameIdx]!]}`;
    const e = byName.get(name) ?? { size: 0, count: 0 };
    e.size += size;
    e.count++;
    byName.set(name, e);
  }
  return { total, byName };
}

async function snapshot(child: ChildProcess, dir: string): Promise<Summary> {
  const before = new Set(readdirSync(dir));
  child.kill('SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const fresh = readdirSync(dir).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (fresh.length > 0) {
      const file = join(dir, fresh[0]!);
      // Written when the size stops changing.
      let last = -1;
      for (;;) {
        await new Promise((r) => setTimeout(r, 300));
        const size = readFileSync(file).length;
        if (size === last && size > 0) break;
        last = size;
      }
      const s = summarise(file);
      rmSync(file);
      return s;
    }
  }
  throw new Error('no heap snapshot written');
}

function diff(idle: Summary, busy: Summary, n: number, top = 25): string[] {
  const rows: Array<[string, number, number]> = [];
  for (const [name, b] of busy.byName) {
    const a = idle.byName.get(name) ?? { size: 0, count: 0 };
    rows.push([name, (b.size - a.size) / n, (b.count - a.count) / n]);
  }
  rows.sort((x, y) => y[1] - x[1]);
  return rows
    .slice(0, top)
    .map(
      ([name, size, count]) =>
        `  ${size.toFixed(0).padStart(7)} B  ${count.toFixed(2).padStart(6)}x  ${name}`,
    );
}

async function main(): Promise<void> {
  const fakePort = await freePort();
  const refPort = await freePort();
  const relayPort = await freePort();
  const upstream = `http://127.0.0.1:${fakePort}`;
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-heap-'));
  const configPath = join(dir, 'bench.yaml');
  writeFileSync(configPath, benchRelayConfig(relayPort, upstream));
  const children: ChildProcess[] = [];
  const snapFlags = (sub: string) => [`--heapsnapshot-signal=SIGUSR2`, `--diagnostic-dir=${join(dir, sub)}`];
  mkdirp(join(dir, 'ref'));
  mkdirp(join(dir, 'relay'));
  try {
    children.push(await startFakeUpstream(fakePort));
    const ref = await startNode(
      referenceArgs(refPort, upstream, [...PROXY_NODE_FLAGS, ...snapFlags('ref')]),
      REFERENCE_READY,
    );
    children.push(ref);
    const relay = await startNode(
      [...PROXY_NODE_FLAGS, ...snapFlags('relay'), 'dist/main.js', '--config', configPath],
      'listening',
    );
    children.push(relay);
    const headers = BENCH_HEADERS;
    for (const [name, child, port] of [
      ['reference', ref, refPort],
      ['relay', relay, relayPort],
    ] as const) {
      const url = `http://127.0.0.1:${port}`;
      for (const stream of [true, false]) {
        const body = (model: string) => benchMessagesBody(stream, model);
        await runLoad({
          url,
          path: '/v1/messages',
          body: body('claude-sonnet-4-6'),
          headers,
          connections: 32,
          durationMs: 3000,
        });
        const idle = await snapshot(child, join(dir, name === 'relay' ? 'relay' : 'ref'));
        // JSON first would leave the reference's upstream pool full of unanswered requests (it never aborts
        // them), so streams go first; IN_FLIGHT stays below the reference's 256 upstream connections.
        const agent = new Agent({ connections: IN_FLIGHT + 10 });
        const stop = new AbortController();
        setMaxListeners(IN_FLIGHT + 10, stop.signal);
        const parked = Array.from({ length: IN_FLIGHT }, () =>
          request(url + '/v1/messages', {
            method: 'POST',
            headers,
            body: body(stream ? 'fake-stall' : 'fake-hang'),
            dispatcher: agent,
            signal: stop.signal,
          }).then(
            async (r) => {
              try {
                for await (const _ of r.body) void _;
              } catch {
                // aborted below
              }
            },
            () => undefined,
          ),
        );
        await new Promise((r) => setTimeout(r, 1500));
        const busy = await snapshot(child, join(dir, name === 'relay' ? 'relay' : 'ref'));
        process.stdout.write(
          `${name} ${stream ? 'stream (committed, silent)' : 'JSON (waiting for the upstream)'}: ` +
            `${((busy.total - idle.total) / IN_FLIGHT).toFixed(0)} B live per request in flight\n` +
            diff(idle, busy, IN_FLIGHT).join('\n') +
            '\n',
        );
        stop.abort();
        await Promise.allSettled(parked);
        await agent.close();
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function mkdirp(p: string): void {
  mkdirSync(p, { recursive: true });
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
