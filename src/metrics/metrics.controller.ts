import { Controller, Get, Header, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { replyError } from '../common/reply-error';
import { Derived } from '../common/derived';
import { SecretSet } from '../common/secret-set';
import { RelayConfig } from '../config/relay-config';
import { RelayMetrics } from './relay-metrics.service';

/**
 * Prometheus scrape endpoint (path from `metrics.path`, registered in MetricsModule). With `metrics.token` set, a
 * scrape must send it as `Authorization: Bearer` (compared in constant time); the series name providers, their
 * breaker states and token totals, which not everyone who reaches the listener should read.
 */
@Controller()
export class MetricsController {
  /** Rebuilt when a config reload replaces the `metrics` section. */
  private readonly tokens = new Derived((m: RelayConfig['metrics']) =>
    m.token === undefined || m.token === '' ? undefined : new SecretSet([m.token]),
  );

  constructor(
    private readonly metrics: RelayMetrics,
    private readonly config: RelayConfig,
  ) {}

  private get token(): SecretSet | undefined {
    return this.tokens.of(this.config.metrics);
  }

  @Get()
  @Header('cache-control', 'no-store')
  async scrape(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (this.token && !this.authorized(req.headers.authorization)) {
      const answer = {
        status: 401,
        type: 'authentication_error',
        message: 'metrics: send Authorization: Bearer <metrics.token>',
        headers: { 'www-authenticate': 'Bearer realm="cc-relay metrics"' },
      };
      await replyError(reply, answer, req.id);
      return;
    }
    const body = await this.metrics.registry.metrics();
    await reply.type(this.metrics.registry.contentType).send(body);
  }

  private authorized(header: string | undefined): boolean {
    if (typeof header !== 'string' || header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
    return this.token!.indexOf(header.slice(7).trim()) === 0;
  }
}
