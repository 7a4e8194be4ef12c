import { describe, expect, it } from 'vitest';
import { PROVIDER_DEFAULTS, providerAuthStyle, providerBaseUrl } from './provider-defaults';
import { ProviderConfig, type ProviderType } from './relay-config';

function provider(type: ProviderType, base_url?: string): ProviderConfig {
  return Object.assign(new ProviderConfig(), { name: type, type, base_url });
}

describe('provider defaults', () => {
  it('give each type its documented base URL and auth header', () => {
    expect(providerBaseUrl(provider('anthropic'))).toBe('https://api.anthropic.com');
    expect(providerBaseUrl(provider('zai'))).toBe('https://api.z.ai/api/anthropic');
    expect(providerBaseUrl(provider('minimax'))).toBe('https://api.minimax.io/anthropic');
    expect(providerBaseUrl(provider('ollama'))).toBe('http://127.0.0.1:11434');
    expect(providerAuthStyle(provider('anthropic'))).toBe('x-api-key');
    expect(['zai', 'minimax', 'ollama'].map((t) => PROVIDER_DEFAULTS[t as 'zai'].auth)).toEqual([
      'bearer',
      'bearer',
      'bearer',
    ]);
    expect(providerAuthStyle(provider('azure'))).toBe('x-api-key');
  });

  it('put Vertex AI and Bedrock on their regional hosts', () => {
    const vertex = (gcp_region: string) =>
      providerBaseUrl(Object.assign(provider('vertex'), { gcp_region, gcp_project_id: 'p' }));
    expect(vertex('europe-west1')).toBe('https://europe-west1-aiplatform.googleapis.com');
    expect(vertex('global')).toBe('https://aiplatform.googleapis.com');
    expect(providerBaseUrl(Object.assign(provider('bedrock'), { aws_region: 'eu-west-3' }))).toBe(
      'https://bedrock-runtime.eu-west-3.amazonaws.com',
    );
  });

  it('prefer the configured base_url, without a trailing slash', () => {
    expect(providerBaseUrl(provider('zai', 'http://127.0.0.1:9999/'))).toBe('http://127.0.0.1:9999');
  });
});
