import type { IncomingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import type { ProbeKind } from '../config/relay-config';
import type { ProbeRequest } from './probe-request';
import type { HeaderList } from '../protocol/upstream-headers';

export { CredentialError } from './credential-error';

/** What the attempt loop hands an adapter: the request as it would go to an Anthropic-API provider. */
export interface AdapterRequest {
  endpoint: 'messages' | 'count_tokens';
  /** The client's path and query (`/v1/messages?beta=true`). */
  pathAndQuery: string;
  clientHeaders: IncomingHttpHeaders;
  /** The body with the model already mapped (and foreign thinking blocks handled). */
  body: Buffer | string;
  /** The model as the upstream knows it. */
  model: string;
  /** The model the client asked for (translated answers report it). */
  clientModel?: string;
  stream: boolean;
  /** The pool key the relay picked, if the provider has keys. */
  key: string | undefined;
  requestId: string;
}

/** The upstream exchange an adapter made of a request (the base URL stays the provider's, see providerBaseUrl). */
export type AdaptedCall =
  | {
      kind: 'send';
      pathAndQuery: string;
      headers: HeaderList;
      body: Buffer | string;
      /** This call's translation, when it depends on the request (the client's model, for OpenAI). */
      translation?: ResponseTranslation;
    }
  /** The provider cannot serve this request at all (Bedrock's count_tokens): answered as this status. */
  | { kind: 'refuse'; status: number; body: string };

/** How an adapter turns a vendor's answer into Anthropic's; left out where the vendor answers as Anthropic does. */
export interface ResponseTranslation {
  /** The content type of the vendor's stream (`text/event-stream` when unset). */
  streamContentType?: string;
  /** Turns the vendor's stream bytes into Anthropic SSE bytes, as they come (never buffered to the end). */
  stream?: () => Transform;
  /** Turns the vendor's 2xx JSON answer into Anthropic's (or into an error status, when the 2xx carried one). */
  json?: (body: Buffer) => { status: number; body: Buffer };
  /** Turns the vendor's error answer into Anthropic's status and error shape. */
  errorAnswer?: (
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ) => { status: number; body: Buffer };
}

/**
 * A provider type that does not speak the Anthropic Messages API with an API key as is: it rewrites the request
 * (path, body, credentials fetched and cached from its cloud) and may translate the answer. One instance per
 * provider, so credential caches (OAuth tokens, AWS credentials) live as long as the provider's config.
 */
export interface ProviderAdapter {
  prepare(req: AdapterRequest): Promise<AdaptedCall>;
  readonly translation?: ResponseTranslation;
  /** The provider's health probe, authenticated as its traffic is. */
  probe(kind: ProbeKind): Promise<ProbeRequest>;
}
