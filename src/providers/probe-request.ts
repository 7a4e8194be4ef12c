import { mappedModel } from '../config/model-patterns';
import { providerAuthStyle, providerBaseUrl } from '../config/provider-defaults';
import type { ProbeKind, ProviderConfig } from '../config/relay-config';

/**
 * The health probe a provider gets, built the way its traffic is (the adapters build their own on top of it).
 * When to probe and how to read the answer is the health floor's (health/probe-policy.ts).
 */

/** The `anthropic-version` every Anthropic-compatible upstream accepts. */
export const PROBE_ANTHROPIC_VERSION = '2023-06-01';

/** The one-word user message of a `messages` or `count_tokens` probe. */
export const PROBE_PROMPT = 'ping';

/** The User-Agent of every probe, so a provider's logs (and a fake upstream) tell probes from traffic. */
export const PROBE_USER_AGENT = 'cc-relay-health-probe';

/** One health probe to send. */
export interface ProbeRequest {
  provider: string;
  /** The probe sent, after any fallback. */
  kind: ProbeKind;
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** JSON body of a POST probe. */
  body?: string;
  /** Set when the configured probe could not be built and `models` is sent instead: why, for one log line. */
  fallback?: string;
}

/** The probe a provider uses: its own `health_check.probe`, else the global default. */
export function probeKindOf(provider: ProviderConfig, defaultKind: ProbeKind): ProbeKind {
  return provider.health_check?.probe ?? defaultKind;
}

/**
 * The model a `messages` or `count_tokens` probe names, as the upstream knows it: among the provider's concrete
 * `models` (through its model_mapping) and its model_mapping targets, the first whose name (or the client name
 * it is mapped from) contains "haiku", the cheapest family, else the first. Undefined when the provider names no
 * model (it serves any): a probe cannot guess one the upstream accepts.
 */
export function probeModelOf(provider: Pick<ProviderConfig, 'models' | 'model_mapping'>): string | undefined {
  const candidates: Array<{ upstream: string; names: string }> = [];
  for (const model of provider.models) {
    if (model.endsWith('*')) continue;
    const upstream = mappedModel(provider, model) ?? model;
    candidates.push({ upstream, names: `${model} ${upstream}` });
  }
  for (const [from, upstream] of Object.entries(provider.model_mapping)) {
    candidates.push({ upstream, names: `${from} ${upstream}` });
  }
  const usable = candidates.filter((c) => c.upstream !== '' && !c.upstream.endsWith('*'));
  return (usable.find((c) => /haiku/i.test(c.names)) ?? usable[0])?.upstream;
}

/**
 * The probe for one provider, authenticated with its first key the way its messages calls are:
 * - `messages` (default): `POST /v1/messages`, non-streaming, `max_tokens: 1`, a one-word prompt, the cheapest
 *   configured model. It meets an overload (529) the way real traffic does, for a few tokens per probe;
 * - `count_tokens`: `POST /v1/messages/count_tokens` with the same prompt; no tokens spent;
 * - `models`: `GET /v1/models`, which every Anthropic-compatible upstream answers without spending tokens, but
 *   which keeps answering 200 while inference is overloaded.
 * A `messages` or `count_tokens` probe falls back to `models` (with `fallback` saying why) when the provider names
 * no model, or has no key (unauthenticated, it would only ever get a 401, which proves no more than the models
 * route does).
 */
export function buildProbeRequest(provider: ProviderConfig, defaultKind: ProbeKind = 'models'): ProbeRequest {
  const base = providerBaseUrl(provider);
  const headers: Record<string, string> = {
    'anthropic-version': PROBE_ANTHROPIC_VERSION,
    'user-agent': PROBE_USER_AGENT,
  };
  const key = provider.keys[0]?.key;
  if (key !== undefined) {
    if (providerAuthStyle(provider) === 'x-api-key') headers['x-api-key'] = key;
    else headers.authorization = `Bearer ${key}`;
  }
  const configured = probeKindOf(provider, defaultKind);
  const models = (fallback?: string): ProbeRequest => ({
    provider: provider.name,
    kind: 'models',
    method: 'GET',
    url: `${base}/v1/models`,
    headers,
    ...(fallback === undefined ? {} : { fallback }),
  });
  if (configured === 'models') return models();
  const model = probeModelOf(provider);
  if (model === undefined) {
    return models(
      `it serves any model (models is empty) and names none in model_mapping, so a ${configured} probe has no ` +
        `model to ask for; set its models (or health_check.probe: models to silence this)`,
    );
  }
  if (key === undefined) {
    return models(
      `it has no keys, so a ${configured} probe would go unauthenticated and learn nothing more than the ` +
        `models route does`,
    );
  }
  const messages = [{ role: 'user', content: PROBE_PROMPT }];
  const body = configured === 'messages' ? { model, max_tokens: 1, messages } : { model, messages };
  return {
    provider: provider.name,
    kind: configured,
    method: 'POST',
    url: `${base}/v1/messages${configured === 'count_tokens' ? '/count_tokens' : ''}`,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}
