import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderAuthStyle } from '../config/provider-defaults';
import type { ProviderType } from '../config/relay-config';

/** Headers that describe one hop, never the message (RFC 9110 §7.6.1), plus what the relay recomputes itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'host',
  'content-length',
  'expect',
  // The relay decodes a compressed request body (body-decoding.ts) and forwards the decoded bytes.
  'content-encoding',
]);

/**
 * Headers that must not travel upstream: the client's relay credentials (the provider key replaces them),
 * cookies, and directives meant for the relay itself (its cache and debug controls).
 */
const CLIENT_ONLY = new Set([
  // Replaced by the relay's own id of the request (the client's, when it was usable), so both logs correlate.
  'x-request-id',
  'x-api-key',
  'authorization',
  'cookie',
  'cache-control',
  'pragma',
  'accept-encoding',
]);

/** Response headers that reach the client: the ones SDKs and Claude Code read (protocol doc §1.3). */
const PASS_BACK_EXACT = new Set([
  'request-id',
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'content-type',
]);

/**
 * A header list as Node's `writeHead` and undici take it: names and values alternating. Building one is far
 * cheaper than building an object keyed by header names (measured: ~0.4 µs against ~2.7 µs for the objects the
 * JSON answer path used to spread and merge).
 */
export type HeaderList = string[];

/** Anthropic's own credentials: API keys (`sk-ant-api…`) and OAuth tokens (`sk-ant-oat…`), bare or as a Bearer token. */
const ANTHROPIC_CREDENTIAL = /^(?:bearer\s+)?sk-ant-/i;

/**
 * Whether a client's credential may be passed through to a keyless provider of this type. An Anthropic key or
 * token (what Claude Code sends from ANTHROPIC_API_KEY or its login) never goes to another vendor's gateway: on a
 * failover from a pass-through Anthropic provider it would hand the client's Anthropic key to z.ai, MiniMax or an
 * Ollama host. Any other credential may be that gateway's own key, and travels.
 */
export function mayPassThrough(type: ProviderType, credential: string): boolean {
  return type === 'anthropic' || !ANTHROPIC_CREDENTIAL.test(credential.trim());
}

/** Whether pass-through to a provider of this type leaves out a credential the client sent (see mayPassThrough). */
export function withholdsClientCredential(client: IncomingHttpHeaders, type: ProviderType): boolean {
  const { authorization } = client;
  const apiKey = client['x-api-key'];
  return (
    (typeof apiKey === 'string' && !mayPassThrough(type, apiKey)) ||
    (typeof authorization === 'string' && !mayPassThrough(type, authorization))
  );
}

/**
 * Builds the upstream request headers: every end-to-end client header (all `anthropic-*` byte-exact, SDK telemetry),
 * minus hop-by-hop headers and the client's own credentials, plus the provider key. When `providerKey` is
 * undefined the provider runs in pass-through mode and the client's own credential is forwarded instead, but only
 * on an open relay (`passThroughTo`, the provider's type, is then set): where the relay checks client keys, what a
 * client presents is a relay key, which never leaves the relay. Nor does an Anthropic credential reach a provider
 * of another type (mayPassThrough).
 */
export function buildUpstreamHeaders(
  client: IncomingHttpHeaders,
  auth: ProviderAuthStyle,
  providerKey: string | undefined,
  passThroughTo: ProviderType | undefined,
  requestId?: string,
): HeaderList {
  const connectionTokens = listedInConnection(client.connection);
  const out: HeaderList = [];
  for (const name in client) {
    const value = client[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || CLIENT_ONLY.has(name) || name.startsWith('x-cc-relay-')) continue;
    if (connectionTokens?.has(name)) continue;
    out.push(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // The relay reads the body (usage, stream events); a compressed upstream answer would have to be inflated.
  out.push('accept-encoding', 'identity');
  if (requestId !== undefined) out.push('x-request-id', requestId);
  if (providerKey !== undefined) {
    if (auth === 'bearer') out.push('authorization', `Bearer ${providerKey}`);
    else out.push('x-api-key', providerKey);
  } else if (passThroughTo !== undefined) {
    const apiKey = client['x-api-key'];
    const { authorization } = client;
    if (typeof apiKey === 'string' && mayPassThrough(passThroughTo, apiKey)) out.push('x-api-key', apiKey);
    if (typeof authorization === 'string' && mayPassThrough(passThroughTo, authorization)) {
      out.push('authorization', authorization);
    }
  }
  return out;
}

/** The list form of a header object (the answer's picked headers), to be extended and handed to writeHead. */
export function headerList(headers: Readonly<HeaderObject>): HeaderList {
  return appendHeaders([], headers);
}

type HeaderObject = Record<string, string | number | string[] | undefined>;

/** Appends a header object's entries to a list (arrays joined, numbers as text), leaving out the names in `skip`. */
export function appendHeaders(
  out: HeaderList,
  headers: Readonly<HeaderObject>,
  skip?: ReadonlySet<string>,
): HeaderList {
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || skip?.has(name)) continue;
    out.push(name, Array.isArray(value) ? value.join(', ') : String(value));
  }
  return out;
}

/** Picks the upstream response headers the client gets: request-id, every anthropic-*, retry hints, content type. */
export function pickResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (PASS_BACK_EXACT.has(name) || name.startsWith('anthropic-')) {
      out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return out;
}

/** `Connection` values that name no header beyond the hop-by-hop ones (what clients send nearly always). */
const PLAIN_CONNECTION = /^\s*(keep-alive|close)\s*$/i;

function listedInConnection(value: string | string[] | undefined): Set<string> | undefined {
  if (!value || (typeof value === 'string' && PLAIN_CONNECTION.test(value))) return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return new Set(joined.split(',').map((t) => t.trim().toLowerCase()));
}
