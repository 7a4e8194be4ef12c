import type { ProviderConfig } from './relay-config';

/** The key of a model-keyed config record that applies to a model: its exact name, else the longest `prefix*`. */
export function patternKeyOf(model: string, record: Readonly<Record<string, unknown>>): string | undefined {
  if (Object.hasOwn(record, model)) return model;
  let best: string | undefined;
  for (const key of Object.keys(record)) {
    if (
      key.endsWith('*') &&
      model.startsWith(key.slice(0, -1)) &&
      (best === undefined || key.length > best.length)
    ) {
      best = key;
    }
  }
  return best;
}

/**
 * The upstream model a provider's model_mapping gives a client model: the exact key, else the longest `prefix*`
 * key it starts with (as `models` and routing.fallbacks match), so `claude-sonnet-4-5*: glm-4.6` also maps the
 * dated ids Claude Code sends (`claude-sonnet-4-5-20250929`). Undefined when the mapping does not name it.
 */
export function mappedModel(
  provider: Pick<ProviderConfig, 'model_mapping'>,
  model: string,
): string | undefined {
  const rule = patternKeyOf(model, provider.model_mapping);
  return rule === undefined ? undefined : provider.model_mapping[rule];
}
