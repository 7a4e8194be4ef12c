import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../common/cancellation';
import { RelayError } from '../common/relay-error';
import { bodyWithModel, jsonNestsDeeperThan, MAX_JSON_NESTING, toProxyRequest } from './proxy-request';

function fastifyRequest(body: unknown, rawBody?: Buffer): FastifyRequest {
  return {
    id: 'req-1',
    log: {} as FastifyRequest['log'],
    url: '/v1/messages?beta=true',
    headers: { 'anthropic-version': '2023-06-01' },
    body,
    rawBody,
  } as unknown as FastifyRequest;
}

describe('toProxyRequest', () => {
  it('reads model and stream, keeps the raw bytes, and lets go of the parsed body', () => {
    const raw = Buffer.from('{"model":"claude-x","stream":true,"messages":[{"role":"user","content":"hi"}]}');
    const req = fastifyRequest(JSON.parse(raw.toString()), raw);
    const preq = toProxyRequest(req, 'messages', new Cancellation());
    expect(preq).toMatchObject({ model: 'claude-x', stream: true, pathAndQuery: '/v1/messages?beta=true' });
    expect(preq.rawBody).toBe(raw);
    // The parsed tree would otherwise live as long as the request (a whole stream).
    expect(req.body).toBeUndefined();
    expect(preq).not.toHaveProperty('body');
  });

  it('rejects a body without a model, keeping it for the error path', () => {
    const req = fastifyRequest({ messages: [] });
    expect(() => toProxyRequest(req, 'messages', new Cancellation())).toThrow(RelayError);
    expect(req.body).toEqual({ messages: [] });
  });

  it('says to send content-type: application/json when the body arrived as text', () => {
    const req = fastifyRequest('{"model":"m","max_tokens":1,"messages":[]}');
    expect(() => toProxyRequest(req, 'messages', new Cancellation())).toThrow(
      /content-type: application\/json/,
    );
  });

  it('count_tokens is never a stream', () => {
    const req = fastifyRequest({ model: 'm', stream: true }, Buffer.from('{"model":"m","stream":true}'));
    expect(toProxyRequest(req, 'count_tokens', new Cancellation()).stream).toBe(false);
  });
});

describe('bodyWithModel', () => {
  it('replaces the model and keeps every other field and its order', () => {
    const raw = Buffer.from(
      '{"model":"alias","max_tokens":5,"messages":[{"role":"user","content":"é"}],"x":{"y":[1]}}',
    );
    expect(bodyWithModel(raw, 'claude-haiku-4-5')).toBe(
      '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"é"}],"x":{"y":[1]}}',
    );
  });
});

describe('jsonNestsDeeperThan', () => {
  const nested = (n: number) => Buffer.from(`{"a":${'['.repeat(n)}${']'.repeat(n)}}`);

  it('counts arrays and objects, up to the limit included', () => {
    expect(jsonNestsDeeperThan(nested(MAX_JSON_NESTING - 1), MAX_JSON_NESTING)).toBe(false);
    expect(jsonNestsDeeperThan(nested(MAX_JSON_NESTING), MAX_JSON_NESTING)).toBe(true);
    expect(jsonNestsDeeperThan(nested(10_000), MAX_JSON_NESTING)).toBe(true);
    expect(jsonNestsDeeperThan(Buffer.from('{"a":[{"b":[1,{"c":{}}]}],"d":[[]]}'), 6)).toBe(false);
    expect(jsonNestsDeeperThan(Buffer.from('{"a":[{"b":[1,{"c":{}}]}],"d":[[]]}'), 5)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ a: '['.repeat(2_000), b: '\\"{{{{', c: '\\' });
    expect(jsonNestsDeeperThan(Buffer.from(text), 1)).toBe(false);
    const tail = Buffer.from(JSON.stringify({ x: '\\', y: [[[]]] }));
    expect(jsonNestsDeeperThan(tail, 4)).toBe(false);
    expect(jsonNestsDeeperThan(tail, 3)).toBe(true);
  });
});
