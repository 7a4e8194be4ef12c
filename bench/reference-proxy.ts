/**
 * The reference the relay is measured against (issue 2): the least a Fastify + undici pass-through can do —
 * no auth, no routing, no retries, no logging. `node -r @swc-node/register bench/reference-proxy.ts PORT UPSTREAM`.
 */
import Fastify from 'fastify';
import { acceptRawJson, forward, upstreamPool } from './pass-through';

async function main(): Promise<void> {
  const [portArg, upstream] = process.argv.slice(2);
  if (!portArg || !upstream) throw new Error('usage: reference-proxy PORT UPSTREAM_URL');
  const pool = upstreamPool(upstream);
  const app = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
  acceptRawJson(app);
  app.post('/v1/messages', (req, reply) => forward(pool, req, reply));
  await app.listen({ port: Number(portArg), host: '127.0.0.1' });
  process.stdout.write('ready\n');
  process.once('SIGINT', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
}

void main();
