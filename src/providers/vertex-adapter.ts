import { readFileSync } from 'node:fs';
import { CredentialError } from './credential-error';
import type { GoogleAuth } from 'google-auth-library';
import { providerBaseUrl } from '../config/provider-defaults';
import type { ProbeKind, ProviderConfig } from '../config/relay-config';
import { PROBE_PROMPT, PROBE_USER_AGENT, probeModelOf, type ProbeRequest } from './probe-request';
import { buildUpstreamHeaders } from '../protocol/upstream-headers';
import {
  type AdaptedCall,
  type AdapterRequest,
  type ProviderAdapter,
  type ResponseTranslation,
} from './provider-adapter';
import { vertexErrorAnswer } from './vendor-errors';

/** The `anthropic_version` Vertex AI's Claude endpoints take in the body. */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** The token_uri of a service-account file, if it is one that names it. */
function tokenUriOf(file: string): string | undefined {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { type?: unknown; token_uri?: unknown };
    return json.type === 'service_account' && typeof json.token_uri === 'string' ? json.token_uri : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claude on Vertex AI: `…/publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict` for streams) and
 * `…/models/count-tokens:rawPredict`, the body without `model` (count_tokens keeps it) and with
 * `anthropic_version: vertex-2023-10-16`, authenticated with an OAuth token from Google's auth library (one
 * GoogleAuth per provider: the library caches the token and refreshes it before it expires). Answers are
 * Anthropic's JSON and SSE as they are; Google-shaped errors are translated.
 */
export class VertexAdapter implements ProviderAdapter {
  readonly translation: ResponseTranslation = {
    errorAnswer: (status, _h, body) => vertexErrorAnswer(status, body),
  };
  private auth?: Promise<GoogleAuth>;
  private readonly prefix: string;

  constructor(private readonly config: ProviderConfig) {
    const base = new URL(providerBaseUrl(config)).pathname.replace(/\/+$/, '');
    this.prefix =
      `${base}/v1/projects/${encodeURIComponent(config.gcp_project_id ?? '')}` +
      `/locations/${encodeURIComponent(config.gcp_region ?? '')}/publishers/anthropic/models/`;
  }

  private async token(): Promise<string> {
    const auth = (this.auth ??= this.createAuth());
    try {
      const token = await (await auth).getAccessToken();
      if (!token) throw new Error('no token');
      return token;
    } catch {
      // A client that could not be built (a credentials file not there yet) is built anew next time.
      if (this.auth === auth) {
        await auth.catch(() => {
          this.auth = undefined;
        });
      }
      // The library's message may name the key file or echo the token endpoint's answer: not passed on.
      throw new CredentialError(`provider "${this.config.name}": no Google access token`);
    }
  }

  private async createAuth(): Promise<GoogleAuth> {
    const { GoogleAuth } = await import('google-auth-library');
    const file = this.config.credentials_file;
    const auth = new GoogleAuth({
      scopes: [CLOUD_PLATFORM_SCOPE],
      ...(file === undefined ? {} : { keyFilename: file }),
    });
    // The library sends a service account's token request to Google's own token URL whatever the file's token_uri
    // says; a file that names another one (a private endpoint, a test's fake) is honoured here.
    const tokenUri = file === undefined ? undefined : tokenUriOf(file);
    if (tokenUri !== undefined && tokenUri !== GOOGLE_TOKEN_URL) {
      const client = await auth.getClient();
      client.transporter.interceptors.request.add({
        resolved: (options) => {
          if (String(options.url) === GOOGLE_TOKEN_URL) options.url = new URL(tokenUri);
          return Promise.resolve(options);
        },
      });
    }
    return auth;
  }

  /** The path after the provider's base path (the pool prepends that). */
  private path(model: string, verb: 'rawPredict' | 'streamRawPredict'): string {
    const base = new URL(providerBaseUrl(this.config)).pathname.replace(/\/+$/, '');
    // '@' (claude-sonnet-4-5@20250929) is allowed in a path segment and sent as is, as Anthropic's Vertex SDK does.
    return `${this.prefix.slice(base.length)}${encodeURIComponent(model).replace(/%40/g, '@')}:${verb}`;
  }

  async prepare(req: AdapterRequest): Promise<AdaptedCall> {
    const token = await this.token();
    const body = JSON.parse(typeof req.body === 'string' ? req.body : req.body.toString('utf8')) as Record<
      string,
      unknown
    >;
    body.anthropic_version ??= VERTEX_ANTHROPIC_VERSION;
    let pathAndQuery: string;
    if (req.endpoint === 'count_tokens') {
      pathAndQuery = this.path('count-tokens', 'rawPredict');
    } else {
      delete body.model;
      pathAndQuery = this.path(req.model, req.stream ? 'streamRawPredict' : 'rawPredict');
    }
    const headers = buildUpstreamHeaders(req.clientHeaders, 'bearer', token, undefined, req.requestId);
    return { kind: 'send', pathAndQuery, headers, body: JSON.stringify(body) };
  }

  /**
   * A count_tokens call (no tokens spent, authenticated, through the model's publisher path) whatever kind is
   * configured: Vertex has no `GET /v1/models` and a messages probe would spend tokens for no more insight. With
   * no model configured, the project's location is read (`GET …/locations/{region}`), which authenticates too.
   */
  async probe(_kind: ProbeKind): Promise<ProbeRequest> {
    const token = await this.token();
    const origin = providerBaseUrl(this.config);
    const model = probeModelOf(this.config);
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      'user-agent': PROBE_USER_AGENT,
    };
    if (model === undefined) {
      const location = this.prefix.slice(0, this.prefix.indexOf('/publishers/'));
      return {
        provider: this.config.name,
        kind: 'models',
        method: 'GET',
        url: new URL(location, origin).href,
        headers,
      };
    }
    return {
      provider: this.config.name,
      kind: 'count_tokens',
      method: 'POST',
      url: `${origin}${this.path('count-tokens', 'rawPredict')}`,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        anthropic_version: VERTEX_ANTHROPIC_VERSION,
        model,
        messages: [{ role: 'user', content: PROBE_PROMPT }],
      }),
    };
  }
}
