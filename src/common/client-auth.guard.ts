import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { hash } from 'node:crypto';
import { RelayConfig } from '../config/relay-config';
import type { RawBodyCarrier } from '../proxy/proxy-request';
import { RelayError, RelayErrorCode } from './relay-error';
import { SecretSet } from './secret-set';

const CLIENT_AUTH = 'cc-relay:client-auth';

/** Marks a route as one that relay clients must authenticate for (x-api-key or Authorization: Bearer). */
export const ClientAuth = () => SetMetadata(CLIENT_AUTH, true);

/** The credential a client presented, by either scheme the SDKs use. */
export function presentedCredential(req: FastifyRequest, allowBearer: boolean): string | undefined {
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey;
  const auth = req.headers.authorization;
  if (
    allowBearer &&
    typeof auth === 'string' &&
    auth.length > 7 &&
    auth.slice(0, 7).toLowerCase() === 'bearer '
  ) {
    return auth.slice(7).trim();
  }
  return undefined;
}

/** A client's cache scope: a prefix of its credential's SHA-256, never the credential itself. */
function scopeOf(credential: string): string {
  return hash('sha256', credential, 'hex').slice(0, 16);
}

/**
 * Global guard; only routes marked @ClientAuth() are checked. The presented key is compared in constant time with
 * every configured key (SecretSet: no early exit, lengths hidden), so timing reveals neither a key nor which one
 * matched. The matched key's SHA-256 prefix, computed at start, becomes the request's client scope (cache
 * isolation per client).
 */
@Injectable()
export class ClientAuthGuard implements CanActivate {
  private readonly keys: SecretSet;
  private readonly scopes: string[];
  private readonly marks = new WeakMap<object, boolean>();

  constructor(
    private readonly reflector: Reflector,
    private readonly config: RelayConfig,
  ) {
    this.keys = new SecretSet(config.server.auth.api_keys);
    this.scopes = config.server.auth.api_keys.map(scopeOf);
  }

  canActivate(context: ExecutionContext): boolean {
    // Metadata never changes after boot; the lookup is cached per handler because this guard runs on every route.
    const handler = context.getHandler();
    let marked = this.marks.get(handler);
    if (marked === undefined) {
      marked = this.reflector.get<boolean | undefined>(CLIENT_AUTH, handler) === true;
      this.marks.set(handler, marked);
    }
    if (!marked) return true;
    const req = context.switchToHttp().getRequest<FastifyRequest & RawBodyCarrier>();
    const presented = presentedCredential(req, this.config.server.auth.allow_bearer);
    if (this.keys.size === 0) {
      // An open relay: the client's own credential (forwarded to pass-through providers) still separates
      // clients in the cache, so one caller never gets another's answer.
      if (presented !== undefined) req.clientScope = scopeOf(presented);
      return true;
    }
    if (presented === undefined) {
      throw new RelayError(
        RelayErrorCode.Unauthorized,
        this.config.server.auth.allow_bearer
          ? 'missing credentials: send x-api-key or Authorization: Bearer'
          : 'missing credentials: send x-api-key',
      );
    }
    const matched = this.keys.indexOf(presented);
    if (matched === -1) throw new RelayError(RelayErrorCode.Unauthorized, 'invalid x-api-key');
    req.clientScope = this.scopes[matched];
    return true;
  }
}
