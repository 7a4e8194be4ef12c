import type { FastifyRequest } from 'fastify';
import { hash } from 'node:crypto';
import type { RelayConfig } from '../config/relay-config';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { SecretSet } from './secret-set';

/**
 * The credentials a client presented, by either scheme the SDKs use: `x-api-key`, then the Bearer token (when
 * allowed). A client may send both, and they may differ: Claude Code's apiKeyHelper setups send a placeholder
 * x-api-key beside the real token, and a shell's leftover ANTHROPIC_API_KEY travels beside ANTHROPIC_AUTH_TOKEN.
 */
export function presentedCredentials(
  req: FastifyRequest,
  allowBearer: boolean,
): { apiKey?: string; bearer?: string } {
  const out: { apiKey?: string; bearer?: string } = {};
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) out.apiKey = apiKey;
  const auth = req.headers.authorization;
  if (
    allowBearer &&
    typeof auth === 'string' &&
    auth.length > 7 &&
    auth.slice(0, 7).toLowerCase() === 'bearer '
  ) {
    const token = auth.slice(7).trim();
    if (token.length > 0) out.bearer = token;
  }
  return out;
}

/** A client's cache scope: a prefix of its credential's SHA-256, never the credential itself. */
function scopeOf(credential: string): string {
  return hash('sha256', credential, 'hex').slice(0, 16);
}

/**
 * On an open relay, every credential the client sent: pass-through providers forward both headers upstream, so
 * both tell callers apart (a shared placeholder x-api-key beside per-user Bearer tokens, or Bearer clients when
 * `allow_bearer` is off, must not share one scope).
 */
function forwardedCredentials(req: FastifyRequest): string | undefined {
  const apiKey = req.headers['x-api-key'];
  const auth = req.headers.authorization;
  const key = typeof apiKey === 'string' ? apiKey : '';
  const bearer = typeof auth === 'string' ? auth : '';
  return key === '' && bearer === '' ? undefined : `${key}\n${bearer}`;
}

/** The workspace the request is billed to (`anthropic-workspace-id`) narrows the scope: one tenant per workspace. */
function withWorkspace(scope: string | undefined, req: FastifyRequest): string | undefined {
  const ws = req.headers['anthropic-workspace-id'];
  if (typeof ws !== 'string' || ws === '') return scope;
  return `${scope ?? 'anonymous'}|ws:${ws}`;
}

/**
 * Who a request comes from: the presented key's HMAC under a per-process random key is looked up among the
 * configured keys' (SecretSet: one lookup whatever their number), so timing reveals neither a key nor which one
 * matched. The matched key's SHA-256
 * prefix, computed at start, is the request's client scope (cache isolation per client), narrowed by
 * `anthropic-workspace-id` when the client sends one. Pure: the `onRequest` hook and the route guard both use it.
 */
export class ClientAuthenticator {
  private readonly keys: SecretSet;
  private readonly scopes: string[];
  private readonly allowBearer: boolean;

  constructor(auth: RelayConfig['server']['auth']) {
    this.keys = new SecretSet(auth.api_keys);
    this.scopes = auth.api_keys.map(scopeOf);
    this.allowBearer = auth.allow_bearer;
  }

  /** The client scope of an accepted request (undefined: none to tell); throws a 401 RelayError otherwise. */
  authenticate(req: FastifyRequest): string | undefined {
    if (this.keys.size === 0) {
      // An open relay: the client's own credentials (forwarded to pass-through providers) still separate
      // clients in the cache, so one caller never gets another's answer.
      const forwarded = forwardedCredentials(req);
      return withWorkspace(forwarded === undefined ? undefined : scopeOf(forwarded), req);
    }
    const { apiKey, bearer } = presentedCredentials(req, this.allowBearer);
    if (apiKey === undefined && bearer === undefined) {
      throw new RelayError(
        RelayErrorCode.Unauthorized,
        this.allowBearer
          ? 'missing credentials: send x-api-key or Authorization: Bearer'
          : 'missing credentials: send x-api-key',
      );
    }
    // Either credential that is a relay key authenticates the request; the other one is never forwarded.
    let matched = apiKey === undefined ? -1 : this.keys.indexOf(apiKey);
    if (matched === -1 && bearer !== undefined) matched = this.keys.indexOf(bearer);
    if (matched === -1) {
      throw new RelayError(
        RelayErrorCode.Unauthorized,
        apiKey === undefined
          ? 'invalid Bearer token'
          : bearer === undefined
            ? 'invalid x-api-key'
            : 'invalid credentials: neither the x-api-key nor the Bearer token is a key of this relay',
      );
    }
    return withWorkspace(this.scopes[matched], req);
  }
}
