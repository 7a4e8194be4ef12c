import { isCacheableCountTokensResponse, isCacheableResponse } from './cache-key';
import { messageFromSse, sseFromMessage, type MessageJson } from './sse-message';

/** What one cache entry holds: a complete answer as JSON text, or a complete stream as its raw SSE bytes. */
export interface CachedAnswer {
  v: 1;
  kind: 'json' | 'sse';
  /** The JSON body or the SSE text, exactly as the upstream sent it. */
  body: string;
  /** Epoch ms when it was stored (for a request's `Cache-Control: max-age`). */
  storedAt: number;
}

/** Serialises an entry for a byte-oriented backend. */
export function encodeAnswer(answer: CachedAnswer): Buffer {
  return Buffer.from(JSON.stringify(answer));
}

/** Reads an entry back; undefined for anything that is not a well-formed entry of this version. */
export function decodeAnswer(bytes: Buffer): CachedAnswer | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as Partial<CachedAnswer>;
    if (
      parsed.v !== 1 ||
      (parsed.kind !== 'json' && parsed.kind !== 'sse') ||
      typeof parsed.body !== 'string'
    ) {
      return undefined;
    }
    return { v: 1, kind: parsed.kind, body: parsed.body, storedAt: Number(parsed.storedAt) || 0 };
  } catch {
    return undefined;
  }
}

/**
 * Builds the entry for a delivered answer, or undefined when it must not be cached: only complete successes
 * (protocol doc §4.2: not pause_turn/refusal/max_tokens, no error event, a stream that reached message_stop).
 */
export function answerToCache(
  endpoint: 'messages' | 'count_tokens',
  delivered: { status: number; body?: Buffer; streamBytes?: Buffer[]; completed: boolean },
  now: number,
): CachedAnswer | undefined {
  if (delivered.status !== 200) return undefined;
  if (delivered.body) {
    const text = delivered.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    const ok =
      endpoint === 'count_tokens' ? isCacheableCountTokensResponse(parsed) : isCacheableResponse(parsed);
    return ok ? { v: 1, kind: 'json', body: text, storedAt: now } : undefined;
  }
  if (delivered.streamBytes && delivered.completed && endpoint === 'messages') {
    const text = Buffer.concat(delivered.streamBytes).toString('utf8');
    const message = messageFromSse(text);
    return message && isCacheableResponse(message)
      ? { v: 1, kind: 'sse', body: text, storedAt: now }
      : undefined;
  }
  return undefined;
}

/** The entry in the form the client asked for: a stream replays as SSE, a JSON request gets the Message. */
export function renderAnswer(
  answer: CachedAnswer,
  asStream: boolean,
): { contentType: string; body: string } | undefined {
  if (asStream) {
    if (answer.kind === 'sse') return { contentType: 'text/event-stream; charset=utf-8', body: answer.body };
    const message = JSON.parse(answer.body) as MessageJson;
    return { contentType: 'text/event-stream; charset=utf-8', body: sseFromMessage(message) };
  }
  if (answer.kind === 'json') return { contentType: 'application/json', body: answer.body };
  const message = messageFromSse(answer.body);
  return message ? { contentType: 'application/json', body: JSON.stringify(message) } : undefined;
}
