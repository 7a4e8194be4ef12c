import { describe, expect, it } from 'vitest';
import {
  buildUpstreamHeaders,
  headerList,
  mayPassThrough,
  pickResponseHeaders,
  withholdsClientCredential,
  type HeaderList,
} from './upstream-headers';

/** The list as an object, refusing a name that appears twice (the upstream would get both). */
function asObject(list: HeaderList): Record<string, string> {
  expect(list.length % 2).toBe(0);
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) {
    expect(out, `duplicate header ${list[i]}`).not.toHaveProperty(list[i]!);
    out[list[i]!] = list[i + 1]!;
  }
  return out;
}

const client = {
  host: 'relay:8787',
  connection: 'keep-alive, x-hop',
  'x-hop': '1',
  'content-length': '42',
  'x-api-key': 'client-key',
  authorization: 'Bearer client-token',
  cookie: 'a=b',
  'cache-control': 'no-cache',
  'accept-encoding': 'gzip, br',
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'b1,  b2',
  'x-stainless-retry-count': '0',
  'x-cc-relay-anything': 'x',
  'user-agent': 'claude-cli/2',
};

describe('buildUpstreamHeaders', () => {
  it('forwards end-to-end headers byte-exact and drops hop-by-hop, credentials and relay controls', () => {
    const out = asObject(buildUpstreamHeaders(client, 'x-api-key', 'provider-key', 'anthropic'));
    expect(out).toEqual({
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'b1,  b2',
      'x-stainless-retry-count': '0',
      'user-agent': 'claude-cli/2',
      'accept-encoding': 'identity',
      'x-api-key': 'provider-key',
    });
  });

  it('sends the provider key as a bearer token for bearer providers', () => {
    const out = asObject(buildUpstreamHeaders(client, 'bearer', 'provider-key', 'zai'));
    expect(out.authorization).toBe('Bearer provider-key');
    expect(out['x-api-key']).toBeUndefined();
  });

  it('forwards the client credential as is for a provider without keys (pass-through)', () => {
    const out = asObject(buildUpstreamHeaders(client, 'x-api-key', undefined, 'anthropic'));
    expect(out['x-api-key']).toBe('client-key');
    expect(out.authorization).toBe('Bearer client-token');
  });

  it('sends the relay’s own request id upstream in place of the client’s header', () => {
    const withId = { ...client, 'x-request-id': 'bad id with spaces' };
    const out = buildUpstreamHeaders(withId, 'x-api-key', 'provider-key', 'anthropic', 'req-relay-1');
    expect(out.filter((_, i) => i % 2 === 0 && out[i] === 'x-request-id')).toHaveLength(1);
    expect(asObject(out)['x-request-id']).toBe('req-relay-1');
  });

  it('never forwards a relay client key: where the relay checks client keys a keyless provider gets none', () => {
    const out = asObject(buildUpstreamHeaders(client, 'x-api-key', undefined, undefined));
    expect(out['x-api-key']).toBeUndefined();
    expect(out.authorization).toBeUndefined();
  });
});

describe('client credentials on pass-through to another vendor', () => {
  const claudeCode = {
    ...client,
    'x-api-key': 'sk-ant-api03-clients-own',
    authorization: 'Bearer sk-ant-oat01-tok',
  };

  it.each(['zai', 'minimax', 'ollama'] as const)(
    'never hands an Anthropic key or token to a %s provider',
    (type) => {
      const out = asObject(buildUpstreamHeaders(claudeCode, 'bearer', undefined, type));
      expect(out['x-api-key']).toBeUndefined();
      expect(out.authorization).toBeUndefined();
      expect(withholdsClientCredential(claudeCode, type)).toBe(true);
    },
  );

  it('still passes an Anthropic key through to an anthropic provider', () => {
    const out = asObject(buildUpstreamHeaders(claudeCode, 'x-api-key', undefined, 'anthropic'));
    expect(out['x-api-key']).toBe('sk-ant-api03-clients-own');
    expect(out.authorization).toBe('Bearer sk-ant-oat01-tok');
    expect(withholdsClientCredential(claudeCode, 'anthropic')).toBe(false);
  });

  it("passes a gateway's own key through to its provider, and only the credential that is not Anthropic's", () => {
    const mixed = { ...client, 'x-api-key': 'SK-ANT-api03-x', authorization: 'Bearer 0a1b2c.zai-key' };
    const out = asObject(buildUpstreamHeaders(mixed, 'bearer', undefined, 'zai'));
    expect(out['x-api-key']).toBeUndefined();
    expect(out.authorization).toBe('Bearer 0a1b2c.zai-key');
    expect(mayPassThrough('zai', 'Bearer 0a1b2c.zai-key')).toBe(true);
    expect(mayPassThrough('minimax', ' bearer  sk-ant-api03-y')).toBe(false);
  });
});

describe('pickResponseHeaders', () => {
  it('passes back request-id, anthropic-*, retry hints and the content type only', () => {
    expect(
      pickResponseHeaders({
        'request-id': 'req_1',
        'anthropic-ratelimit-requests-remaining': '9',
        'retry-after': '2',
        'x-should-retry': 'false',
        'content-type': 'application/json',
        'set-cookie': ['a=b'],
        server: 'envoy',
        'content-length': '10',
      }),
    ).toEqual({
      'request-id': 'req_1',
      'anthropic-ratelimit-requests-remaining': '9',
      'retry-after': '2',
      'x-should-retry': 'false',
      'content-type': 'application/json',
    });
  });
});

describe('headerList', () => {
  it('lists every header once, arrays joined and numbers as text, in the order given', () => {
    expect(headerList({ 'content-type': 'application/json', 'x-n': 3, 'x-multi': ['a', 'b'] })).toEqual([
      'content-type',
      'application/json',
      'x-n',
      '3',
      'x-multi',
      'a, b',
    ]);
  });
});
