import { CredentialError } from './credential-error';
import type { TokenCredential } from '@azure/identity';
import type { ProbeKind, ProviderConfig } from '../config/relay-config';
import { buildProbeRequest, type ProbeRequest } from './probe-request';
import { buildUpstreamHeaders } from '../protocol/upstream-headers';
import { type AdaptedCall, type AdapterRequest, type ProviderAdapter } from './provider-adapter';
import { TokenCache } from './token-cache';

/** The scope of Azure AI services tokens (Foundry's Anthropic endpoint among them). */
export const AZURE_SCOPE = 'https://cognitiveservices.azure.com/.default';

/**
 * Azure AI Foundry's Anthropic endpoint with Entra ID: the Messages API as is, with a Bearer token from
 * DefaultAzureCredential (env service principal, workload identity, managed identity, Azure CLI…), cached until
 * shortly before it expires. With `keys` instead, azure takes the plain forwarding path (x-api-key).
 */
export class AzureAdapter implements ProviderAdapter {
  private readonly tokens: TokenCache;

  constructor(
    private readonly config: ProviderConfig,
    credential?: TokenCredential,
  ) {
    let cred = credential;
    this.tokens = new TokenCache(async () => {
      try {
        cred ??= new (await import('@azure/identity')).DefaultAzureCredential();
        const got = await cred.getToken(AZURE_SCOPE);
        if (!got) throw new Error('no token');
        return { token: got.token, expiresAt: got.expiresOnTimestamp };
      } catch {
        throw new CredentialError(`provider "${config.name}": no Entra ID token (DefaultAzureCredential)`);
      }
    });
  }

  async prepare(req: AdapterRequest): Promise<AdaptedCall> {
    const token = await this.tokens.get();
    return {
      kind: 'send',
      pathAndQuery: req.pathAndQuery,
      headers: buildUpstreamHeaders(req.clientHeaders, 'bearer', token, undefined, req.requestId),
      body: req.body,
    };
  }

  async probe(kind: ProbeKind): Promise<ProbeRequest> {
    const token = await this.tokens.get();
    // Built as for a keyed provider, then the key's header swapped for the token.
    const request = buildProbeRequest({ ...this.config, keys: [{ key: token }] } as ProviderConfig, kind);
    delete request.headers['x-api-key'];
    request.headers.authorization = `Bearer ${token}`;
    return request;
  }
}
