import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterRedisConfig } from '../config/relay-config';
import { ClusterRedis } from './cluster-redis';
import { ProbeLock } from './probe-lock';
import { ReplicaHeartbeat, replicaViews } from './replica-heartbeat';

const quiet = { warn: () => undefined, log: () => undefined };

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('heartbeats and the probe lock on the shared Redis', () => {
  const opened: ClusterRedis[] = [];
  const prefix = `cc-relay-test:${randomUUID()}:`;
  async function connection(): Promise<ClusterRedis> {
    const redis = new ClusterRedis(
      Object.assign(new ClusterRedisConfig(), {
        url: 'redis://127.0.0.1:6379',
        cluster_nodes: [],
        key_prefix: prefix,
        timeout_ms: 50,
      }),
      { logger: quiet },
    );
    opened.push(redis);
    await until(() => redis.isUp());
    return redis;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((r) => r.close()));
  });

  it('lists live replicas, flags a config hash other than most, and drops one silent for 3 heartbeats', async () => {
    const heartbeatMs = 100;
    const beats = await Promise.all(
      ['r1', 'r2', 'r3'].map(async (id) => {
        const beat = new ReplicaHeartbeat(await connection(), {
          id,
          version: '1.2.3',
          heartbeatMs,
          describe: () => ({ config_hash: id === 'r3' ? 'new' : 'old', in_flight: 2 }),
        });
        beat.start();
        return beat;
      }),
    );
    await sleep(50);
    const live = await beats[0]!.beats();
    expect(live?.map((b) => b.id)).toEqual(['r1', 'r2', 'r3']);
    const views = replicaViews(live!);
    expect(views.map((v) => [v.id, v.config_differs])).toEqual([
      ['r1', false],
      ['r2', false],
      ['r3', true],
    ]);
    expect(views[0]).toMatchObject({ version: '1.2.3', config_hash: 'old', in_flight: 2 });
    expect(Object.keys(views[0]!).sort()).toEqual(
      ['config_differs', 'config_hash', 'id', 'in_flight', 'last_seen', 'started_at', 'version'].sort(),
    );
    // r2 is killed: no more heartbeats, nothing deleted.
    clearInterval((beats[1] as unknown as { timer: NodeJS.Timeout }).timer);
    await sleep(2 * heartbeatMs);
    expect((await beats[0]!.beats())?.map((b) => b.id)).toEqual(['r1', 'r2', 'r3']);
    await sleep(2 * heartbeatMs);
    expect((await beats[0]!.beats())?.map((b) => b.id)).toEqual(['r1', 'r3']);
    // r3 stops cleanly: gone at once.
    await beats[2]!.stop();
    expect((await beats[0]!.beats())?.map((b) => b.id)).toEqual(['r1']);
    await beats[0]!.stop();
  });

  it('gives each provider one prober per interval, and hands it over when the prober dies', async () => {
    const a = new ProbeLock(await connection(), 'a');
    const b = new ProbeLock(await connection(), 'b');
    const interval = 300;
    expect(await a.tryTake('p', interval)).toBe(true);
    expect(await b.tryTake('p', interval)).toBe(false);
    expect(await b.tryTake('q', interval)).toBe(true);
    await sleep(interval / 2);
    // The holder renews at its next round; the other still stays out.
    expect(await a.tryTake('p', interval)).toBe(true);
    await sleep(interval / 2 + 50);
    expect(await b.tryTake('p', interval)).toBe(false);
    // a dies (renews no more): b takes over within one interval.
    const died = Date.now();
    let taken = false;
    while (!taken && Date.now() - died < 2 * interval) {
      taken = await b.tryTake('p', interval);
      if (!taken) await sleep(20);
    }
    expect(taken).toBe(true);
    expect(Date.now() - died).toBeLessThanOrEqual(interval + 50);
    expect(await a.tryTake('p', interval)).toBe(false);
  });
});
