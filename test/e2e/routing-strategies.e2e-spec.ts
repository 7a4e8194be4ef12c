import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { ask, rejectionOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

describe('routing e2e: strategies and debug headers', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  /** Sends n requests one after another and returns which provider answered each, from the debug header. */
  async function providersOf(n: number): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) {
      const { response } = await world!.client.messages.create(ask()).withResponse();
      seen.push(response.headers.get('x-cc-relay-provider') ?? '?');
    }
    return seen;
  }

  it('round_robin alternates between two providers', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      routing: { strategy: 'round_robin' },
    });

    const seen = await providersOf(6);

    expect(seen).toEqual(['alpha', 'beta', 'alpha', 'beta', 'alpha', 'beta']);
    expect(world.counts()).toEqual({ alpha: 3, beta: 3 });
  });

  it('weighted_round_robin splits 40 requests 3:1, interleaved', async () => {
    world = await startRoutingWorld(
      [
        { name: 'alpha', weight: 3 },
        { name: 'beta', weight: 1 },
      ],
      { routing: { strategy: 'weighted_round_robin' } },
    );

    const seen = await providersOf(40);

    expect(world.counts()).toEqual({ alpha: 30, beta: 10 });
    // Smooth: beta comes once in every cycle of four, never three alphas in a row followed by a burst.
    for (let i = 0; i < 40; i += 4) {
      expect(seen.slice(i, i + 4).filter((p) => p === 'beta')).toHaveLength(1);
    }
  });

  it('weighted_round_robin keeps the 3:1 split for a model only some providers serve, under mixed traffic', async () => {
    world = await startRoutingWorld(
      [
        { name: 'big', weight: 3 },
        { name: 'small', weight: 1, models: ['claude-sonnet-4-6'] },
      ],
      { routing: { strategy: 'weighted_round_robin' } },
    );

    // Claude Code style: sonnet and haiku alternate, so every request has a different candidate set than the last.
    const sonnet: string[] = [];
    for (let i = 0; i < 16; i++) {
      const model = i % 2 === 0 ? 'claude-sonnet-4-6' : 'claude-haiku-4-5';
      const { response } = await world.client.messages.create(ask(model)).withResponse();
      if (i % 2 === 0) sonnet.push(response.headers.get('x-cc-relay-provider') ?? '?');
    }

    expect(sonnet).toEqual(['big', 'big', 'small', 'big', 'big', 'big', 'small', 'big']);
    expect(world.counts()).toEqual({ big: 14, small: 2 });
  });

  it('failover sends everything to the highest priority and moves on only when it fails', async () => {
    world = await startRoutingWorld([
      { name: 'alpha', priority: 1 },
      { name: 'beta', priority: 5 },
      { name: 'gamma', priority: 3 },
    ]);

    expect(await providersOf(4)).toEqual(['beta', 'beta', 'beta', 'beta']);

    world.fake('beta').script(() => ({ kind: 'status', status: 503 }));
    const { response } = await world.client.messages.create(ask()).withResponse();
    expect(response.headers.get('x-cc-relay-provider')).toBe('gamma');
    expect(world.counts()).toEqual({ alpha: 0, beta: 6, gamma: 1 });
  });

  it('shuffle deals every provider once before any repeats', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }, { name: 'gamma' }], {
      routing: { strategy: 'shuffle' },
    });

    const seen = await providersOf(12);

    for (let i = 0; i < 12; i += 3) expect(new Set(seen.slice(i, i + 3)).size).toBe(3);
    expect(world.counts()).toEqual({ alpha: 4, beta: 4, gamma: 4 });
  });

  it('least_loaded sends a request past the provider that is still busy', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      routing: { strategy: 'least_loaded' },
    });
    world.fake('alpha').enqueue({ kind: 'json', text: 'slow', headersDelayMs: 800 });

    const slow = world.client.messages.create(ask()).withResponse();
    await world.fake('alpha').waitForRequests(1);
    const whileBusy = await world.client.messages.create(ask()).withResponse();
    const first = await slow;
    const idle = await world.client.messages.create(ask()).withResponse();

    expect(first.response.headers.get('x-cc-relay-provider')).toBe('alpha');
    expect(whileBusy.response.headers.get('x-cc-relay-provider')).toBe('beta');
    expect(idle.response.headers.get('x-cc-relay-provider')).toBe('alpha');
  });

  it('model_based routes by the longest model prefix to its providers, in their listed order', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      routing: {
        strategy: 'model_based',
        model_routes: { claude: ['alpha'], 'claude-haiku': ['beta'], 'claude-sonnet': ['beta', 'alpha'] },
      },
    });
    const providerFor = async (model: string) =>
      (await world!.client.messages.create(ask(model)).withResponse()).response.headers.get(
        'x-cc-relay-provider',
      );

    expect(await providerFor('claude-haiku-4-5')).toBe('beta');
    expect(await providerFor('claude-sonnet-4-6')).toBe('beta');
    world.fake('beta').script(() => ({ kind: 'status', status: 503 }));
    expect(await providerFor('claude-sonnet-4-6')).toBe('alpha');
    expect(world.counts()).toEqual({ alpha: 1, beta: 4 });
  });

  it('sends X-CC-Relay-Provider, -Strategy and -Attempts with routing.debug: true', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }], { routing: { strategy: 'round_robin' } });

    const { response } = await world.client.messages.create(ask()).withResponse();

    expect(response.headers.get('x-cc-relay-provider')).toBe('alpha');
    expect(response.headers.get('x-cc-relay-strategy')).toBe('round_robin');
    expect(response.headers.get('x-cc-relay-attempts')).toBe('1');
  });

  it('sends no X-CC-Relay-* header by default, on a success or on a failure', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }], { routing: { debug: false } });

    const ok = await world.client.messages.create(ask()).withResponse();
    world.fake('alpha').script(() => ({ kind: 'status', status: 503 }));
    const failed = (await rejectionOf(world.client.messages.create(ask()))) as InstanceType<
      typeof Anthropic.APIError
    >;

    expect(failed.status).toBe(503);
    for (const headers of [ok.response.headers, failed.headers!]) {
      expect([...headers.keys()].filter((n) => n.startsWith('x-cc-relay-'))).toEqual([]);
      expect(headers.get('request-id')).toBeTruthy();
    }
  });
});
