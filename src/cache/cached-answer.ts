import { isCacheableCountTokensResponse, isCacheableResponse } from './cache-key';
import { messageFromSse, sseFromMessage, type MessageJson } from './sse-message';

/** What one cache entry holds: a complete answer as its JSON bytes, or a complete stream as its raw SSE bytes. */
export interface CachedAnswer {
  kind: 'json' | 'sse';
  /** The JSON body or the SSE text, byte for byte as the upstream sent it. */
  body: Buffer;
  /** Epoch ms when it was stored (for a request's `Cache-Control: max-age`). */
  storedAt: number;
}

/**
 * The entry's bytes: a 16-byte header, then the body untouched (no escaping going in, no parsing coming out,
 * so a JSON hit is written to the client as the bytes it was stored as).
 *
 *   0..3  "CCR" and the format version (2)
 *   4     kind: 1 = json, 2 = sse
 *   5..7  zero
 *   8..15 storedAt, float64 little-endian
 *
 * Version 1 was a JSON object `{"v":1,"kind","body","storedAt"}`; it is still read, so a replica of this version
 * shares an `ha` cache with older ones during a rolling upgrade (an older replica reads a version-2 entry as a
 * miss, never as a wrong answer).
 */
const MAGIC = [0x43, 0x43, 0x52, 0x02] as const;
const HEADER_BYTES = 16;
const KIND_CODE = { json: 1, sse: 2 } as const;

/** Serialises an entry for a byte-oriented backend (a fresh buffer; backends copy what they keep). */
export function encodeAnswer(answer: CachedAnswer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + answer.body.length);
  out.set(MAGIC, 0);
  out.writeUInt32LE(KIND_CODE[answer.kind], 4); // the kind byte and three zero bytes
  out.writeDoubleLE(answer.storedAt, 8);
  answer.body.copy(out, HEADER_BYTES);
  return out;
}

/** Reads an entry back; undefined for anything that is not a well-formed entry. Its body is a view of `bytes`. */
export function decodeAnswer(bytes: Buffer): CachedAnswer | undefined {
  if (bytes.length >= HEADER_BYTES && MAGIC.every((b, i) => bytes[i] === b)) {
    const code = bytes[4];
    const kind = code === KIND_CODE.json ? 'json' : code === KIND_CODE.sse ? 'sse' : undefined;
    if (!kind || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) return undefined;
    const storedAt = bytes.readDoubleLE(8);
    return { kind, body: bytes.subarray(HEADER_BYTES), storedAt: Number.isFinite(storedAt) ? storedAt : 0 };
  }
  return bytes[0] === 0x7b ? decodeVersion1(bytes) : undefined; // '{'
}

function decodeVersion1(bytes: Buffer): CachedAnswer | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as {
      v?: unknown;
      kind?: unknown;
      body?: unknown;
      storedAt?: unknown;
    };
    if (
      parsed.v !== 1 ||
      (parsed.kind !== 'json' && parsed.kind !== 'sse') ||
      typeof parsed.body !== 'string'
    ) {
      return undefined;
    }
    return {
      kind: parsed.kind,
      body: Buffer.from(parsed.body, 'utf8'),
      storedAt: Number(parsed.storedAt) || 0,
    };
  } catch {
    return undefined;
  }
}

/**
 * Builds the entry for a delivered answer, or undefined when it must not be cached: only complete successes
 * (protocol doc §4.2: not pause_turn/refusal/max_tokens, no error event, a stream that reached message_stop).
 * The entry's body is the delivered buffer itself (encodeAnswer copies it).
 */
export function answerToCache(
  endpoint: 'messages' | 'count_tokens',
  delivered: { status: number; body?: Buffer; streamBytes?: Buffer[]; completed: boolean },
  now: number,
): CachedAnswer | undefined {
  if (delivered.status !== 200) return undefined;
  if (delivered.body) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(delivered.body.toString('utf8'));
    } catch {
      return undefined;
    }
    const ok =
      endpoint === 'count_tokens' ? isCacheableCountTokensResponse(parsed) : isCacheableResponse(parsed);
    return ok ? { kind: 'json', body: delivered.body, storedAt: now } : undefined;
  }
  if (delivered.streamBytes && delivered.completed && endpoint === 'messages') {
    const body = Buffer.concat(delivered.streamBytes);
    const message = messageFromSse(body.toString('utf8'));
    return message && isCacheableResponse(message) ? { kind: 'sse', body, storedAt: now } : undefined;
  }
  return undefined;
}

/**
 * The entry in the form the client asked for: a stream replays as SSE, a JSON request gets the Message.
 * Undefined when the entry cannot be turned into that form (then it is a miss, never a failed request).
 */
export function renderAnswer(
  answer: CachedAnswer,
  asStream: boolean,
): { contentType: string; body: Buffer | string } | undefined {
  if (asStream) {
    if (answer.kind === 'sse') return { contentType: 'text/event-stream; charset=utf-8', body: answer.body };
    try {
      const message = JSON.parse(answer.body.toString('utf8')) as MessageJson;
      return { contentType: 'text/event-stream; charset=utf-8', body: sseFromMessage(message) };
    } catch {
      return undefined;
    }
  }
  if (answer.kind === 'json') return { contentType: 'application/json', body: answer.body };
  const message = messageFromSse(answer.body.toString('utf8'));
  return message ? { contentType: 'application/json', body: JSON.stringify(message) } : undefined;
}
