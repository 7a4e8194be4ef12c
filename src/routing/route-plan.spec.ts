import { describe, expect, it } from 'vitest';
import {
  buildRoutePlan,
  fallbackModels,
  fallbackRuleOf,
  fullLast,
  laterStepCanServeNow,
  modelEntry,
  MAX_REMEMBERED_MODEL_LENGTH,
  modelForLog,
  ModelTable,
  providerServesModel,
  type ModelEntry,
  type PlannedProvider,
} from './route-plan';
import { mappedModel } from '../config/model-patterns';
import { FailoverStrategy } from './strategies/failover.strategy';
import { LeastLoadedStrategy } from './strategies/least-loaded.strategy';
import { ModelBasedStrategy } from './strategies/model-based.strategy';
import { RoundRobinStrategy } from './strategies/round-robin.strategy';
import type { RoutingContext } from './strategies/routing-strategy';

function provider(name: string, over: Partial<PlannedProvider> = {}): PlannedProvider {
  return { name, enabled: true, priority: 0, weight: 1, models: [], model_mapping: {}, ...over };
}
const ctx = (down: string[] = []): RoutingContext => ({
  model: 'ignored',
  isRoutable: (n) => !down.includes(n),
  inFlight: () => 0,
});
const steps = (plan: ReturnType<typeof buildRoutePlan>) =>
  plan.map((s) => `${s.provider}/${s.model}/${s.fallbackIndex}`);

const SONNET = 'claude-sonnet-4-5';
const HAIKU = 'claude-haiku-4-5';

describe('buildRoutePlan', () => {
  const providers = [
    provider('primary', { priority: 10, models: ['claude-sonnet-*'] }),
    provider('backup', { priority: 5 }),
    provider('cheap', { priority: 1, models: [HAIKU] }),
    provider('off', { enabled: false, priority: 99 }),
  ];
  const routing = { fallbacks: { [SONNET]: [HAIKU] } };

  it('lists the requested model’s providers by strategy, then each fallback model’s', () => {
    const plan = buildRoutePlan(SONNET, providers, routing, new FailoverStrategy(), ctx());
    expect(steps(plan)).toEqual([
      `primary/${SONNET}/0`,
      `backup/${SONNET}/0`,
      `backup/${HAIKU}/1`,
      `cheap/${HAIKU}/1`,
    ]);
  });

  it('leaves out disabled providers, open circuits and providers that do not serve the model', () => {
    const plan = buildRoutePlan(SONNET, providers, routing, new FailoverStrategy(), ctx(['backup']));
    expect(steps(plan)).toEqual([`primary/${SONNET}/0`, `cheap/${HAIKU}/1`]);
  });

  it('has only the requested model when no fallback is configured', () => {
    const plan = buildRoutePlan(HAIKU, providers, routing, new FailoverStrategy(), ctx());
    expect(steps(plan)).toEqual([`backup/${HAIKU}/0`, `cheap/${HAIKU}/0`]);
  });

  it('is empty when nothing serves the model', () => {
    const only = [provider('a', { models: ['glm-4.6'] })];
    expect(buildRoutePlan(SONNET, only, routing, new FailoverStrategy(), ctx())).toEqual([]);
  });

  it('asks a rotating strategy once per request, so fallbacks do not skew the rotation', () => {
    const two = [provider('a'), provider('b')];
    const rr = new RoundRobinStrategy();
    const firsts = Array.from(
      { length: 4 },
      () => buildRoutePlan(SONNET, two, { fallbacks: { [SONNET]: [HAIKU] } }, rr, ctx())[0]!.provider,
    );
    expect(firsts).toEqual(['a', 'b', 'a', 'b']);
  });

  it('orders a fallback model like the primary pick', () => {
    const two = [provider('a'), provider('b')];
    const rr = new RoundRobinStrategy();
    buildRoutePlan(SONNET, two, routing, rr, ctx());
    const plan = buildRoutePlan(SONNET, two, routing, rr, ctx());
    expect(steps(plan)).toEqual([`b/${SONNET}/0`, `a/${SONNET}/0`, `b/${HAIKU}/1`, `a/${HAIKU}/1`]);
  });

  it('routes each fallback model by its own model route under model_based', () => {
    const list = [provider('anthropic'), provider('bedrock')];
    const strategy = new ModelBasedStrategy({ 'claude-sonnet': ['anthropic'], 'claude-haiku': ['bedrock'] });
    const plan = buildRoutePlan(SONNET, list, routing, strategy, ctx());
    expect(steps(plan)).toEqual([`anthropic/${SONNET}/0`, `bedrock/${HAIKU}/1`]);
  });

  it('skips a fallback that repeats the requested model or an earlier fallback, keeping list positions', () => {
    const list = [provider('a')];
    const plan = buildRoutePlan(
      SONNET,
      list,
      { fallbacks: { [SONNET]: [SONNET, HAIKU, HAIKU] } },
      new FailoverStrategy(),
      ctx(),
    );
    expect(steps(plan)).toEqual([`a/${SONNET}/0`, `a/${HAIKU}/2`]);
  });
});

