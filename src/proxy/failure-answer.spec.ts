import { describe, expect, it } from 'vitest';
import { classifyOutcome } from '../protocol/outcome';
import { statusOfErrorType } from '../protocol/relay-error';
import { shouldTellClientNotToRetry } from '../routing/retry-policy';
import {
  finalDecision,
  isUnexpectedStatus,
  outcomeInput,
  streamErrorAnswer,
  unexpectedStatusError,
  upstreamErrorAnswer,
} from './failure-answer';

describe('statusOfErrorType', () => {
  it('maps every documented error type to its status, and an unknown one to 500', () => {
    const table = {
      invalid_request_error: 400,
      authentication_error: 401,
      billing_error: 402,
      permission_error: 403,
      not_found_error: 404,
      request_too_large: 413,
      rate_limit_error: 429,
      api_error: 500,
      timeout_error: 504,
      overloaded_error: 529,
      some_new_error: 500,
      constructor: 500,
    };
    for (const [type, status] of Object.entries(table))
      expect([type, statusOfErrorType(type)]).toEqual([type, status]);
  });
});

describe('streamErrorAnswer', () => {
  const headers = {
    'content-type': 'text/event-stream; charset=utf-8',
    'request-id': 'req_up_1',
    'retry-after': '3',
  };

  it('is the upstream status answer the type stands for, with the upstream type and message in Anthropic shape', () => {
    const answer = streamErrorAnswer('invalid_request_error', 'prompt is too long', headers, 'req_relay_9');
    expect(answer).toMatchObject({
      kind: 'status',
      status: 400,
      headers: { 'content-type': 'application/json', 'request-id': 'req_up_1', 'retry-after': '3' },
    });
    expect(JSON.parse(answer.body.toString())).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'prompt is too long' },
      request_id: 'req_relay_9',
    });
  });

  it('is never retried nor a breaker failure for 400/401/402/403/404/413, and is retried as before for 429/5xx/529', () => {
    const kindOf = (type: string) => {
      const o = classifyOutcome(outcomeInput(streamErrorAnswer(type, 'm', {}, 'r')));
      return [type, o.kind, o.breakerFailure];
    };
    for (const type of [
      'invalid_request_error',
      'authentication_error',
      'billing_error',
      'permission_error',
      'not_found_error',
      'request_too_large',
    ]) {
      expect(kindOf(type)).toEqual([type, 'permanent', false]);
    }
    expect(kindOf('rate_limit_error')).toEqual(['rate_limit_error', 'rate_limited', true]);
    for (const type of ['api_error', 'timeout_error', 'overloaded_error', 'some_new_error']) {
      expect(kindOf(type)).toEqual([type, 'transient', true]);
    }
  });

  it('passes a retry-after the stream carried to the retry policy', () => {
    const o = classifyOutcome(outcomeInput(streamErrorAnswer('overloaded_error', 'm', headers, 'r')));
    expect(o.retryAfterMs).toBe(3_000);
  });
});

describe('unexpected upstream statuses', () => {
  it.each([100, 101, 300, 301, 302, 307, 308, 399])('HTTP %i is no answer for the client', (status) => {
    expect(isUnexpectedStatus(status)).toBe(true);
  });

  it.each([200, 204, 400, 404, 429, 500, 529])('HTTP %i is passed through as it is', (status) => {
    expect(isUnexpectedStatus(status)).toBe(false);
  });

  it('a redirect becomes a 502 that names the provider and its base_url', () => {
    const error = unexpectedStatusError('zai', 302);
    expect(error.status).toBe(502);
    expect(error.message).toBe(
      'provider "zai" answered HTTP 302, a redirect, which the relay does not follow: check its base_url ' +
        '(scheme, host and path)',
    );
  });
});

describe('upstreamErrorAnswer', () => {
  const headers = { 'content-type': 'text/html', 'request-id': 'req_up' };

  it('passes an Anthropic error body through byte for byte', () => {
    const body = Buffer.from(' {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
    const answer = upstreamErrorAnswer(529, { 'content-type': 'application/json' }, body, 'a', 'rid');
    expect(answer.body).toBe(body);
  });

  it('wraps plain text, HTML and foreign JSON in the shape, typed by status, with the start of the text', () => {
    const html = upstreamErrorAnswer(
      502,
      headers,
      Buffer.from('<html><body><h1>502 Bad Gateway</h1>\n<hr>nginx</body></html>'),
      'gw',
      'rid',
    );
    expect(JSON.parse(html.body.toString())).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'provider "gw" answered HTTP 502: 502 Bad Gateway nginx' },
      request_id: 'rid',
    });
    expect(html.headers).toEqual({ 'content-type': 'application/json', 'request-id': 'req_up' });
    const foreign = upstreamErrorAnswer(429, headers, Buffer.from('{"error":"slow down"}'), undefined, 'rid');
    expect(JSON.parse(foreign.body.toString()).error).toEqual({
      type: 'rate_limit_error',
      message: 'the provider answered HTTP 429: {"error":"slow down"}',
    });
    const long = upstreamErrorAnswer(400, headers, Buffer.from('x'.repeat(5_000)), 'gw', 'rid');
    expect((JSON.parse(long.body.toString()) as { error: { message: string } }).error.message).toHaveLength(
      'provider "gw" answered HTTP 400: '.length + 201,
    );
    const empty = upstreamErrorAnswer(503, headers, Buffer.alloc(0), 'gw', 'rid');
    expect(JSON.parse(empty.body.toString()).error.message).toBe('provider "gw" answered HTTP 503');
  });
});

describe('finalDecision', () => {
  it('keeps a give-up as it is', () => {
    const giveUp = { action: 'give_up' as const, delayMs: 0, reason: '400', cause: 'not_retryable' as const };
    expect(finalDecision(giveUp)).toBe(giveUp);
  });

  it('reads a retry the breaker refused (the loop ran out of candidates) as giving up for want of one', () => {
    const retry = { action: 'retry_same' as const, delayMs: 120, reason: '503 retryable; retrying' };
    expect(finalDecision(retry)).toEqual({ ...retry, action: 'give_up', delayMs: 0, cause: 'no_candidate' });
    // So the 503 that reopened a circuit says x-should-retry: false like the 503s before it; a 529 still does not.
    const unavailable = classifyOutcome({ status: 503 });
    expect(shouldTellClientNotToRetry(retry, unavailable)).toBe(false);
    expect(shouldTellClientNotToRetry(finalDecision(retry), unavailable)).toBe(true);
    expect(shouldTellClientNotToRetry(finalDecision(retry), classifyOutcome({ status: 529 }))).toBe(false);
  });
});
