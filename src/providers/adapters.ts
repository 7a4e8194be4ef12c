import type { ProviderConfig } from '../config/relay-config';
import { AzureAdapter } from './azure-adapter';
import { BedrockAdapter } from './bedrock-adapter';
import { OpenAIAdapter } from './openai-adapter';
import { VertexAdapter } from './vertex-adapter';
import type { ProviderAdapter } from './provider-adapter';

const adapters = new WeakMap<ProviderConfig, ProviderAdapter>();

/**
 * The adapter of a provider, or undefined for the types that speak the Anthropic API with a key (anthropic, zai,
 * minimax, ollama, and azure with keys): those keep the byte-exact forwarding path, with no call in between.
 */
export function adapterOf(config: ProviderConfig): ProviderAdapter | undefined {
  const type = config.type;
  if (
    type !== 'vertex' &&
    type !== 'bedrock' &&
    type !== 'openai' &&
    !(type === 'azure' && config.entra_id)
  ) {
    return undefined;
  }
  let adapter = adapters.get(config);
  if (adapter === undefined) {
    adapter =
      type === 'vertex'
        ? new VertexAdapter(config)
        : type === 'bedrock'
          ? new BedrockAdapter(config)
          : type === 'openai'
            ? new OpenAIAdapter(config)
            : new AzureAdapter(config);
    adapters.set(config, adapter);
  }
  return adapter;
}
