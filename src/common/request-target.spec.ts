import { describe, expect, it } from 'vitest';
import { originFormTarget } from './request-target';

describe('originFormTarget', () => {
  it('returns an origin-form target unchanged (the same string)', () => {
    const url = '/v1/messages?beta=true&x=%27a%27';
    expect(originFormTarget(url)).toBe(url);
  });

  it('keeps the path and query of an absolute-form target', () => {
    expect(originFormTarget('http://relay:8787/v1/messages?beta=true')).toBe('/v1/messages?beta=true');
    expect(originFormTarget('HTTPS://relay/v1/messages/count_tokens')).toBe('/v1/messages/count_tokens');
    expect(originFormTarget('http://relay')).toBe('/');
    expect(originFormTarget('http://relay?x=1')).toBe('/?x=1');
  });

  it('drops a fragment', () => {
    expect(originFormTarget('/v1/messages#frag')).toBe('/v1/messages');
    expect(originFormTarget('/v1/messages?beta=true#x')).toBe('/v1/messages?beta=true');
    expect(originFormTarget('http://relay/v1/messages#/../admin')).toBe('/v1/messages');
  });

  it('leaves targets the router refuses as they are', () => {
    expect(originFormTarget('*')).toBe('*');
    expect(originFormTarget('ftp://host/v1/messages')).toBe('ftp://host/v1/messages');
  });
});
