import { CanActivate, ExecutionContext, Injectable, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { Derived } from '../common/derived';
import { SecretSet } from '../common/secret-set';
import { RelayConfig } from '../config/relay-config';

/** The realm of the admin API's `WWW-Authenticate` challenges (the docs page uses it too). */
export const ADMIN_REALM = 'cc-relay admin';

/** Marks a route (or a whole controller) as part of the admin API: off (404) without a configured token, 401 without the right one. */
export const AdminAuth = () => UseGuards(AdminAuthGuard);

/** The configured admin token, or undefined when the admin API is off. An empty string counts as unset. */
export function configuredAdminToken(config: RelayConfig): string | undefined {
  const token = config.admin.token;
  return token === undefined || token === '' ? undefined : token;
}

/** Checks a presented admin token in constant time (timing reveals neither the token nor its length). */
export class AdminTokenCheck {
  private readonly expected: SecretSet;

  constructor(token: string) {
    this.expected = new SecretSet([token]);
  }

  /** Whether `presented` is the admin token. */
  matches(presented: string): boolean {
    return this.expected.indexOf(presented) === 0;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (typeof header !== 'string' || header.length <= 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
    return undefined;
  }
  const token = header.slice(7).trim();
  return token.length > 0 ? token : undefined;
}

/**
 * Headers of an admin 401: the challenge RFC 6750 asks for (an error code only when a token was presented) and
 * `no-store`, like every other admin answer.
 */
function unauthorizedHeaders(error: 'invalid_token' | undefined): Record<string, string> {
  const challenge = `Bearer realm="${ADMIN_REALM}"${error ? `, error="${error}"` : ''}`;
  return { 'www-authenticate': challenge, 'cache-control': 'no-store' };
}

/**
 * The guard of routes marked @AdminAuth(). No token configured means the admin API does not
 * exist (404), so a deployment that forgot the token is closed, not open. Neither the expected nor the presented
 * token ever goes into an error message or a log line.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  /** Rebuilt when a config reload replaces the `admin` section. */
  private readonly checks = new Derived((admin: RelayConfig['admin']) => {
    const token = configuredAdminToken({ admin } as RelayConfig);
    return token === undefined ? undefined : new AdminTokenCheck(token);
  });

  constructor(private readonly config: RelayConfig) {}

  private get check(): AdminTokenCheck | undefined {
    return this.checks.of(this.config.admin);
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const refused = this.refusal(req.headers.authorization);
    if (refused) throw refused;
    return true;
  }

  /**
   * Why a request with this Authorization header may not use the admin API (404 when it is off, 401 without the
   * right token), or undefined when it may. The `onRequest` hook asks it too, before a body is read.
   */
  refusal(authorization: string | undefined): RelayError | undefined {
    if (this.check === undefined) return new RelayError(RelayErrorCode.NotFound, 'not found');
    const presented = bearerToken(authorization);
    if (presented === undefined) {
      return new RelayError(
        RelayErrorCode.AdminUnauthorized,
        'admin API: send Authorization: Bearer <admin token>',
        unauthorizedHeaders(undefined),
      );
    }
    if (!this.check.matches(presented)) {
      return new RelayError(
        RelayErrorCode.AdminUnauthorized,
        'admin API: invalid admin token',
        unauthorizedHeaders('invalid_token'),
      );
    }
    return undefined;
  }
}
