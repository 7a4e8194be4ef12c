import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { hash, timingSafeEqual } from 'node:crypto';
import { RelayConfig } from '../config/relay-config';
import type { RawBodyCarrier } from '../proxy/proxy-request';
import { RelayError, RelayErrorCode } from './relay-error';

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

function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/**
 * Global guard; only routes marked @ClientAuth() are checked. Keys are compared as SHA-256 digests with
 * timingSafeEqual over every configured key (no early exit), so timing reveals neither a key nor which one
 * matched. The matched key's digest prefix becomes the request's client scope (cache isolation per client).
 */
@Injectable()
export class ClientAuthGuard implements CanActivate {
  private readonly digests: Buffer[];
  private readonly scopes: string[];
  private readonly marks = new WeakMap<object, boolean>();

  constructor(
    private readonly reflector: Reflector,
    private readonly config: RelayConfig,
  ) {
    this.digests = config.server.auth.api_keys.map(digest);
    this.scopes = this.digests.map((d) => d.subarray(0, 8).toString('hex'));
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
    if (this.digests.length === 0) {
      // An open relay: the client's own credential (forwarded to pass-through providers) still separates
      // clients in the cache, so one caller never gets another's answer.
      if (presented !== undefined) req.clientScope = digest(presented).subarray(0, 8).toString('hex');
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
    const candidate = digest(presented);
    let matched = -1;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(candidate, this.digests[i]!) && matched === -1) matched = i;
    }
    if (matched === -1) throw new RelayError(RelayErrorCode.Unauthorized, 'invalid x-api-key');
    req.clientScope = this.scopes[matched];
    return true;
  }
}
