import type { ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { RelayConfig } from '../config/relay-config';
import { ClientAuthGuard } from './client-auth.guard';
import { RelayError } from '../protocol/relay-error';

const KEY_A = 'relay-client-key-a-0123456789';
const KEY_B = 'relay-client-key-b-0123456789';

function guard(apiKeys: string[], allowBearer = true): ClientAuthGuard {
  const config = new RelayConfig();
  config.server.auth.api_keys = apiKeys;
  config.server.auth.allow_bearer = allowBearer;
  return new ClientAuthGuard(config);
}

/** Runs the guard on a request with these headers; returns the scope it set, or the error it threw. */
function scope(g: ClientAuthGuard, headers: Record<string, string>): string | undefined | RelayError {
  const req: { headers: Record<string, string>; clientScope?: string; relayAuthenticated?: boolean } = {
    headers,
  };
  const ctx = { getArgByIndex: () => req } as unknown as ExecutionContext;
  try {
    expect(g.canActivate(ctx)).toBe(true);
  } catch (err) {
    if (err instanceof RelayError) return err;
    throw err;
  }
  return req.clientScope;
}

describe('ClientAuthGuard', () => {
  it('accepts a configured key as x-api-key or Bearer, with the same scope either way', () => {
    const g = guard([KEY_A, KEY_B]);
    const viaHeader = scope(g, { 'x-api-key': KEY_A });
    expect(typeof viaHeader).toBe('string');
    expect(scope(g, { authorization: `Bearer ${KEY_A}` })).toBe(viaHeader);
    expect(scope(g, { 'x-api-key': KEY_B })).not.toBe(viaHeader);
    expect(String(viaHeader)).not.toContain(KEY_A);
  });

  it('rejects a missing or unknown key with 401, and Bearer when allow_bearer is off', () => {
    const g = guard([KEY_A], false);
    const attempts: Record<string, string>[] = [
      {},
      { 'x-api-key': 'wrong-key' },
      { authorization: `Bearer ${KEY_A}` },
    ];
    for (const headers of attempts) {
      const err = scope(g, headers);
      expect(err).toBeInstanceOf(RelayError);
      expect((err as RelayError).status).toBe(401);
      expect((err as RelayError).message).not.toContain(KEY_A);
    }
  });

  it('accepts a request whose x-api-key or Bearer token is a relay key when the other one is not', () => {
    const g = guard([KEY_A, KEY_B]);
    const a = scope(g, { 'x-api-key': KEY_A });
    // apiKeyHelper's placeholder x-api-key, or a leftover ANTHROPIC_API_KEY, beside the relay key as Bearer.
    expect(scope(g, { 'x-api-key': 'placeholder', authorization: `Bearer ${KEY_A}` })).toBe(a);
    expect(scope(g, { 'x-api-key': KEY_A, authorization: 'Bearer sk-ant-other' })).toBe(a);
    const neither = scope(g, { 'x-api-key': 'placeholder', authorization: 'Bearer nope' });
    expect(neither).toBeInstanceOf(RelayError);
    expect((neither as RelayError).status).toBe(401);
    expect((scope(g, { authorization: 'Bearer nope' }) as RelayError).message).toContain('Bearer');
    // With allow_bearer off the token counts for nothing.
    expect(
      scope(guard([KEY_A], false), { 'x-api-key': 'placeholder', authorization: `Bearer ${KEY_A}` }),
    ).toBeInstanceOf(RelayError);
  });

  it('on an open relay, tells clients apart by every credential they send, whatever allow_bearer says', () => {
    for (const allowBearer of [true, false]) {
      const g = guard([], allowBearer);
      const alice = scope(g, { authorization: 'Bearer token-alice' });
      const bob = scope(g, { authorization: 'Bearer token-bob' });
      expect(alice).toBeDefined();
      expect(alice).not.toBe(bob);
      // A placeholder x-api-key shared by everyone beside per-user tokens (Claude Code's apiKeyHelper).
      const aliceBoth = scope(g, { 'x-api-key': 'placeholder', authorization: 'Bearer token-alice' });
      const bobBoth = scope(g, { 'x-api-key': 'placeholder', authorization: 'Bearer token-bob' });
      expect(aliceBoth).not.toBe(bobBoth);
      expect(scope(g, { 'x-api-key': 'sk-ant-one' })).not.toBe(scope(g, { 'x-api-key': 'sk-ant-two' }));
      // The same credentials are the same client.
      expect(scope(g, { authorization: 'Bearer token-alice' })).toBe(alice);
      expect(scope(g, {})).toBeUndefined();
    }
  });

  it('narrows the scope by anthropic-workspace-id', () => {
    const keyed = guard([KEY_A]);
    const plain = scope(keyed, { 'x-api-key': KEY_A });
    const ws1 = scope(keyed, { 'x-api-key': KEY_A, 'anthropic-workspace-id': 'wrkspc_1' });
    const ws2 = scope(keyed, { 'x-api-key': KEY_A, 'anthropic-workspace-id': 'wrkspc_2' });
    expect(new Set([plain, ws1, ws2]).size).toBe(3);
    const open = guard([]);
    expect(scope(open, { 'anthropic-workspace-id': 'wrkspc_1' })).not.toBe(
      scope(open, { 'anthropic-workspace-id': 'wrkspc_2' }),
    );
  });
});
