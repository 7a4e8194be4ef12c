/**
 * The reference pass-through (bench/reference-proxy.ts) inside NestJS: the same undici forwarding in a controller
 * of a Nest application on the Fastify adapter, logger off. Run against the plain reference (bench/variants.ts,
 * `nest:script=bench/reference-nest.ts`) it measures what Nest's request pipeline costs by itself.
 * `node -r @swc-node/register bench/reference-nest.ts PORT UPSTREAM`.
 */
import 'reflect-metadata';
import { Controller, Module, Post, Req, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Pool } from 'undici';

const [portArg, upstream] = process.argv.slice(2);
if (!portArg || !upstream) throw new Error('usage: reference-nest PORT UPSTREAM_URL');
const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });

async function forward(req: FastifyRequest, reply: FastifyReply): Promise<void> {
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
  await reply.send(res.body);
}

/** NEST_ROUTE=raw: the route on the Fastify instance of the Nest application, not through Nest's router. */
const RAW = process.env.NEST_ROUTE === 'raw';

@Controller('v1/messages')
class ForwardController {
  @Post(RAW ? 'unused' : '')
  forward(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return forward(req, reply);
  }
}

@Module({ controllers: [ForwardController] })
class ForwardModule {}

async function main(): Promise<void> {
  const adapter = new FastifyAdapter({ logger: false, bodyLimit: 32 * 1024 * 1024, skipMiddie: true });
  const fastify = adapter.getInstance();
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
  if (RAW) fastify.post('/v1/messages', forward);
  const app = await NestFactory.create<NestFastifyApplication>(ForwardModule, adapter, {
    logger: false,
    bodyParser: false,
  });
  await app.listen(Number(portArg), '127.0.0.1');
  process.stdout.write('ready\n');
  process.once('SIGINT', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
}

void main();
