import { CredentialError } from './credential-error';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { errorJson } from '../protocol/error-writer';
import { providerBaseUrl } from '../config/provider-defaults';
import type { ProbeKind, ProviderConfig } from '../config/relay-config';
import { PROBE_PROMPT, PROBE_USER_AGENT, probeModelOf, type ProbeRequest } from './probe-request';
import { BedrockEventStreamToSse } from './bedrock-stream';
import {
  type AdaptedCall,
  type AdapterRequest,
  type ProviderAdapter,
  type ResponseTranslation,
} from './provider-adapter';
import { bedrockErrorAnswer } from './vendor-errors';

/** The `anthropic_version` Bedrock's Claude models take in the body. */
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';
/** The model a probe names when the provider names none (any 4xx but 429 still shows the endpoint serves). */
const PROBE_FALLBACK_MODEL = 'anthropic.claude-haiku-4-5-20251001-v1:0';

/**
 * Claude on Amazon Bedrock: `POST /model/{modelId}/invoke` (`/invoke-with-response-stream` for streams), the body
 * without `model` and `stream`, with `anthropic_version: bedrock-2023-05-31` and the client's `anthropic-beta`
 * header as the `anthropic_beta` list; signed with SigV4 (service `bedrock`) from the AWS default credential chain
 * (optionally a profile), whose provider caches the credentials and renews them before they expire. The binary
 * event stream is relayed as Anthropic SSE; errors are classified by exception name.
 */
export class BedrockAdapter implements ProviderAdapter {
  readonly translation: ResponseTranslation = {
    streamContentType: 'application/vnd.amazon.eventstream',
    stream: () => new BedrockEventStreamToSse(),
    errorAnswer: bedrockErrorAnswer,
  };
  private signer?: Promise<SignatureV4>;
  private readonly url: URL;
  private readonly basePath: string;

  constructor(
    private readonly config: ProviderConfig,
    private readonly credentials?: AwsCredentialIdentityProvider,
  ) {
    this.url = new URL(providerBaseUrl(config));
    this.basePath = this.url.pathname.replace(/\/+$/, '');
  }

  private getSigner(): Promise<SignatureV4> {
    this.signer ??= (async () => {
      let credentials = this.credentials;
      if (credentials === undefined) {
        const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
        credentials = fromNodeProviderChain(
          this.config.aws_profile === undefined ? {} : { profile: this.config.aws_profile },
        );
      }
      return new SignatureV4({
        credentials,
        region: this.config.aws_region ?? 'us-east-1',
        service: 'bedrock',
        // Node's own crypto, as the AWS SDK uses in Node: the pure-JS SHA-256 cost ~400 µs per 27 kB body.
        sha256: Hash.bind(null, 'sha256'),
      });
    })();
    return this.signer;
  }

  /** Signs a request to `path` (after the base path) and returns its headers, names and values alternating. */
  private async sign(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
  ): Promise<Record<string, string>> {
    const host = this.url.host;
    const headers: Record<string, string> = { host, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const signed = await (
        await this.getSigner()
      ).sign({
        method,
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        ...(this.url.port === '' ? {} : { port: Number(this.url.port) }),
        path: this.basePath + path,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      return signed.headers;
    } catch {
      // The chain's messages may name profiles, files or metadata endpoints: not passed on.
      throw new CredentialError(`provider "${this.config.name}": no AWS credentials (default chain)`);
    }
  }

  async prepare(req: AdapterRequest): Promise<AdaptedCall> {
    if (req.endpoint === 'count_tokens') {
      // Bedrock's CountTokens takes another request shape and serves few models; the next provider counts.
      return {
        kind: 'refuse',
        status: 404,
        body: errorJson('not_found_error', `provider "${this.config.name}" (Bedrock) serves no count_tokens`),
      };
    }
    const body = JSON.parse(typeof req.body === 'string' ? req.body : req.body.toString('utf8')) as Record<
      string,
      unknown
    >;
    delete body.model;
    delete body.stream;
    body.anthropic_version ??= BEDROCK_ANTHROPIC_VERSION;
    const beta = req.clientHeaders['anthropic-beta'];
    if (beta !== undefined && body.anthropic_beta === undefined) {
      body.anthropic_beta = (Array.isArray(beta) ? beta.join(',') : beta)
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean);
    }
    const json = JSON.stringify(body);
    const path = `/model/${encodeURIComponent(req.model)}/${req.stream ? 'invoke-with-response-stream' : 'invoke'}`;
    const signed = await this.sign('POST', path, json);
    const headers: string[] = [];
    for (const name in signed) if (name !== 'host') headers.push(name, signed[name]!);
    headers.push('accept-encoding', 'identity', 'x-request-id', req.requestId);
    const ua = req.clientHeaders['user-agent'];
    if (typeof ua === 'string') headers.push('user-agent', ua);
    return { kind: 'send', pathAndQuery: path, headers, body: json };
  }

  /**
   * A signed CountTokens call (`POST /model/{id}/count-tokens`) whatever kind is configured: it authenticates and
   * spends no tokens; bedrock-runtime has no model list. A model without token counting answers 4xx, which still
   * shows the endpoint serves (see isProbeSuccess).
   */
  async probe(_kind: ProbeKind): Promise<ProbeRequest> {
    const model = probeModelOf(this.config) ?? PROBE_FALLBACK_MODEL;
    const invokeBody = JSON.stringify({
      anthropic_version: BEDROCK_ANTHROPIC_VERSION,
      max_tokens: 1,
      messages: [{ role: 'user', content: PROBE_PROMPT }],
    });
    const body = JSON.stringify({
      input: { invokeModel: { body: Buffer.from(invokeBody).toString('base64') } },
    });
    const path = `/model/${encodeURIComponent(model)}/count-tokens`;
    const signed = await this.sign('POST', path, body);
    delete signed.host;
    return {
      provider: this.config.name,
      kind: 'count_tokens',
      method: 'POST',
      url: `${this.url.origin}${this.basePath}${path}`,
      headers: { ...signed, 'user-agent': PROBE_USER_AGENT },
      body,
    };
  }
}
