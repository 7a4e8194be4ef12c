import { StringDecoder } from 'node:string_decoder';

/** One server-sent event as the relay sees it: its name and raw data (multi-line data joined with "\n"). */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Incremental SSE parser for watching an upstream stream while its bytes are relayed unchanged. Follows the
 * grammar the SDK accepts (protocol doc §2.1): \n, \r\n or \r line ends, a leading BOM, `:` comments, only the
 * `event` and `data` fields, a blank line dispatches. It never re-serialises: the caller forwards the original
 * chunks and uses the events only to decide (commit point, usage, message_stop, errors).
 */
export class SseScanner {
  private partial = '';
  private eventName = '';
  private data: string[] = [];
  private started = false;
  private pendingCr = false;
  // StringDecoder, not TextDecoder: one per stream, and TextDecoder's ICU converter was measured to cost more
  // than the rest of the stream handling together; both keep multi-byte characters split across chunks whole.
  private readonly decoder = new StringDecoder('utf8');

  /** Feeds raw bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    let text = this.decoder.write(chunk);
    if (!this.started) {
      if (text.length === 0) return [];
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr) {
      // A "\r\n" split across chunks: the "\r" already ended the line.
      if (text.startsWith('\n')) text = text.slice(1);
      this.pendingCr = false;
    }
    const events: SseEvent[] = [];
    let buf = this.partial + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buf.slice(start, i), events);
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
    }
    buf = buf.slice(start);
    this.partial = buf;
    return events;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      if (this.data.length > 0 || this.eventName) {
        out.push({ event: this.eventName || 'message', data: this.data.join('\n') });
      }
      this.eventName = '';
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') this.eventName = value;
    else if (field === 'data') this.data.push(value);
  }
}

/** Formats one SSE event the way Anthropic writes them. */
export function formatSseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
