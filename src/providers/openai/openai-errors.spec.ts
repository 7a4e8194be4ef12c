import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorInAnswer, mapOpenAIError, mapStreamError } from './openai-errors';

const FIXTURES = join(__dirname, '../../../test/fixtures/openai');
const raw = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

describe('mapOpenAIError', () => {
  it.each([
    [400, 400, 'invalid_request_error'],
    [401, 401, 'authentication_error'],
    [403, 403, 'permission_error'],
    [404, 404, 'not_found_error'],
    [413, 413, 'request_too_large'],
    [422, 400, 'invalid_request_error'],
    [429, 429, 'rate_limit_error'],
    [500, 500, 'api_error'],
    [502, 502, 'api_error'],
    [503, 529, 'overloaded_error'],
    [504, 504, 'timeout_error'],
    [520, 520, 'api_error'],
    [418, 400, 'invalid_request_error'],
  ])('%i -> %i %s', (status, anthropicStatus, type) => {
    expect(mapOpenAIError(status, raw('error-invalid-request.json'))).toMatchObject({
      status: anthropicStatus,
      type,
    });
  });

  it('makes an out-of-quota 429 a 402 billing_error, not a transient rate limit', () => {
    const mapped = mapOpenAIError(429, raw('error-insufficient-quota.json'));
    expect(mapped).toMatchObject({ status: 402, type: 'billing_error' });
    expect(mapped.message).toContain('You exceeded your current quota');
  });

  it("keeps the upstream message and reads bytes, parsed JSON, Gemini's array and plain text", () => {
    expect(mapOpenAIError(400, Buffer.from(raw('error-invalid-request.json'))).message).toBe(
      "OpenAI-compatible provider answered 400: Invalid type for 'temperature': expected a decimal, but got a string instead.",
    );
    expect(
      mapOpenAIError(429, [
        { error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED' } },
      ]),
    ).toMatchObject({
      status: 429,
      type: 'rate_limit_error',
      message: 'OpenAI-compatible provider answered 429: Resource exhausted',
    });
    expect(mapOpenAIError(502, '<html>Bad gateway</html>').message).toContain('Bad gateway');
    expect(mapOpenAIError(500, '').message).toBe('OpenAI-compatible provider answered 500');
  });

  it('never repeats a 401 message, which quotes part of the refused key', () => {
    const body = {
      error: { message: 'Incorrect API key provided: sk-proj-****abcd.', code: 'invalid_api_key' },
    };
    expect(mapOpenAIError(401, body)).toEqual({
      status: 401,
      type: 'authentication_error',
      message: 'OpenAI-compatible provider answered 401',
    });
  });

  it('maps a mid-stream error object by its type', () => {
    expect(mapStreamError({ message: 'boom', type: 'server_error' })).toMatchObject({
      status: 500,
      type: 'api_error',
    });
    expect(
      mapStreamError({ message: 'quota', type: 'insufficient_quota', code: 'insufficient_quota' }),
    ).toMatchObject({
      status: 402,
      type: 'billing_error',
    });
  });

  it('finds an error a gateway answered with a 200 instead of a completion', () => {
    expect(errorInAnswer({ error: { message: 'upstream timeout', type: 'server_error' } })).toMatchObject({
      status: 500,
      type: 'api_error',
    });
    expect(errorInAnswer({ id: 'x', choices: [] })).toBeUndefined();
    expect(errorInAnswer('nope')).toBeUndefined();
  });
});
