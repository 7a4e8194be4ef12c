import { CanActivate, ExecutionContext, Injectable, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RelayConfig } from '../config/relay-config';
import type { RawBodyCarrier } from '../protocol/request-carrier';
import { ClientAuthenticator } from './client-authenticator';
import { Derived } from './derived';

/**
 * Marks a route as one that relay clients must authenticate for (x-api-key or Authorization: Bearer). The guard is
 * scoped to the marked routes rather than global: a global guard ran on every request of every route, and each
 * guard Nest runs costs a context, a call and an await (measured: the two global guards were 4–6% of the
 * instructions of a proxied request).
 */
export const ClientAuth = () => UseGuards(ClientAuthGuard);

/**
 * The guard of routes marked @ClientAuth(). The `onRequest` hook has already authenticated every `/v1/` request,
 * before its body was read (so an unauthenticated client cannot make the relay parse 32 MiB of JSON); the guard
 * then only confirms it, and authenticates itself any marked route the hook did not see.
 */
@Injectable()
export class ClientAuthGuard implements CanActivate {
  /** Rebuilt when a config reload replaces the keys. */
  private readonly auths = new Derived(
    (auth: RelayConfig['server']['auth']) => new ClientAuthenticator(auth),
  );

  constructor(private readonly config: RelayConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.getArgByIndex<FastifyRequest & RawBodyCarrier>(0);
    if (req.relayAuthenticated !== true) {
      req.clientScope = this.auths.of(this.config.server.auth).authenticate(req);
      req.relayAuthenticated = true;
    }
    return true;
  }
}
