/**
 * How the NestJS pass-throughs (bench/reference-nest.ts, bench/reference-floor.ts) start: one Nest application on
 * the Fastify adapter, logger off, JSON bodies kept raw, on 127.0.0.1:`port`; `ready` once it listens. Apart from
 * bench/pass-through.ts, so the bare reference never loads Nest.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { acceptRawJson } from './pass-through';

export async function serveNest(
  module: object,
  port: number,
  /** Routes added on the Fastify instance itself, before Nest's. */
  routes?: (fastify: FastifyInstance) => void,
): Promise<void> {
  const adapter = new FastifyAdapter({ logger: false, bodyLimit: 32 * 1024 * 1024, skipMiddie: true });
  const fastify = adapter.getInstance<FastifyInstance>();
  acceptRawJson(fastify);
  routes?.(fastify);
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    logger: false,
    bodyParser: false,
  });
  await app.listen(port, '127.0.0.1');
  process.stdout.write('ready\n');
  process.once('SIGINT', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
}
