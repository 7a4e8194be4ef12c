import { describe, expect, it } from 'vitest';
import { notFoundMessage, pathOfUrl } from './not-found';

describe('notFoundMessage', () => {
  it('names the method and the path, never the query string', () => {
    expect(notFoundMessage('GET', '/nope?key=secret#x')).toBe('no route for GET /nope');
  });

  it('explains /v1/v1/…: the client base URL ends in /v1', () => {
    const message = notFoundMessage('POST', '/v1/v1/messages?beta=true');
    expect(message).toMatch(
      /^no route for POST \/v1\/v1\/messages: the client's base URL must not end in \/v1/,
    );
    expect(notFoundMessage('POST', '/v1/v1x')).toBe('no route for POST /v1/v1x');
  });

  it('cuts a very long path', () => {
    expect(pathOfUrl(`/${'a'.repeat(500)}`)).toHaveLength(201);
  });
});
