import { pipeline, type Readable, type Transform } from 'node:stream';
import { contentDecoder } from '../common/body-decoding';
import { Cancellation } from '../common/cancellation';
import type { AttemptResult } from '../protocol/answer';
import type { AttemptOptions } from './attempt-options';
import { usageOfJsonAnswer } from './stream-progress';
import { relayStream } from './stream-relay';
import { SseSignatureTagger, tagJsonAnswer } from './thinking-signatures';
import type { UpstreamClient, UpstreamRequest } from './upstream-client';
import {
  describeUpstreamError,
  MAX_BUFFERED_ANSWER_BYTES,
  UpstreamError,
  upstreamErrorKind,
} from './upstream-error';
import { headerList, pickResponseHeaders } from '../protocol/upstream-headers';

/**
 * Runs one upstream attempt and, when it succeeds, delivers the answer. Before the commit point (the whole JSON
 * answer, or the first content event of a stream) nothing is written to the client, so the attempt loop may still
 * retry or fail over; after it, a failure ends the stream with an SSE `error` event — never a clean end that
 * looks like a complete answer.
 */
export async function runAttempt(
  client: UpstreamClient,
  req: UpstreamRequest,
  abort: Cancellation | undefined,
  opts: AttemptOptions,
): Promise<AttemptResult> {
  const sentAt = opts.stream ? Date.now() : 0;
  let response;
  try {
    response = await client.send(req);
  } catch (err) {
    return failed(err, opts.clientSignal);
  }
  const rawHeaders = response.headers;
  const headers = pickResponseHeaders(rawHeaders);
  const status = response.statusCode;
  const translation = opts.translation;
  const isSse = String(rawHeaders['content-type'] ?? '').startsWith(
    translation?.streamContentType ?? 'text/event-stream',
  );
  const decoder = decoderFor(rawHeaders['content-encoding']);
  const upstreamBody = decoder ? decoded(response.body, decoder) : response.body;

  if (status < 200 || status >= 300 || !(opts.stream && isSse)) {
    let body: Buffer;
    try {
      body = await readAll(
        upstreamBody,
        MAX_BUFFERED_ANSWER_BYTES,
        // The length of compressed bytes says nothing about the decoded ones.
        decoder ? undefined : rawHeaders['content-length'],
      );
    } catch (err) {
      return failed(err, opts.clientSignal);
    }
    if (status < 200 || status >= 300) {
      // An upstream may echo the key the relay sent in its error text; only error bodies are scanned.
      if (opts.masker) body = opts.masker.maskBytes(body);
      if (translation?.errorAnswer) {
        const answer = translation.errorAnswer(status, rawHeaders, body);
        headers['content-type'] = 'application/json';
        return { kind: 'status', status: answer.status, headers, rawHeaders, body: answer.body };
      }
      return { kind: 'status', status, headers, rawHeaders, body };
    }
    if (translation?.json) {
      // A vendor's answer (Chat Completions) as Anthropic's; a 2xx that carried an error is that error's status.
      const answer = translation.json(body);
      headers['content-type'] = 'application/json';
      if (answer.status < 200 || answer.status >= 300) {
        return { kind: 'status', status: answer.status, headers, rawHeaders, body: answer.body };
      }
      body = answer.body;
    }
    if (opts.signatureTag) body = tagJsonAnswer(body, opts.signatureTag);
    if (opts.res.destroyed) return { kind: 'cancelled' };
    const out = headerList(headers);
    opts.addHeaders(out);
    out.push('content-length', String(body.length));
    opts.res.writeHead(status, out);
    opts.res.end(body);
    return {
      kind: 'delivered',
      status,
      headers,
      usage: usageOfJsonAnswer(body),
      body,
      completed: true,
    };
  }
  // The TTFT limit counts from the request: what the headers took is spent.
  const ttftTimeoutMs = Math.max(1, opts.ttftTimeoutMs - (Date.now() - sentAt));
  // A non-Claude provider's thinking signatures are tagged on the way (see thinking-signatures.ts).
  // A vendor's stream is translated to Anthropic SSE first, so the tagger reads Anthropic events.
  let events = upstreamBody;
  if (translation?.stream) {
    events = decoded(events, translation.stream());
    headers['content-type'] = 'text/event-stream; charset=utf-8';
  }
  if (opts.signatureTag) events = decoded(events, new SseSignatureTagger(opts.signatureTag));
  return relayStream(events, status, headers, abort ?? new Cancellation(), opts, ttftTimeoutMs);
}

/**
 * The decoder of an upstream answer compressed although the relay asked for `accept-encoding: identity` (some
 * providers' front ends compress anyway). The relay reads the answer (usage, stream events) and passes it on
 * without Content-Encoding, so compressed bytes would reach the client as garbage.
 */
function decoderFor(contentEncoding: string | string[] | undefined): Transform | undefined {
  if (typeof contentEncoding !== 'string') return undefined;
  return contentDecoder(contentEncoding);
}

/** The decoded body; destroying it (an abort, a stall) destroys the upstream body too. */
function decoded(body: Readable, decoder: Transform): Readable {
  return pipeline(body, decoder, () => {
    // Errors surface on the decoder, which the reader listens to.
  });
}

function failed(err: unknown, clientSignal: Cancellation): AttemptResult {
  if (clientSignal.aborted) return { kind: 'cancelled' };
  const kind = upstreamErrorKind(err);
  return { kind: 'error', error: kind, message: describeUpstreamError(kind) };
}

async function readAll(
  body: AsyncIterable<Buffer> & { arrayBuffer?(): Promise<ArrayBuffer> },
  limit: number,
  contentLength: string | string[] | undefined,
): Promise<Buffer> {
  // A promised length over the limit is refused before a byte of it is read.
  if (typeof contentLength === 'string' && Number(contentLength) > limit) throw tooLarge(body);
  // With a length the upstream promised (the usual JSON answer), one consume is cheaper than iterating chunks.
  if (body.arrayBuffer && typeof contentLength === 'string' && Number(contentLength) <= limit) {
    return Buffer.from(await body.arrayBuffer());
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw tooLarge(body);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** The answer is over the limit: the rest of it is not read (the connection is dropped), and no retry is made. */
function tooLarge(body: unknown): UpstreamError {
  (body as { destroy?: () => void }).destroy?.();
  return new UpstreamError('too_large', 'upstream answer too large');
}
