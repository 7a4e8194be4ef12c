import type { ProviderConfig, ProviderType } from './relay-config';

/** How a provider type expects its key: Anthropic's own header, or a bearer token (the compatible gateways). */
export type ProviderAuthStyle = 'x-api-key' | 'bearer';

/** Base URL and auth header per provider type, used when a provider leaves `base_url` out. */
export const PROVIDER_DEFAULTS: Record<ProviderType, { base_url: string; auth: ProviderAuthStyle }> = {
  anthropic: { base_url: 'https://api.anthropic.com', auth: 'x-api-key' },
  zai: { base_url: 'https://api.z.ai/api/anthropic', auth: 'bearer' },
  minimax: { base_url: 'https://api.minimax.io/anthropic', auth: 'bearer' },
  ollama: { base_url: 'http://127.0.0.1:11434', auth: 'bearer' },
  // Foundry's Anthropic endpoint takes the resource key as x-api-key; base_url is required (config-validation.ts).
  azure: { base_url: 'https://services.ai.azure.com/anthropic', auth: 'x-api-key' },
  // Cloud credentials, not keys (src/providers/): the host depends on the region (providerBaseUrl).
  vertex: { base_url: 'https://aiplatform.googleapis.com', auth: 'bearer' },
  bedrock: { base_url: 'https://bedrock-runtime.us-east-1.amazonaws.com', auth: 'bearer' },
  // Chat Completions, translated (src/providers/openai-adapter.ts); base_url is required (config-validation.ts).
  openai: { base_url: 'https://api.openai.com/v1', auth: 'bearer' },
};

/** The provider's base URL without a trailing slash, so `${base}/v1/messages` never doubles it. */
export function providerBaseUrl(p: ProviderConfig): string {
  return (p.base_url ?? regionalBaseUrl(p) ?? PROVIDER_DEFAULTS[p.type].base_url).replace(/\/+$/, '');
}

/** Vertex AI and Bedrock endpoints are per region; `global` is Vertex's multi-region host. */
function regionalBaseUrl(p: ProviderConfig): string | undefined {
  if (p.type === 'vertex' && p.gcp_region !== undefined) {
    return p.gcp_region === 'global'
      ? 'https://aiplatform.googleapis.com'
      : `https://${p.gcp_region}-aiplatform.googleapis.com`;
  }
  if (p.type === 'bedrock' && p.aws_region !== undefined) {
    return `https://bedrock-runtime.${p.aws_region}.amazonaws.com`;
  }
  return undefined;
}

/** Which header carries the provider's key. */
export function providerAuthStyle(p: ProviderConfig): ProviderAuthStyle {
  return PROVIDER_DEFAULTS[p.type].auth;
}
