import { describe, expect, it } from 'vitest';
import {
  ClusterTopologyRefresh,
  connectClusterInBackground,
  pointsAtTopology,
  reconnectDelay,
  type ClusterClient,
  type TopologyRefreshOptions,
} from './redis-clients';

describe('pointsAtTopology: which failed calls make a Redis Cluster client fetch the slot map again', () => {
  it('a timeout, a connection error or a failover reply does', () => {
    expect(pointsAtTopology({ timedOut: true })).toBe(true);
    expect(pointsAtTopology({ timedOut: false, error: new Error('The client is offline') })).toBe(true);
    expect(
      pointsAtTopology({ timedOut: false, error: new Error('connect ECONNREFUSED 127.0.0.1:7000') }),
    ).toBe(true);
    expect(pointsAtTopology({ timedOut: false, error: new Error('Socket closed unexpectedly') })).toBe(true);
    expect(pointsAtTopology({ timedOut: false, error: new Error('CLUSTERDOWN The cluster is down') })).toBe(
      true,
    );
    expect(
      pointsAtTopology({
        timedOut: false,
        error: new Error('TRYAGAIN Multiple keys request during rehashing'),
      }),
    ).toBe(true);
    expect(
      pointsAtTopology({ timedOut: false, error: new Error('LOADING Redis is loading the dataset') }),
    ).toBe(true);
  });

  it('an error reply from a node that answers does not', () => {
    expect(
      pointsAtTopology({ timedOut: false, error: new Error('ERR Error running script (call to f_x)') }),
    ).toBe(false);
    expect(pointsAtTopology({ timedOut: false, error: new Error('WRONGTYPE Operation against a key') })).toBe(
      false,
    );
    expect(pointsAtTopology({ timedOut: false, error: new Error('NOSCRIPT No matching script') })).toBe(
      false,
    );
  });
});

/** A cluster client that connects (or fails, or never answers) as told, and records what was done with it. */
class FakeCluster {
  destroyed = false;
  constructor(private readonly connects: 'ok' | 'fail' | 'hang') {}
  connect(): Promise<unknown> {
    if (this.connects === 'ok') return Promise.resolve(this);
    if (this.connects === 'fail') return Promise.reject(new Error('connect ECONNREFUSED'));
    return new Promise(() => undefined);
  }
  destroy(): void {
    this.destroyed = true;
  }
}

function refresher(connects: Array<'ok' | 'fail' | 'hang'>, overrides: Partial<TopologyRefreshOptions> = {}) {
  let now = 0;
  const built: FakeCluster[] = [];
  const replaced: FakeCluster[] = [];
  let closed = false;
  const refresh = new ClusterTopologyRefresh({
    build: () => {
      const fake = new FakeCluster(connects[built.length] ?? 'ok');
      built.push(fake);
      return fake as unknown as ClusterClient;
    },
    connectTimeoutMs: 20,
    intervalMs: 1_000,
    now: () => now,
    closed: () => closed,
    replace: (fresh) => replaced.push(fresh as unknown as FakeCluster),
    ...overrides,
  });
  const settle = () => new Promise((r) => setTimeout(r, 40));
  return {
    refresh,
    built,
    replaced,
    settle,
    advance: (ms: number) => (now += ms),
    close: () => (closed = true),
  };
}

const offline = { timedOut: false, error: new Error('The client is offline') };

describe('ClusterTopologyRefresh', () => {
  it('puts a connected fresh client in place, at most once per interval, one at a time', async () => {
    const t = refresher(['ok', 'ok']);
    t.refresh.afterFailure(offline);
    t.refresh.afterFailure(offline); // already running
    await t.settle();
    expect(t.replaced).toEqual([t.built[0]]);
    t.advance(999);
    t.refresh.afterFailure({ timedOut: true });
    await t.settle();
    expect(t.built).toHaveLength(1); // within the interval
    t.advance(1);
    t.refresh.afterFailure({ timedOut: true });
    await t.settle();
    expect(t.replaced).toHaveLength(2);
    expect(t.refresh.replaced).toBe(2);
  });

  it('destroys a fresh client that fails or does not connect in time, and keeps the old one', async () => {
    const t = refresher(['fail', 'hang']);
    t.refresh.afterFailure(offline);
    await t.settle();
    t.advance(1_000);
    t.refresh.afterFailure(offline);
    await t.settle();
    expect(t.built.map((c) => c.destroyed)).toEqual([true, true]);
    expect(t.replaced).toEqual([]);
  });

  it('does nothing for a reply that says nothing of the topology, or once closed', async () => {
    const t = refresher(['ok']);
    t.refresh.afterFailure({ timedOut: false, error: new Error('ERR Error running script') });
    t.close();
    t.refresh.afterFailure(offline);
    await t.settle();
    expect(t.built).toEqual([]);
  });

  it('destroys a fresh client that connects after its owner was closed', async () => {
    let closed = false;
    const t = refresher(['ok'], { closed: () => closed });
    t.refresh.afterFailure(offline);
    closed = true;
    await t.settle();
    expect(t.replaced).toEqual([]);
    expect(t.built[0]?.destroyed).toBe(true);
  });
});

describe('reconnectDelay', () => {
  it('doubles from the base up to the cap, jittered between half and all of it', () => {
    expect([0, 1, 2, 3, 10].map((n) => reconnectDelay(n, 50, 500, () => 0.999999))).toEqual([
      50, 100, 200, 400, 500,
    ]);
    expect([0, 1, 2, 3, 10].map((n) => reconnectDelay(n, 50, 500, () => 0))).toEqual([25, 50, 100, 200, 250]);
  });
});

describe('connectClusterInBackground', () => {
  /** A client whose connects fail `failures` times, then succeed (or hang). */
  function flaky(failures: number) {
    const client = {
      attempts: 0,
      destroyed: false,
      connect: () => {
        client.attempts += 1;
        return client.attempts <= failures
          ? Promise.reject(new Error('connect ECONNREFUSED'))
          : Promise.resolve(client);
      },
      destroy: () => {
        client.destroyed = true;
      },
    };
    return client;
  }
  const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

  it('retries the first discovery after each backoff until it connects', async () => {
    const client = flaky(2);
    const errors: unknown[] = [];
    const waits: number[] = [];
    let connected = 0;
    connectClusterInBackground(client as unknown as ClusterClient, {
      backoff: (n) => {
        waits.push(n);
        return 1;
      },
      closed: () => false,
      onError: (e) => errors.push(e),
      onConnected: () => (connected += 1),
    });
    await settle();
    expect(client.attempts).toBe(3);
    expect(waits).toEqual([0, 1]);
    expect(errors).toHaveLength(2);
    expect(connected).toBe(1);
    expect(client.destroyed).toBe(false);
  });

  it('stops retrying once cancelled, and destroys a client that connects after its owner closed', async () => {
    const failing = flaky(1_000);
    const stop = connectClusterInBackground(failing as unknown as ClusterClient, {
      backoff: () => 5,
      closed: () => false,
      onError: () => undefined,
      onConnected: () => undefined,
    });
    await settle(12);
    stop();
    const attempts = failing.attempts;
    await settle();
    expect(failing.attempts).toBe(attempts);

    let closed = false;
    const late = flaky(0);
    let connected = false;
    connectClusterInBackground(late as unknown as ClusterClient, {
      backoff: () => 1,
      closed: () => closed,
      onError: () => undefined,
      onConnected: () => (connected = true),
    });
    closed = true;
    await settle();
    expect(connected).toBe(false);
    expect(late.destroyed).toBe(true);
  });
});
