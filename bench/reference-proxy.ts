/**
 * The reference the relay is measured against (issue 2): the least a Fastify + undici pass-through can do —
 * no auth, no routing, no retries, no logging. `node -r @swc-node/register bench/reference-proxy.ts PORT UPSTREAM`.
 */
import Fastify from 'fastify';
import { Pool } from 'undici';

async function main(): Promise<void> {
  const [portArg, upstream] = process.argv.slice(2);
  if (!portArg || !upstream) throw new Error('usage: reference-proxy PORT UPSTREAM_URL');
  const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const app = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post('/v1/messages', async (req, reply) => {
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
  });
  await app.listen({ port: Number(portArg), host: '127.0.0.1' });
  process.stdout.write('ready\n');
  process.once('SIGINT', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
}

void main();
