/**
 * Load under faults (issue 17): 100 concurrent clients for 60 s against the built relay, half of them streaming,
 * while one of its two providers misbehaves and the other stays healthy. The flapping provider alternates 5 s down
 * and 5 s up; its "down" is a 503 in the first third of the run, a hang (request read, never answered) in the
 * second, and a stall (message_start, then silence) in the last. Every answer is checked:
 *
 * - a JSON request must end in 200 with a whole Message;
 * - a stream must end with `message_stop`, or (when the provider failed after the relay had committed it to the
 *   client) with an `event: error`; a stream that just stops is "truncated", the worst outcome.
 *
 * Goal: zero requests lost while a healthy provider exists, zero truncated streams.
 *
 *   npm run build && node -r @swc-node/register bench/fault-load.ts
 *     FAULT_SECONDS=60 FAULT_CLIENTS=100 (defaults); results in bench/results/fault-load.json
 *
 * Everything runs on 127.0.0.1 and is bounded: the run stops sending at FAULT_SECONDS and waits at most 30 s more.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { FakeUpstream } from '../test/fakes/fake-upstream';
import type { Scenario } from '../test/fakes/fake-scenario';
import {
  BENCH_CLIENT_KEY,
  BENCH_HEADERS,
  benchMessagesBody,
  freePort,
  PROXY_NODE_FLAGS,
  ROOT,
  rssMiB,
  startNode,
} from './processes';

const SECONDS = Number(process.env.FAULT_SECONDS ?? 60);
const CLIENTS = Number(process.env.FAULT_CLIENTS ?? 100);
const FLAP_MS = 5000;

type Phase = '503' | 'hang' | 'stall';

interface Tally {
  json_ok: number;
  json_failed: number;
  stream_ok: number;
  stream_error_event: number;
  stream_truncated: number;
  stream_failed_status: number;
  failures_by_status: Record<string, number>;
  latency_ms: number[];
}

function newTally(): Tally {
  return {
    json_ok: 0,
    json_failed: 0,
    stream_ok: 0,
    stream_error_event: 0,
    stream_truncated: 0,
    stream_failed_status: 0,
    failures_by_status: {},
    latency_ms: [],
  };
}

function relayConfig(port: number, flaky: string, healthy: string): string {
  return [
    'server:',
    `  listen: "127.0.0.1:${port}"`,
    '  timeout_ms: 4000', // a hung JSON attempt fails over after 4 s
    '  auth:',
    `    api_keys: ["${BENCH_CLIENT_KEY}"]`,
    'providers:',
    '  - name: flaky',
    '    type: anthropic',
    `    base_url: "${flaky}"`,
    '    priority: 10',
    '    keys: [{ key: "bench-provider-key-flaky" }]',
    '  - name: healthy',
    '    type: anthropic',
    `    base_url: "${healthy}"`,
    '    priority: 0',
    '    keys: [{ key: "bench-provider-key-healthy" }]',
    'routing:',
    '  strategy: failover',
    '  ttft_timeout_ms: 2000',
    '  stall_timeout_ms: 2000',
    'health:',
    '  health_check:',
    '    interval_ms: 1000',
    '    timeout_ms: 1000',
    '  circuit_breaker:',
    '    failure_threshold: 5',
    '    open_duration_ms: 3000',
    'cache:',
    '  mode: disabled',
    'logging:',
    '  level: info',
    '',
  ].join('\n');
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const flaky = new FakeUpstream({ record: false });
  const healthy = new FakeUpstream({ record: false });
  const flakyUrl = await flaky.start();
  const healthyUrl = await healthy.start();
  const streamShape: Scenario = { kind: 'sse', deltas: 20, delayMs: 10 };
  const start = Date.now();
  const phaseAt = (t: number): Phase => {
    const third = (t - start) / (SECONDS * 1000);
    return third < 1 / 3 ? '503' : third < 2 / 3 ? 'hang' : 'stall';
  };
  const downAt = (t: number) => Math.floor((t - start) / FLAP_MS) % 2 === 0;
  const downScenario = (phase: Phase, stream: boolean): Scenario => {
    if (phase === '503') return { kind: 'status', status: 503 };
    if (phase === 'hang') return { kind: 'hang' };
    // A stall before content: the relay has not committed and can fail over. A JSON request cannot stall mid-body
    // usefully here, so it hangs instead.
    return stream ? { kind: 'stall', afterEvents: 1 } : { kind: 'hang' };
  };
  flaky.script((req) => {
    const stream = (req.body as { stream?: boolean } | undefined)?.stream === true;
    const now = Date.now();
    if (req.path === '/v1/messages' && downAt(now)) return downScenario(phaseAt(now), stream);
    if (req.path === '/v1/models' && downAt(now)) return { kind: 'status', status: 503 };
    return stream ? streamShape : undefined;
  });
  healthy.script((req) => {
    const stream = (req.body as { stream?: boolean } | undefined)?.stream === true;
    return stream ? streamShape : undefined;
  });

  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-fault-'));
  const relayPort = await freePort();
  const configPath = join(dir, 'fault.yaml');
  writeFileSync(configPath, relayConfig(relayPort, flakyUrl, healthyUrl));
  const children: ChildProcess[] = [];
  const perPhase: Record<Phase, Tally> = { '503': newTally(), hang: newTally(), stall: newTally() };
  let relayRss = NaN;
  try {
    const relay = await startNode([...PROXY_NODE_FLAGS, 'dist/main.js', '--config', configPath], 'listening');
    children.push(relay);
    relay.stdout?.resume();
    relay.stderr?.resume();
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000 });
    const endAt = Date.now() + SECONDS * 1000;
    const jsonBody = benchMessagesBody(false);
    const sseBody = benchMessagesBody(true);

    const oneRequest = async (stream: boolean): Promise<void> => {
      const t0 = Date.now();
      const tally = perPhase[phaseAt(t0)];
      try {
        const res = await request(`${relayUrl}/v1/messages?beta=true`, {
          method: 'POST',
          dispatcher: agent,
          headers: BENCH_HEADERS,
          body: stream ? sseBody : jsonBody,
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) {
          tally.failures_by_status[res.statusCode] = (tally.failures_by_status[res.statusCode] ?? 0) + 1;
          if (stream) tally.stream_failed_status++;
          else tally.json_failed++;
          return;
        }
        if (!stream) {
          const msg = JSON.parse(text) as { type?: string; content?: unknown[] };
          if (msg.type === 'message' && Array.isArray(msg.content)) tally.json_ok++;
          else tally.json_failed++;
        } else if (text.includes('event: message_stop')) tally.stream_ok++;
        else if (text.includes('event: error')) tally.stream_error_event++;
        else tally.stream_truncated++;
        tally.latency_ms.push(Date.now() - t0);
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        tally.failures_by_status[code] = (tally.failures_by_status[code] ?? 0) + 1;
        if (stream) tally.stream_truncated++;
        else tally.json_failed++;
      }
    };

    const client = async (i: number): Promise<void> => {
      const stream = i % 2 === 1;
      while (Date.now() < endAt) await oneRequest(stream);
    };
    const rssTimer = setInterval(() => {
      if (relay.pid) relayRss = Math.max(Number.isNaN(relayRss) ? 0 : relayRss, rssMiB(relay.pid));
    }, 1000);
    await Promise.race([
      Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i))),
      new Promise((r) => setTimeout(r, (SECONDS + 30) * 1000)),
    ]);
    clearInterval(rssTimer);
    await agent.close();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await flaky.close();
    await healthy.close();
  }

  const summary = Object.fromEntries(
    (Object.keys(perPhase) as Phase[]).map((phase) => {
      const t = perPhase[phase];
      return [
        phase,
        {
          json_ok: t.json_ok,
          json_failed: t.json_failed,
          stream_ok: t.stream_ok,
          stream_error_event: t.stream_error_event,
          stream_truncated: t.stream_truncated,
          stream_failed_status: t.stream_failed_status,
          failures_by_status: t.failures_by_status,
          p50_ms: percentile(t.latency_ms, 50),
          p99_ms: percentile(t.latency_ms, 99),
        },
      ];
    }),
  );
  const lost = Object.values(perPhase).reduce(
    // Every fault of the run happens before a stream's first content, where the relay can still fail over: an
    // `event: error` is then a lost request too.
    (n, t) => n + t.json_failed + t.stream_failed_status + t.stream_truncated + t.stream_error_event,
    0,
  );
  const truncated = Object.values(perPhase).reduce((n, t) => n + t.stream_truncated, 0);
  const result = {
    date: new Date().toISOString(),
    seconds: SECONDS,
    clients: CLIENTS,
    relay_peak_rss_mib: Math.round(relayRss),
    lost,
    truncated,
    phases: summary,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'fault-load.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    lost === 0 && truncated === 0 ? 'goal met: nothing lost\n' : 'goal NOT met: see lost / truncated\n',
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
