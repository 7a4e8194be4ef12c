import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINIMAL } from './support/http';
import { send } from './support/breaker-relay';
import { adminGet, ClusterWorld, REPLICAS } from './support/cluster-world';
import { openStream, streamedText } from './support/sse-client';
import { nginxBinary } from '../support/nginx';
import { redisServerAvailable } from '../support/redis-server';

// Issue 20's test bed: three relay processes behind a real nginx running the shipped deploy/nginx config. This file
// checks the bed itself (the ingress spreads requests over every replica, passes SSE through as it comes, and
// every upstream request is traced to the replica that sent it), so the cluster specs can rely on it.

const runnable = redisServerAvailable() && nginxBinary() !== undefined;

describe.runIf(runnable)('three replicas behind the shipped nginx ingress', () => {
  const world = new ClusterWorld({ cluster: null });

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
});
