import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINIMAL } from './support/http';
import { send } from './support/breaker-relay';
import { adminGet, adminPost, ClusterWorld, REPLICAS } from './support/cluster-world';
import { openStream, streamedText } from './support/sse-client';
import { nginxBinary } from '../support/nginx';
import { redisServerAvailable } from '../support/redis-server';

// Issue 20's test bed: three relay processes (cluster.mode: redis) behind a real nginx running the shipped
// deploy/nginx config. This file checks the bed itself (the ingress spreads requests over every replica, passes SSE
// through, every upstream request is traced to the replica that sent it), and the admin view an operator gets
// through the ingress: the same states from every replica, and every replica listed.

const runnable = redisServerAvailable() && nginxBinary() !== undefined;

describe.runIf(runnable)('three replicas behind the shipped nginx ingress', () => {
  const world = new ClusterWorld();

  beforeAll(() => world.start(), 60_000);
  afterAll(() => world.stop(), 30_000);

  it('spreads admin calls round-robin over all three replicas', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2 * REPLICAS; i++) {
      const answer = await adminGet(world.url, '/admin/providers');
      expect(answer.status).toBe(200);
      if (answer.instance) seen.add(answer.instance);
    }
    expect([...seen].sort()).toEqual(world.replicas.map((r) => r.name));
  });

  it('relays JSON and SSE, and traces every upstream request to the replica that sent it', async () => {
    world.resetFakes();
    for (let i = 0; i < 2 * REPLICAS; i++) expect((await send(world.url)).status).toBe(200);
    const stream = await openStream(world.url, MINIMAL);
    expect(stream.status).toBe(200);
    const events = await stream.done;
    expect(events.at(-1)?.event).toBe('message_stop');
    expect(streamedText(events)).not.toBe('');

    const sent = world.messages(world.primary);
    expect(sent).toHaveLength(2 * REPLICAS + 1);
    expect(sent.every((s) => s.replica !== undefined)).toBe(true);
    expect(new Set(sent.map((s) => s.replica)).size).toBe(REPLICAS);
  });

  it('20 consecutive GET /admin/providers through nginx show the same states, from all three replicas', async () => {
    // A drill through the ingress lands on one replica; every replica must show it.
    const opened = await adminPost(world.url, '/admin/providers/primary/open', { duration_ms: 60_000 });
    expect(opened.status).toBe(200);
    try {
      const answers = [];
      for (let i = 0; i < 20; i++) {
        const answer = await adminGet<{ providers: Array<{ name: string; state: string }> }>(
          world.url,
          '/admin/providers',
        );
        expect(answer.status).toBe(200);
        answers.push({
          instance: answer.instance,
          states: Object.fromEntries(answer.body.providers.map((p) => [p.name, p.state])),
        });
      }
      expect(new Set(answers.map((a) => a.instance)).size).toBe(REPLICAS);
      for (const answer of answers) expect(answer.states).toEqual({ primary: 'open', secondary: 'closed' });
    } finally {
      expect((await adminPost(world.url, '/admin/providers/primary/reset')).status).toBe(200);
    }
  });

  it('GET /admin/replicas through any replica lists all three, with one config hash', async () => {
    for (let i = 0; i < REPLICAS; i++) {
      const answer = await adminGet<{
        replicas: Array<{
          id: string;
          version: string;
          config_hash: string;
          started_at: string;
          last_seen: string;
        }>;
      }>(world.url, '/admin/replicas');
      expect(answer.status).toBe(200);
      expect(answer.body.replicas).toHaveLength(REPLICAS);
      expect(new Set(answer.body.replicas.map((r) => r.config_hash)).size).toBe(1);
      for (const r of answer.body.replicas) {
        expect(r).toMatchObject({ id: expect.any(String), version: expect.any(String) });
        expect(Date.parse(r.started_at)).not.toBeNaN();
        expect(Date.parse(r.last_seen)).not.toBeNaN();
      }
    }
  });
});
