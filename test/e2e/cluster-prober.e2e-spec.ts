import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, waitUntil } from './support/breaker-relay';
import { ClusterWorld, REPLICAS, replicaProviderStates } from './support/cluster-world';
import { nginxBinary } from '../support/nginx';
import { redisServerAvailable } from '../support/redis-server';

// Issue 20, "How it is checked": one health probe per interval per OPEN provider across the cluster (a Redis lock),
// and when the replica probing is killed (SIGKILL, no goodbye), another takes probing over. Three relay processes
// behind a real nginx; with cluster.mode: local every replica probes on its own (3 per interval).

const INTERVAL_MS = 500;
const THRESHOLD = 3;

const runnable = redisServerAvailable() && nginxBinary() !== undefined;

describe.runIf(runnable)('cluster.mode redis: one prober per OPEN provider', () => {
  const world = new ClusterWorld({
    routing: { retry: { max_attempts: 3, base_delay_ms: 0, budget_ratio: 10 } },
    health: {
      health_check: { enabled: true, interval_ms: INTERVAL_MS, timeout_ms: 400, probe: 'models' },
      // Open for the whole file: only the probes touch the primary.
      circuit_breaker: { failure_threshold: THRESHOLD, open_duration_ms: 120_000 },
    },
  });

  beforeAll(async () => {
    await world.start();
    // Down for good, probes included.
    world.primary.script(() => ({ kind: 'status', status: 503 }));
    for (let i = 0; i < 3 * THRESHOLD; i++) expect((await send(world.url)).status).toBe(200);
    await waitUntil('every replica to see the primary open', async () =>
      (await replicaProviderStates(world, 'primary')).every((s) => s === 'open') ? true : undefined,
    );
  }, 90_000);
  afterAll(() => world.stop(), 30_000);

  /** Probes of the primary received from `from` on (its clock), with their senders. */
  const probesSince = (from: number) => world.probes(world.primary).filter((s) => s.rec.receivedAt >= from);

  it('sends one probe per interval across the three replicas, and hands probing over when the prober is SIGKILLed', async () => {
    // Let the probing settle, then count over 6 intervals.
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS));
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 6 * INTERVAL_MS));
    const counted = probesSince(from).filter((s) => s.rec.receivedAt < from + 6 * INTERVAL_MS);
    // Per-replica probing would be 3 per interval (18 here). Timer phase allows one more.
    expect(counted.length).toBeGreaterThanOrEqual(4);
    expect(counted.length).toBeLessThanOrEqual(7);
    expect(counted.every((s) => s.replica !== undefined)).toBe(true);

    // Kill the replica that probed last, as a crash or an OOM kill would.
    const prober = world.replica(counted.at(-1)!.replica!);
    expect(prober.process.child.kill('SIGKILL')).toBe(true);
    await prober.process.exited;
    const killedAt = Date.now();

    // Another replica takes over: its first probe comes within the lock's life and one interval.
    const handedOver = await waitUntil(
      'another replica to probe',
      () => probesSince(killedAt).find((s) => s.replica !== undefined && s.replica !== prober.name),
      { timeoutMs: 5_000 },
    );
    expect(handedOver.rec.receivedAt - killedAt).toBeLessThanOrEqual(2 * INTERVAL_MS + 250);

    // And still one probe per interval among the two left.
    const again = handedOver.rec.receivedAt;
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_MS));
    const after = probesSince(again).filter((s) => s.rec.receivedAt < again + 4 * INTERVAL_MS);
    expect(after.length).toBeLessThanOrEqual(5);
    expect(after.every((s) => s.replica !== prober.name)).toBe(true);

    // The ingress skips the dead replica (proxy_next_upstream error): clients see nothing of it.
    for (let i = 0; i < 2 * REPLICAS; i++) expect((await send(world.url)).status).toBe(200);
  });
});
