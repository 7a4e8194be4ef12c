import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Cacheable } from '../cache/cache.interceptor';
import { Cancellation } from '../common/cancellation';
import { ClientAuth } from '../common/client-auth.guard';
import { InFlightService } from '../common/in-flight.service';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { writeRelayError } from '../common/write-relay-error';
import type { DeliveredAnswer } from '../protocol/answer';
import { ProxyService } from './proxy.service';
import type { ProxyEndpoint, RawBodyCarrier } from '../protocol/request-carrier';
import { toProxyRequest } from './proxy-request';

/**
 * `POST /v1/messages` and `POST /v1/messages/count_tokens` (any query string, e.g. `?beta=true`, is forwarded).
 * Thin: it turns the Fastify request into a ProxyRequest, takes the raw response over (streams are written
 * unbuffered, chunk by chunk) and ties the upstream call's life to the client connection. The delivered answer
 * is returned for the cache interceptor to store; the client already has it.
 */
@Controller('v1/messages')
export class MessagesController {
  constructor(
    private readonly proxy: ProxyService,
    private readonly inFlight: InFlightService,
  ) {}

  @Post()
  @ClientAuth()
  @Cacheable('messages')
  @HttpCode(200)
  messages(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<DeliveredAnswer | undefined> {
    return this.handle(req, reply, 'messages');
  }

  @Post('count_tokens')
  @ClientAuth()
  @Cacheable('count_tokens')
  @HttpCode(200)
  countTokens(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<DeliveredAnswer | undefined> {
    return this.handle(req, reply, 'count_tokens');
  }

  private async handle(
    req: FastifyRequest & RawBodyCarrier,
    reply: FastifyReply,
    endpoint: ProxyEndpoint,
  ): Promise<DeliveredAnswer | undefined> {
    const abort = new Cancellation();
    // Validation errors are thrown before the response is taken over, so the exception filter answers them.
    const preq = toProxyRequest(req, endpoint, abort);
    reply.hijack();
    const res = reply.raw;
    const tracked = this.inFlight.track(res);
    // A graceful stop whose grace period ends before the answer has started: a retryable error instead of a torn
    // connection. A started stream replaces this with its own SSE `error` event (onCommitted below).
    const stopBeforeAnswer = () => {
      abort.abort();
      const err = new RelayError(
        RelayErrorCode.ShuttingDown,
        'the relay is shutting down; retry the request',
      );
      writeRelayError(res, err, req.id, reply.getHeaders() as Record<string, string>, req.log);
    };
    tracked.onForceStop(stopBeforeAnswer);
    res.on('close', () => {
      // The client went away before the answer was complete: stop paying for tokens nobody will read.
      if (!res.writableFinished) abort.abort();
      tracked.release();
    });
    // Past the grace period nothing new goes upstream: a request that waited for an identical one in flight (the
    // cache's single-flight) arrives here once that leader was stopped, and the drain is about to close every
    // connection, so it gets the same retryable answer instead of a reset.
    if (this.inFlight.stopped) {
      stopBeforeAnswer();
      return undefined;
    }
    const capture = req.relay?.capture;
    try {
      return await this.proxy.forward(preq, {
        res,
        baseHeaders: () => reply.getHeaders() as Record<string, string>,
        captureLimitBytes: capture?.limitBytes ?? 0,
        captureBudget: capture?.budget,
        onCommitted: (forceStop) => tracked.onForceStop(forceStop),
      });
    } catch (err) {
      writeRelayError(res, err, req.id, reply.getHeaders() as Record<string, string>, req.log);
      return undefined;
    }
  }
}
