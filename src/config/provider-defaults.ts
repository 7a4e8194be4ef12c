import type { ProviderConfig, ProviderType } from './relay-config';

/** How a provider type expects its key: Anthropic's own header, or a bearer token (the compatible gateways). */
export type ProviderAuthStyle = 'x-api-key' | 'bearer';

/** Base URL and auth header per provider type, used when a provider leaves `base_url` out. */
export const PROVIDER_DEFAULTS: Record<ProviderType, { base_url: string; auth: ProviderAuthStyle }> = {
  anthropic: { base_url: 'https://api.anthropic.com', auth: 'x-api-key' },
  zai: { base_url: 'https://api.z.ai/api/anthropic', auth: 'bearer' },
  minimax: { base_url: 'https://api.minimax.io/anthropic', auth: 'bearer' },
  ollama: { base_url: 'http://127.0.0.1:11434', auth: 'bearer' },
};

/** The provider's base URL without a trailing slash, so `${base}/v1/messages` never doubles it. */
export function providerBaseUrl(p: ProviderConfig): string {
  return (p.base_url ?? PROVIDER_DEFAULTS[p.type].base_url).replace(/\/+$/, '');
}

/** Which header carries the provider's key. */
export function providerAuthStyle(p: ProviderConfig): ProviderAuthStyle {
  return PROVIDER_DEFAULTS[p.type].auth;
}
