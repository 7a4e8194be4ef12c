import { mappedModel, patternKeyOf } from '../config/model-patterns';
import type { ProviderConfig, RoutingConfig } from '../config/relay-config';
import { FailoverStrategy } from './strategies/failover.strategy';
import type { ProviderCandidate, RoutingContext, RoutingStrategy } from './strategies/routing-strategy';

/** One attempt target of a request: a provider and the (client-facing) model to ask it for. */
export interface PlanStep {
  provider: string;
  /** The model name as the client knows it; the provider's model_mapping is applied when calling it. */
  model: string;
  /** 0 = the requested model, n = the n-th entry of routing.fallbacks[model]. */
  fallbackIndex: number;
  /** The model the provider is asked for: `model` through the provider's model_mapping. */
  upstreamModel: string;
  /**
   * Fallback steps: the routing.fallbacks key that led here (config text, never the client's model string, so it
   * serves as a bounded metric label). Undefined on the requested model's own steps.
   */
  fallbackRule?: string;
}

/** The provider fields the plan reads (a ProviderConfig satisfies it). */
export type PlannedProvider = Pick<
  ProviderConfig,
  'name' | 'enabled' | 'priority' | 'weight' | 'models' | 'model_mapping'
>;

/**
 * The ordered attempts for a request: the requested model's candidates as the strategy orders them, then for each
 * model in routing.fallbacks[model] its candidates. Only enabled, routable, non-drained providers that serve the
 * model appear.
 *
 * The strategy is asked once, for the requested model: rotating strategies advance on every call, and asking them
 * again per fallback model would skew the rotation. Fallback steps reuse that ranking (providers the strategy did
 * not rank follow in failover order). model_based is asked again per fallback model, since its answer depends on
 * the model and it keeps no rotation state.
 */
export function buildRoutePlan(
  model: string,
  providers: readonly PlannedProvider[],
  routing: Pick<RoutingConfig, 'fallbacks'>,
  strategy: RoutingStrategy,
  ctx: RoutingContext,
  lookup: (model: string) => ModelEntry = (m) => modelEntry(m, providers, routing.fallbacks),
): PlanStep[] {
  const entry = lookup(model);
  const primary = strategy.order(entry.candidates, contextFor(model, ctx));
  const steps: PlanStep[] = primary.map((c) => ({
    provider: c.name,
    model,
    fallbackIndex: 0,
    upstreamModel: upstreamModelOf(providers, c, model),
  }));
  const fallbacks = entry.fallbacks;
  if (fallbacks.length === 0) return fullLast(steps, ctx); // the usual case, and on every request: nothing more to build

  const rank = new Map(primary.map((c, i) => [c.name, i]));
  const failover = new FailoverStrategy();
  const seen = new Set([model]);
  const fallbackRule = fallbackRuleOf(model, routing.fallbacks) ?? 'unknown';
  fallbacks.forEach((fallback, i) => {
    if (seen.has(fallback)) return;
    seen.add(fallback);
    const candidates = lookup(fallback).candidates;
    const fallbackCtx = contextFor(fallback, ctx);
    const ordered =
      strategy.name === 'model_based'
        ? strategy.order(candidates, fallbackCtx)
        : failover
            .order(candidates, fallbackCtx)
            .sort((a, b) => (rank.get(a.name) ?? Infinity) - (rank.get(b.name) ?? Infinity));
    for (const c of ordered) {
      steps.push({
        provider: c.name,
        model: fallback,
        fallbackIndex: i + 1,
        upstreamModel: upstreamModelOf(providers, c, fallback),
        fallbackRule,
      });
    }
  });
  return fullLast(steps, ctx);
}

/**
 * The steps whose provider has a free upstream connection first, then those whose provider is full, each group in
 * plan order. A full provider is passed over like an unavailable one while another step can serve the request now
 * (a fallback model's included); when none can, the request still goes to one and waits there for a connection.
 */
export function fullLast<T extends Pick<PlanStep, 'provider'>>(
  steps: T[],
  ctx: Pick<RoutingContext, 'hasRoom'>,
): T[] {
  const hasRoom = (name: string) => ctx.hasRoom?.(name) ?? true;
  if (steps.every((s) => hasRoom(s.provider))) return steps;
  const free: T[] = [];
  const full: T[] = [];
  for (const s of steps) (hasRoom(s.provider) ? free : full).push(s);
  return free.concat(full);
}

/**
 * Whether a step after `index` goes to a provider that can take the request at once: the attempt loop then passes
 * over a provider that filled up after the plan was made instead of waiting for its connections.
 */
export function laterStepCanServeNow(
  plan: readonly Pick<PlanStep, 'provider'>[],
  index: number,
  canServeNow: (provider: string) => boolean,
): boolean {
  for (let i = index + 1; i < plan.length; i++) if (canServeNow(plan[i]!.provider)) return true;
  return false;
}