describe('providers whose connections are all taken', () => {
  const full = (names: string[], load: Record<string, number> = {}): RoutingContext => ({
    model: 'ignored',
    isRoutable: () => true,
    inFlight: (n) => load[n] ?? 0,
    hasRoom: (n) => !names.includes(n),
  });
  const routing = { fallbacks: { [SONNET]: [HAIKU] } };

  it('go after every provider that can serve the request now, in plan order', () => {
    const list = [provider('a', { priority: 10 }), provider('b', { priority: 5 }), provider('c')];
    const plan = buildRoutePlan(SONNET, list, { fallbacks: {} }, new FailoverStrategy(), full(['a']));
    expect(steps(plan)).toEqual([`b/${SONNET}/0`, `c/${SONNET}/0`, `a/${SONNET}/0`]);
  });

  it('are busy for least_loaded even when another provider has more requests in flight', () => {
    const list = [provider('small'), provider('big')];
    const ctx = full(['small'], { small: 2, big: 40 });
    const plan = buildRoutePlan(SONNET, list, { fallbacks: {} }, new LeastLoadedStrategy(), ctx);
    expect(plan.map((s) => s.provider)).toEqual(['big', 'small']);
  });

  it('come after a fallback model a free provider serves, as unavailable providers would', () => {
    const list = [provider('a', { priority: 10, models: [SONNET] }), provider('b', { models: [HAIKU] })];
    const plan = buildRoutePlan(SONNET, list, routing, new FailoverStrategy(), full(['a']));
    expect(steps(plan)).toEqual([`b/${HAIKU}/1`, `a/${SONNET}/0`]);
  });

  it('stay in the plan, in order, when every provider is full: the request then waits for a connection', () => {
    const list = [provider('a', { priority: 10 }), provider('b')];
    const plan = buildRoutePlan(SONNET, list, { fallbacks: {} }, new FailoverStrategy(), full(['a', 'b']));
    expect(steps(plan)).toEqual([`a/${SONNET}/0`, `b/${SONNET}/0`]);
  });

  it('leave the plan as it was when the context knows nothing of connections', () => {
    const plan = [{ provider: 'a', model: SONNET, fallbackIndex: 0 }];
    expect(fullLast(plan, {})).toBe(plan);
  });

  it('are passed over while a later step can serve the request now', () => {
    const plan = ['a', 'b', 'c'].map((provider) => ({ provider, model: SONNET, fallbackIndex: 0 }));
    expect(laterStepCanServeNow(plan, 0, (p) => p === 'c')).toBe(true);
    expect(laterStepCanServeNow(plan, 0, (p) => p === 'a')).toBe(false);
    expect(laterStepCanServeNow(plan, 2, () => true)).toBe(false);
  });
});

describe('providerServesModel', () => {
  it('serves anything with an empty list', () => {
    expect(providerServesModel(provider('a'), 'whatever')).toBe(true);
  });

  it('matches exact names and * prefixes', () => {
    const p = provider('a', { models: [HAIKU, 'claude-opus-*'] });
    expect(providerServesModel(p, HAIKU)).toBe(true);
    expect(providerServesModel(p, 'claude-opus-4-1-20250805')).toBe(true);
    expect(providerServesModel(p, SONNET)).toBe(false);
    expect(providerServesModel(p, `${HAIKU}-20251001`)).toBe(false);
  });

  it('serves a model it maps to one of its own', () => {
    const p = provider('zai', { models: ['glm-4.6'], model_mapping: { [SONNET]: 'glm-4.6' } });
    expect(providerServesModel(p, SONNET)).toBe(true);
    expect(providerServesModel(p, 'toString')).toBe(false);
  });
});

describe('mappedModel', () => {
  const zai = provider('zai', {
    models: ['glm-4.6'],
    model_mapping: { [SONNET]: 'glm-4.6-exact', 'claude-sonnet-*': 'glm-4.6', 'claude-*': 'glm-4.5-air' },
  });

  it('prefers the exact key, then the longest * prefix, as models and fallbacks match', () => {
    expect(mappedModel(zai, SONNET)).toBe('glm-4.6-exact');
    expect(mappedModel(zai, 'claude-sonnet-4-5-20250929')).toBe('glm-4.6');
    expect(mappedModel(zai, 'claude-haiku-4-5-20251001')).toBe('glm-4.5-air');
    expect(mappedModel(zai, 'glm-4.6')).toBeUndefined();
    expect(mappedModel(zai, 'constructor')).toBeUndefined();
  });

  it('makes a provider serve the dated ids its prefix mapping covers', () => {
    expect(providerServesModel(zai, 'claude-opus-4-1-20250805')).toBe(true);
    expect(providerServesModel(zai, 'gpt-5')).toBe(false);
  });
});

