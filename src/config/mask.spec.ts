import { describe, expect, it } from 'vitest';
import { SecretMasker } from './mask';

describe('SecretMasker', () => {
  const key = 'sk-ant-api03-PROVIDERKEY0123456789abcd';
  const gateway = 'zai-gateway-token-0042';
  const masker = new SecretMasker([key, gateway, 'short']);

  it('masks every configured key in text, keeping only a recognisable start and the last 4 characters', () => {
    const out = masker.mask(`invalid x-api-key ${key}; also Bearer ${gateway} and ${key}`);
    expect(out).not.toContain(key);
    expect(out).not.toContain(gateway);
    expect(out).toBe('invalid x-api-key sk-ant-…abcd; also Bearer za…0042 and sk-ant-…abcd');
  });

  it('masks any Anthropic credential, also one it was not configured with (a passed-through client key)', () => {
    const out = masker.mask('bad key sk-ant-oat01-SomeClientToken_xyz9 given');
    expect(out).toBe('bad key sk-ant-…xyz9 given');
  });

  it('returns the same string and the same Buffer when there is nothing to mask', () => {
    const text = '{"type":"error","error":{"type":"invalid_request_error","message":"short ünïcode"}}';
    expect(masker.mask(text)).toBe(text);
    const body = Buffer.from(text);
    expect(masker.maskBytes(body)).toBe(body);
  });

  it('masks bytes without touching the UTF-8 around the key', () => {
    const body = Buffer.from(`{"message":"clé refusée: ${key} — ✓"}`);
    const out = masker.maskBytes(body).toString('utf8');
    expect(out).toBe('{"message":"clé refusée: sk-ant-…abcd — ✓"}');
    expect(masker.maskBytes(Buffer.from('x sk-ant-admin01-Zzzzzzzzzz1234 y')).toString('utf8')).toBe(
      'x sk-ant-…1234 y',
    );
  });

  it('does not mask secrets too short to be told from ordinary text', () => {
    expect(masker.mask('a short message')).toBe('a short message');
  });
});
