/**
 * The forwarding both reference pass-throughs do (bench/reference-proxy.ts bare, bench/reference-nest.ts inside
 * NestJS), kept in one place so the two measure the same work: the raw JSON body, one undici Pool, the upstream's
 * status, content type and body streamed back.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Pool } from 'undici';

/** The pool to the upstream: 256 connections, no pipelining. */
export function upstreamPool(upstream: string): Pool {
  return new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
}

/** JSON bodies kept as raw bytes (nothing parsed). */
export function acceptRawJson(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
}

/** Forwards one request and streams the answer back. */
export async function forward(pool: Pool, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const res = await pool.request({
    path: req.url,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': 'bench',
      'anthropic-version': String(req.headers['anthropic-version'] ?? '2023-06-01'),
    },
    body: req.body as Buffer,
  });
  reply.code(res.statusCode);
  reply.header('content-type', res.headers['content-type'] ?? 'application/json');
  return reply.send(res.body);
}
