import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../common/cancellation';
import { RelayError } from '../protocol/relay-error';
import { tooDeeplyNested } from '../protocol/request-carrier';
import { bodyWithModel, toProxyRequest } from './proxy-request';

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

describe('tooDeeplyNested', () => {
  const nested = (n: number) => Buffer.from(`{"model":"m","a":${'['.repeat(n)}${']'.repeat(n)}}`);

  it('turns the stack overflow of a rewrite of a very deep body into a 400 invalid_request_error', () => {
    let thrown: unknown;
    try {
      bodyWithModel(nested(100_000), 'x');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RangeError);
    const answer = tooDeeplyNested(thrown);
    expect(answer).toBeInstanceOf(RelayError);
    expect(answer?.status).toBe(400);
    expect(answer?.message).toContain('too deeply');
  });

  it('leaves every other error alone, and real depths rewrite fine', () => {
    expect(tooDeeplyNested(new RangeError('Invalid array length'))).toBeUndefined();
    expect(tooDeeplyNested(new SyntaxError('Unexpected token'))).toBeUndefined();
    expect(JSON.parse(bodyWithModel(nested(200), 'x'))).toMatchObject({ model: 'x' });
  });
});
