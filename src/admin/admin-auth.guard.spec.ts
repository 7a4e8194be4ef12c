import type { ExecutionContext } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../protocol/relay-error';
import { RelayConfig } from '../config/relay-config';
import {
  AdminAuth,
  AdminAuthGuard,
  AdminTokenCheck,
  bearerToken,
  configuredAdminToken,
} from './admin-auth.guard';

const TOKEN = 'admin-token-unit-0123456789';

@AdminAuth()
class MarkedController {
  handle(): void {}
}

function context(cls: new () => { handle(): void }, authorization?: string): ExecutionContext {
  const req = { headers: authorization === undefined ? {} : { authorization } };
  return {
    getHandler: () => cls.prototype.handle,
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
}

function guard(token: string | undefined): AdminAuthGuard {
  const config = new RelayConfig();
  config.admin.token = token;
  return new AdminAuthGuard(config);
}

function rejection(fn: () => unknown): RelayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RelayError) return err;
    throw err;
  }
  throw new Error('expected a RelayError');
}

describe('configuredAdminToken', () => {
  it('treats an unset or empty token as "admin API off"', () => {
    const config = new RelayConfig();
    expect(configuredAdminToken(config)).toBeUndefined();
    config.admin.token = '';
    expect(configuredAdminToken(config)).toBeUndefined();
    config.admin.token = TOKEN;
    expect(configuredAdminToken(config)).toBe(TOKEN);
  });
});

describe('bearerToken', () => {
  it('reads the token of a Bearer header, whatever the scheme case', () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`bearer ${TOKEN} `)).toBe(TOKEN);
  });

  it('rejects other schemes and empty tokens', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken(`Basic ${TOKEN}`)).toBeUndefined();
    expect(bearerToken('Bearer    ')).toBeUndefined();
  });
});

describe('AdminTokenCheck', () => {
  it('matches only the exact token, prefixes and extensions included', () => {
    const check = new AdminTokenCheck(TOKEN);
    expect(check.matches(TOKEN)).toBe(true);
    expect(check.matches(TOKEN.slice(0, -1))).toBe(false);
    expect(check.matches(`${TOKEN}0`)).toBe(false);
    expect(check.matches('')).toBe(false);
  });
});

describe('AdminAuthGuard', () => {
  it('is attached by @AdminAuth() to the marked controller only (no global guard on every route)', () => {
    expect(Reflect.getMetadata(GUARDS_METADATA, MarkedController)).toEqual([AdminAuthGuard]);
    class PublicController {}
    expect(Reflect.getMetadata(GUARDS_METADATA, PublicController)).toBeUndefined();
  });

  it('answers 404 on marked routes when no token is configured, even to a bearer token', () => {
    const err = rejection(() => guard(undefined).canActivate(context(MarkedController, `Bearer ${TOKEN}`)));
    expect(err.status).toBe(404);
    expect(err.type).toBe('not_found_error');
  });

  it('answers 401 without the token or with a wrong one, never echoing either', () => {
    const g = guard(TOKEN);
    for (const header of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`]) {
      const err = rejection(() => g.canActivate(context(MarkedController, header)));
      expect(err.status).toBe(401);
      expect(err.type).toBe('authentication_error');
      expect(err.message).not.toContain(TOKEN);
      expect(err.message).not.toContain('wrong-token');
    }
  });

  it('challenges for a bearer token on every 401 (RFC 6750), naming invalid_token only when one was sent', () => {
    const g = guard(TOKEN);
    const missing = rejection(() => g.canActivate(context(MarkedController, undefined)));
    expect(missing.headers).toEqual({
      'www-authenticate': 'Bearer realm="cc-relay admin"',
      'cache-control': 'no-store',
    });
    const wrong = rejection(() => g.canActivate(context(MarkedController, 'Bearer wrong-token-0123456789')));
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="cc-relay admin", error="invalid_token"');
    expect(wrong.headers['cache-control']).toBe('no-store');
  });

  it('admits the right bearer token', () => {
    expect(guard(TOKEN).canActivate(context(MarkedController, `Bearer ${TOKEN}`))).toBe(true);
  });
});