/** The model a candidate is asked for: `model` through its provider's model_mapping (the candidate's config). */
function upstreamModelOf(
  providers: readonly PlannedProvider[],
  candidate: ProviderCandidate,
  model: string,
): string {
  // The index is the candidate's place in the list the model table was built from: the same list as here.
  let provider: PlannedProvider | undefined = providers[candidate.index];
  if (provider?.name !== candidate.name) provider = providers.find((p) => p.name === candidate.name);
  return (provider && mappedModel(provider, model)) ?? model;
}

/**
 * Whether the provider serves the model: its `models` list is empty (serves anything), names the model, has an
 * entry ending with `*` that is a prefix of it, or its model_mapping translates the model.
 */
export function providerServesModel(
  provider: Pick<PlannedProvider, 'models' | 'model_mapping'>,
  model: string,
): boolean {
  if (provider.models.length === 0) return true;
  if (mappedModel(provider, model) !== undefined) return true;
  return provider.models.some((m) => (m.endsWith('*') ? model.startsWith(m.slice(0, -1)) : m === model));
}

/**
 * The configured fallback models of a model: the exact key of routing.fallbacks, else the longest key ending with
 * `*` that is a prefix of it (so `claude-sonnet-4-5*` also covers dated ids).
 */
export function fallbackModels(
  model: string,
  fallbacks: Readonly<Record<string, readonly string[]>>,
): string[] {
  const rule = fallbackRuleOf(model, fallbacks);
  return rule === undefined ? [] : [...(fallbacks[rule] ?? [])];
}

/**
 * The routing.fallbacks key that applies to a model: its exact name, else the longest `prefix*` it starts with.
 * Config text, unlike the model name the client sent, so it also serves as a bounded metric label.
 */
export function fallbackRuleOf(
  model: string,
  fallbacks: Readonly<Record<string, readonly string[]>>,
): string | undefined {
  return patternKeyOf(model, fallbacks);
}

function candidatesFor(model: string, providers: readonly PlannedProvider[]): ProviderCandidate[] {
  const out: ProviderCandidate[] = [];
  providers.forEach((p, index) => {
    if (p.enabled && providerServesModel(p, model)) {
      out.push({ name: p.name, priority: p.priority, weight: p.weight, index });
    }
  });
  return out;
}

// A wrapper rather than a spread: the caller's context may keep its methods on a prototype.
function contextFor(model: string, ctx: RoutingContext): RoutingContext {
  if (ctx.model === model) return ctx;
  return {
    model,
    isRoutable: (name) => ctx.isRoutable(name),
    inFlight: (name) => ctx.inFlight(name),
    hasRoom: (name) => ctx.hasRoom?.(name) ?? true,
  };
}

/** What the plan needs to know of a model that depends on the config alone. */
export interface ModelEntry {
  /** The enabled providers that serve the model, in config order. */
  readonly candidates: readonly ProviderCandidate[];
  /** Its configured fallback models (routing.fallbacks). */
  readonly fallbacks: readonly string[];
}

export function modelEntry(
  model: string,
  providers: readonly PlannedProvider[],
  fallbacks: Readonly<Record<string, readonly string[]>>,
): ModelEntry {
  return { candidates: candidatesFor(model, providers), fallbacks: fallbackModels(model, fallbacks) };
}

/**
 * The longest model name ModelTable remembers. Real model ids are tens of characters; the name is the client's
 * and only the body limit bounds it, so 1,024 remembered names of 1 MB each would have kept 1 GB alive (measured:
 * 200 such requests, 200 MB of heap that no GC gave back). A longer name is planned without being remembered.
 */
export const MAX_REMEMBERED_MODEL_LENGTH = 256;

/**
 * A client's model name as a log line shows it: whole up to MAX_REMEMBERED_MODEL_LENGTH characters, else its start
 * and its length (a failed attempt logs the model, and a 1 MB name made a 1 MB log line).
 */
export function modelForLog(model: string): string {
  return model.length <= MAX_REMEMBERED_MODEL_LENGTH
    ? model
    : `${model.slice(0, MAX_REMEMBERED_MODEL_LENGTH)}… (${model.length} characters)`;
}

/**
 * modelEntry remembered per model, so a request does not rebuild its candidate list. Bounded, since the model name
 * comes from the client: past `limit` names the table starts over (real deployments see a handful), and a name
 * longer than MAX_REMEMBERED_MODEL_LENGTH is never kept. The providers and fallbacks are read once, like the rest
 * of the config: a config reload would build a new table.
 */
export class ModelTable {
  private readonly entries = new Map<string, ModelEntry>();

  constructor(
    private readonly providers: readonly PlannedProvider[],
    private readonly fallbacks: Readonly<Record<string, readonly string[]>>,
    private readonly limit = 1024,
  ) {}

  /** How many model names the table remembers. */
  get size(): number {
    return this.entries.size;
  }

  get(model: string): ModelEntry {
    let entry = this.entries.get(model);
    if (!entry) {
      entry = modelEntry(model, this.providers, this.fallbacks);
      if (model.length > MAX_REMEMBERED_MODEL_LENGTH) return entry;
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(model, entry);
    }
    return entry;
  }
}
