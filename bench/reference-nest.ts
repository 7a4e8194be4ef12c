/**
 * The reference pass-through (bench/reference-proxy.ts) inside NestJS: the same undici forwarding in a controller
 * of a Nest application on the Fastify adapter, logger off. Run against the plain reference (bench/variants.ts,
 * `nest:script=bench/reference-nest.ts`) it measures what Nest's request pipeline costs by itself.
 * `node -r @swc-node/register bench/reference-nest.ts PORT UPSTREAM`.
 */
import 'reflect-metadata';
import { Controller, Module, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forward, upstreamPool } from './pass-through';
import { serveNest } from './nest-serve';

const [portArg, upstream] = process.argv.slice(2);
if (!portArg || !upstream) throw new Error('usage: reference-nest PORT UPSTREAM_URL');
const pool = upstreamPool(upstream);

/** NEST_ROUTE=raw: the route on the Fastify instance of the Nest application, not through Nest's router. */
const RAW = process.env.NEST_ROUTE === 'raw';

@Controller('v1/messages')
class ForwardController {
  @Post(RAW ? 'unused' : '')
  async forward(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await forward(pool, req, reply);
  }
}

@Module({ controllers: [ForwardController] })
class ForwardModule {}

void serveNest(ForwardModule, Number(portArg), (fastify) => {
  if (RAW) {
    fastify.post('/v1/messages', async (req, reply) => {
      await forward(pool, req, reply);
    });
  }
});