describe('fallbackModels', () => {
  it('prefers the exact key, then the longest * prefix', () => {
    const fallbacks = { [SONNET]: ['x'], 'claude-sonnet-*': ['y'], 'claude-*': ['z'] };
    expect(fallbackModels(SONNET, fallbacks)).toEqual(['x']);
    expect(fallbackModels(`${SONNET}-20250929`, fallbacks)).toEqual(['y']);
    expect(fallbackModels('claude-opus-4-1', fallbacks)).toEqual(['z']);
    expect(fallbackModels('gpt-5', fallbacks)).toEqual([]);
    expect(fallbackModels('constructor', fallbacks)).toEqual([]);
  });

  it('names the rule that applied (config text: a bounded metric label, whatever model the client sent)', () => {
    const fallbacks = { [SONNET]: ['x'], 'claude-sonnet-*': ['y'] };
    expect(fallbackRuleOf(SONNET, fallbacks)).toBe(SONNET);
    expect(fallbackRuleOf(`claude-sonnet-${'z'.repeat(10_000)}`, fallbacks)).toBe('claude-sonnet-*');
    expect(fallbackRuleOf('gpt-5', fallbacks)).toBeUndefined();
  });
});

describe('ModelTable', () => {
  const providers = [
    { name: 'a', enabled: true, priority: 0, weight: 1, models: ['claude-*'], model_mapping: {} },
    { name: 'b', enabled: true, priority: 0, weight: 1, models: ['glm-4'], model_mapping: {} },
  ];

  it('answers as modelEntry does, and the same entry again for the same model', () => {
    const table = new ModelTable(providers, { 'claude-opus-4': ['glm-4'] });
    const entry = table.get('claude-opus-4');
    expect(entry).toEqual(modelEntry('claude-opus-4', providers, { 'claude-opus-4': ['glm-4'] }));
    expect(entry.candidates.map((c) => c.name)).toEqual(['a']);
    expect(entry.fallbacks).toEqual(['glm-4']);
    expect(table.get('claude-opus-4')).toBe(entry);
  });

  it('stays bounded when clients send ever new model names', () => {
    const table = new ModelTable(providers, {}, 3);
    const first = table.get('m0');
    for (let i = 1; i <= 3; i++) table.get(`m${i}`);
    // The fourth name started the table over: m0 is computed afresh (an equal, new entry).
    expect(table.get('m0')).not.toBe(first);
    expect(table.get('m0')).toEqual(first);
  });

  it('never keeps a model name longer than MAX_REMEMBERED_MODEL_LENGTH (the client chooses its size)', () => {
    const table = new ModelTable(providers, {});
    const long = `claude-${'x'.repeat(MAX_REMEMBERED_MODEL_LENGTH)}`;
    for (let i = 0; i < 50; i++) table.get(`${long}-${i}`);
    expect(table.size).toBe(0);
    // Still answered as modelEntry does, computed afresh each time.
    expect(table.get(long)).toEqual(modelEntry(long, providers, {}));
    expect(table.get(long)).not.toBe(table.get(long));
    const longest = 'claude-'.padEnd(MAX_REMEMBERED_MODEL_LENGTH, 'y');
    expect(table.get(longest)).toBe(table.get(longest));
    expect(table.size).toBe(1);
  });

  it('shows a model name in logs whole when short, else its start and length', () => {
    expect(modelForLog('claude-sonnet-4-5')).toBe('claude-sonnet-4-5');
    const long = 'm'.repeat(1_000_000);
    const shown = modelForLog(long);
    expect(shown.length).toBeLessThan(MAX_REMEMBERED_MODEL_LENGTH + 40);
    expect(shown).toMatch(/^m{256}… \(1000000 characters\)$/);
  });

  it('gives buildRoutePlan the same plan as without it', () => {
    const fallbacks = { 'claude-opus-4': ['glm-4'] };
    const table = new ModelTable(providers, fallbacks);
    const ctx = { model: 'claude-opus-4', isRoutable: () => true, inFlight: () => 0 };
    const plan = (lookup?: (model: string) => ModelEntry) =>
      buildRoutePlan('claude-opus-4', providers, { fallbacks }, new FailoverStrategy(), ctx, lookup);
    const plain = plan();
    const viaTable = plan((m) => table.get(m));
    expect(viaTable).toEqual(plain);
    expect(plain.map((s) => `${s.provider}:${s.model}`)).toEqual(['a:claude-opus-4', 'b:glm-4']);
  });
});
