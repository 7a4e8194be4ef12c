import { Controller, Get, Header, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RelayMetrics } from './relay-metrics.service';

/** Prometheus scrape endpoint (path from `metrics.path`, registered in MetricsModule). */
@Controller()
export class MetricsController {
  constructor(private readonly metrics: RelayMetrics) {}

  @Get()
  @Header('cache-control', 'no-store')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    const body = await this.metrics.registry.metrics();
    await reply.type(this.metrics.registry.contentType).send(body);
  }
}
