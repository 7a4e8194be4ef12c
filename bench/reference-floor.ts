/**
 * A floor for issue 23's stream goal: the NestJS pass-through (bench/reference-nest.ts) plus only the per-request
 * work a relay's contract cannot do without, each in its cheapest form: the client key checked in constant time,
 * the body parsed (the model routes a request; a body that is not JSON is a 400), a request id, the `anthropic-*`
 * headers forwarded both ways, a deadline for the upstream's answer and a stall timer re-armed per chunk, the
 * usage read off the stream's message_delta, one histogram and one counter per request, one access log line, the
 * commit point (the headers and the first bytes are held until the first content event, so an error before it could
 * still go elsewhere), and a provider's key taken round-robin from its pool behind a breaker that counts failures.
 * No fail-over, retry, fallback, token reservation, cancellation or back-pressure. Run beside the NestJS pass-through
 * (bench/variants.ts, `floor:script=bench/reference-floor.ts`), it measures what that work costs by itself:
 * a ratio to the pass-through no relay with these features can go below.
 * `node -r @swc-node/register bench/reference-floor.ts PORT UPSTREAM`.
 */
import 'reflect-metadata';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Controller, Module, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import pino from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { upstreamPool } from './pass-through';
import { serveNest } from './nest-serve';
import { BENCH_CLIENT_KEY } from './processes';

const [portArg, upstream] = process.argv.slice(2);
if (!portArg || !upstream) throw new Error('usage: reference-floor PORT UPSTREAM_URL');
const pool = upstreamPool(upstream);
const clientKey = Buffer.from(BENCH_CLIENT_KEY);
// Lines are written 8 KiB at a time (sonic-boom's most below its 16 KiB write): one write per ~40 requests.
const log = pino({ level: 'info' }, pino.destination({ fd: 1, sync: false, minLength: 8 * 1024 }));
/** FLOOR_SKIP=log+metrics+json+timers+headers+usage+commit+route leaves items out, to see what each costs. */
const skip = new Set((process.env.FLOOR_SKIP ?? '').split('+').filter(Boolean));
const registry = new Registry();
const duration = new Histogram({
  name: 'floor_request_seconds',
  help: 'request duration',
  labelNames: ['provider', 'status'],
  registers: [registry],
});
const tokens = new Counter({
  name: 'floor_output_tokens_total',
  help: 'output tokens',
  labelNames: ['provider'],
  registers: [registry],
});
const OUTPUT_TOKENS = /"output_tokens"\s*:\s*(\d+)/;
/** The commit point's events: the first content event, and an error before it. */
const CONTENT_EVENT = Buffer.from('event: content_block_delta');
const ERROR_EVENT = Buffer.from('event: error');

/** A provider in its cheapest form: a key pool taken round-robin, and a breaker that opens after 5 failures. */
const provider = {
  keys: ['bench-provider-key-0001', 'bench-provider-key-0002'],
  next: 0,
  failures: 0,
  openUntil: 0,
  take(): string | undefined {
    if (this.openUntil > Date.now()) return undefined;
    return this.keys[this.next++ % this.keys.length];
  },
  record(ok: boolean): void {
    if (ok) this.failures = 0;
    else if (++this.failures >= 5) this.openUntil = Date.now() + 30_000;
  },
};

function refuse(reply: FastifyReply, status: number, type: string, message: string): void {
  void reply.code(status).send({ type: 'error', error: { type, message } });
}

@Controller('v1/messages')
class FloorController {
  @Post()
  async forward(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const started = performance.now();
    const id = randomUUID();
    const key = Buffer.from(String(req.headers['x-api-key'] ?? ''));
    if (key.length !== clientKey.length || !timingSafeEqual(key, clientKey)) {
      return refuse(reply, 401, 'authentication_error', 'invalid x-api-key');
    }
    let model: unknown = 'skipped';
    try {
      if (!skip.has('json'))
        model = (JSON.parse((req.body as Buffer).toString('utf8')) as { model?: unknown }).model;
    } catch {
      return refuse(reply, 400, 'invalid_request_error', 'invalid JSON body');
    }
    if (typeof model !== 'string') return refuse(reply, 400, 'invalid_request_error', 'model: required');
    const route = !skip.has('route');
    const providerKey = route ? provider.take() : 'bench';
    if (providerKey === undefined) return refuse(reply, 503, 'overloaded_error', 'no provider available');
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-api-key': providerKey };
    if (!skip.has('headers')) {
      for (const [name, value] of Object.entries(req.headers)) {
        if (name.startsWith('anthropic-') && typeof value === 'string') headers[name] = value;
      }
    }
    const abort = new AbortController();
    const timers = !skip.has('timers');
    const deadline = setTimeout(() => abort.abort(), timers ? 30_000 : 2 ** 31 - 1);
    const res = await pool.request({
      path: req.url,
      method: 'POST',
      headers,
      body: req.body as Buffer,
      signal: abort.signal,
    });
    const out: Record<string, string> = { 'x-request-id': id };
    for (const [name, value] of skip.has('headers') ? [] : Object.entries(res.headers)) {
      if (
        (name.startsWith('anthropic-') || name === 'request-id' || name === 'content-type') &&
        typeof value === 'string'
      ) {
        out[name] = value;
      }
    }
    const raw = reply.raw;
    const writeHead = () =>
      raw.writeHead(res.statusCode, skip.has('headers') ? { 'content-type': 'text/event-stream' } : out);
    // Until the first content event the answer is held (a relay could still fail over); an error before it ends it.
    const sse = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
    let held: Buffer[] | undefined = skip.has('commit') || !sse ? undefined : [];
    if (!held) writeHead();
    if (timers) deadline.refresh();
    let output = 0;
    const usage = !skip.has('usage');
    res.body.on('data', (chunk: Buffer) => {
      if (timers) deadline.refresh();
      // message_delta is the answer's second-to-last event: searched from the chunk's end.
      const at = usage ? chunk.lastIndexOf('message_delta') : -1;
      if (at !== -1) output = Number(OUTPUT_TOKENS.exec(chunk.toString('latin1', at))?.[1] ?? output);
      if (held) {
        held.push(chunk);
        const content = chunk.indexOf(CONTENT_EVENT);
        const error = chunk.indexOf(ERROR_EVENT);
        if (error !== -1 && (content === -1 || error < content)) {
          held = undefined;
          clearTimeout(deadline);
          if (route) provider.record(false);
          res.body.destroy();
          return refuse(reply, 502, 'api_error', 'upstream error before the first content event');
        }
        if (content === -1) return;
        writeHead();
        for (const part of held) raw.write(part);
        held = undefined;
        return;
      }
      raw.write(chunk);
    });
    res.body.on('error', () => raw.destroy());
    res.body.on('end', () => {
      clearTimeout(deadline);
      if (route) provider.record(res.statusCode < 500);
      if (held) {
        if (!raw.headersSent) writeHead();
        for (const part of held) raw.write(part);
      }
      raw.end();
      if (!skip.has('metrics')) {
        duration.observe({ provider: 'fake', status: res.statusCode }, (performance.now() - started) / 1000);
        tokens.inc({ provider: 'fake' }, output);
      }
      if (!skip.has('log'))
        log.info({ request_id: id, model, status: res.statusCode, output_tokens: output }, 'request');
    });
  }
}

@Module({ controllers: [FloorController] })
class FloorModule {}

void serveNest(FloorModule, Number(portArg));
