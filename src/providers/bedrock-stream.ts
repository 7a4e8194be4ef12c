import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { Transform, type TransformCallback } from 'node:stream';
import { errorEvent } from '../protocol/error-writer';
import { bedrockException } from './vendor-errors';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** The SSE form of one Anthropic stream event. */
function sse(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

function headerText(value: { type: string; value: unknown } | undefined): string | undefined {
  return value && typeof value.value === 'string' ? value.value : undefined;
}

const BYTES_FIELD = Buffer.from('"bytes":"');
const QUOTE = 0x22;
// Anthropic writes every stream event with its type first; anything else is parsed in full.
const LEADING_TYPE = /^\{"type":"([a-z_]+)"/;

/**
 * The base64 `bytes` of a `chunk` event's `{"bytes":"…"}` body. Base64 holds no quote or backslash, so the value
 * ends at the next quote; a body written otherwise (spaces, escapes) is parsed in full. Skipping JSON.parse here
 * and in {@link eventType} takes a quarter off the per-event cost (bench/bedrock-decoding.ts).
 */
function chunkBytes(body: Uint8Array): string | undefined {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const at = buf.indexOf(BYTES_FIELD);
  if (at !== -1) {
    const start = at + BYTES_FIELD.length;
    const end = buf.indexOf(QUOTE, start);
    if (end !== -1) return buf.toString('latin1', start, end);
  }
  const { bytes } = JSON.parse(toUtf8(body)) as { bytes?: unknown };
  return typeof bytes === 'string' ? bytes : undefined;
}

/** The `type` of one Anthropic stream event's JSON, or undefined when it has none. */
function eventType(json: string): string | undefined {
  const leading = LEADING_TYPE.exec(json);
  if (leading) return leading[1];
  const { type } = JSON.parse(json) as { type?: unknown };
  return typeof type === 'string' ? type : undefined;
}

/**
 * Bedrock's InvokeModelWithResponseStream answer (the AWS binary event stream) as Anthropic SSE, message by
 * message as the bytes arrive: each `chunk` event carries `{"bytes": base64(one Anthropic stream event)}`, which
 * goes out as `event: <type>\ndata: <json>`; an exception message (throttlingException, modelStreamErrorException…)
 * becomes an `event: error` of the Anthropic type it stands for, so the relay treats it as any upstream error event
 * (a status before the first content, an error event after it).
 */
export class BedrockEventStreamToSse extends Transform {
  private pending: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let out = '';
    try {
      while (this.pending.length >= 4) {
        const total = this.pending.readUInt32BE(0);
        if (total < 16) throw new Error('malformed event stream message');
        if (this.pending.length < total) break;
        const message = codec.decode(this.pending.subarray(0, total));
        this.pending = this.pending.subarray(total);
        out += this.translate(message.headers, message.body);
      }
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (out !== '') this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    done(this.pending.length > 0 ? new Error('Bedrock event stream ended inside a message') : undefined);
  }

  private translate(headers: Record<string, { type: string; value: unknown }>, body: Uint8Array): string {
    const messageType = headerText(headers[':message-type']);
    if (messageType === 'event') {
      if (headerText(headers[':event-type']) !== 'chunk') return '';
      const bytes = chunkBytes(body);
      if (bytes === undefined) return '';
      const json = Buffer.from(bytes, 'base64').toString('utf8');
      const type = eventType(json);
      return type === undefined ? '' : sse(type, json);
    }
    const name =
      messageType === 'exception'
        ? headerText(headers[':exception-type'])
        : headerText(headers[':error-code']);
    let message = headerText(headers[':error-message']) ?? '';
    try {
      const parsed = JSON.parse(toUtf8(body)) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // No JSON body: the header's message (or none).
    }
    const mapped = bedrockException(name, 500);
    return errorEvent(mapped.type, `Bedrock ${name ?? 'error'}: ${message}`);
  }
}
