import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { replyError } from './reply-error';

describe('replyError', () => {
  it("sends the error's status, its own headers and Anthropic's body, through the reply's hooks", async () => {
    const app = Fastify();
    app.addHook('onRequest', async (req, reply) => {
      void reply.header('x-request-id', req.id);
    });
    app.get('/', (req, reply) =>
      replyError(
        reply,
        new RelayError(RelayErrorCode.RateLimited, 'slow down', { 'retry-after': '2' }),
        req.id,
      ),
    );
    const res = await app.inject({ method: 'GET', url: '/' });
    await app.close();
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.headers['x-request-id']).toBeDefined();
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'slow down' },
      request_id: res.headers['x-request-id'],
    });
  });
});
