import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../fakes/fake-upstream';
import type { Scenario } from '../fakes/fake-scenario';
import { ask, messagesOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

const SONNET = 'claude-sonnet-4-6';
const HAIKU = 'claude-haiku-4-5';

/** Every provider fails the requested model; the fallback model answers with its own usage. */
function sonnetDown(req: RecordedRequest): Scenario | undefined {
  const model = (req.body as { model?: string } | undefined)?.model;
  if (model === SONNET) return { kind: 'status', status: 503 };
  return undefined;
}

function modelsAsked(world: RoutingWorld, name: string): (string | undefined)[] {
  return messagesOf(world.fake(name)).map((r) => (r.body as { model?: string }).model);
}

describe('routing e2e: fallback chains', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  // Two tries on each of two providers come before the fallback: five attempts, which the retry budget's floor of
  // three retries per quiet window would cut short, so the budget is opened up here.
  const patch = {
    routing: { fallbacks: { [SONNET]: [HAIKU] }, retry: { max_attempts: 5, budget_ratio: 10 } },
  };

  it('answers with the fallback model when the requested one fails on every provider', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], patch);
    for (const name of ['alpha', 'beta']) world.fake(name).script(sonnetDown);
    world.fake('alpha').enqueue({
      kind: 'json',
      text: 'haiku to the rescue',
      usage: { input_tokens: 21, output_tokens: 11 },
    });

    const { data, response } = await world.client.messages.create(ask(SONNET)).withResponse();

    expect(data.model).toBe(HAIKU);
    expect(data.content[0]).toMatchObject({ type: 'text', text: 'haiku to the rescue' });
    expect(data.usage).toMatchObject({ input_tokens: 21, output_tokens: 11 });
    // The requested model was tried on both providers before the chain moved on.
    expect(modelsAsked(world, 'alpha')).toEqual([SONNET, SONNET, HAIKU]);
    expect(modelsAsked(world, 'beta')).toEqual([SONNET, SONNET]);
    expect(response.headers.get('x-cc-relay-fallback')).toBe(HAIKU);
    expect(response.headers.get('x-cc-relay-provider')).toBe('alpha');
    expect(response.headers.get('x-cc-relay-attempts')).toBe('5');
  });

  it('never caches the fallback model’s answer as the requested model’s', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }], {
      ...patch,
      routing: { ...patch.routing, retry: { ...patch.routing.retry, max_attempts: 3 } },
      cache: { mode: 'single' },
    });
    let sonnetUp = false;
    world.fake('alpha').script((req) => (sonnetUp ? undefined : sonnetDown(req)));
    world.fake('alpha').enqueue({ kind: 'json', text: 'haiku during the outage' });

    const during = await world.client.messages.create(ask(SONNET)).withResponse();
    expect(during.data.model).toBe(HAIKU);
    expect(during.response.headers.get('x-cc-relay-cache')).toBe('MISS');

    // Sonnet is back: the same request gets sonnet's answer, not the stored haiku one.
    sonnetUp = true;
    world.fake('alpha').enqueue({ kind: 'json', text: 'sonnet again' });
    const after = await world.client.messages.create(ask(SONNET)).withResponse();
    expect(after.response.headers.get('x-cc-relay-cache')).toBe('MISS');
    expect(after.data.content[0]).toMatchObject({ type: 'text', text: 'sonnet again' });
    // Its own answer is stored as usual.
    const hit = await world.client.messages.create(ask(SONNET)).withResponse();
    expect(hit.response.headers.get('x-cc-relay-cache')).toBe('HIT');
    expect(hit.data.content[0]).toMatchObject({ type: 'text', text: 'sonnet again' });
  });

  it('streams the fallback model’s answer when the requested model fails before the first byte', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], patch);
    for (const name of ['alpha', 'beta']) world.fake(name).script(sonnetDown);
    world.fake('alpha').enqueue({ kind: 'sse', text: 'streamed haiku', usage: { output_tokens: 9 } });

    const { data: stream, response } = await world.client.messages.stream(ask(SONNET)).withResponse();
    const final = await stream.finalMessage();

    expect(final.model).toBe(HAIKU);
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'streamed haiku' });
    expect(final.usage.output_tokens).toBe(9);
    expect(response.headers.get('x-cc-relay-fallback')).toBe(HAIKU);
    expect(modelsAsked(world, 'alpha').at(-1)).toBe(HAIKU);
  });

  it('leaves the fallback unused, and says nothing of one, when the requested model answers', async () => {
    world = await startRoutingWorld([{ name: 'alpha' }], patch);

    const { data, response } = await world.client.messages.create(ask(SONNET)).withResponse();

    expect(data.model).toBe(SONNET);
    expect(modelsAsked(world, 'alpha')).toEqual([SONNET]);
    expect(response.headers.get('x-cc-relay-fallback')).toBeNull();
  });
});
