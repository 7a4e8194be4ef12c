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
  private hasData = false;
  private started = false;
  private pendingCr = false;
  // StringDecoder, not TextDecoder: one per stream, and TextDecoder's ICU converter was measured to cost more
  // than the rest of the stream handling together; both keep multi-byte characters split across chunks whole.
  private readonly decoder = new StringDecoder('utf8');

  /**
   * @param keepData which events' data the caller reads; the others are reported with empty data and their data
   *   lines are never copied out of the chunk (the token deltas that make up most of a stream).
   */
  constructor(private readonly keepData: (event: string) => boolean = () => true) {}

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
    const buf = this.partial.length > 0 ? this.partial + text : text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buf, start, i, events);
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
    }
    this.partial = start < buf.length ? buf.slice(start) : '';
    return events;
  }

  /** One line, buf[start, end), without its line end. */
  private line(buf: string, start: number, end: number, out: SseEvent[]): void {
    if (start === end) {
      if (this.hasData || this.eventName) {
        out.push({ event: this.eventName || 'message', data: this.data.join('\n') });
      }
      this.eventName = '';
      this.data = [];
      this.hasData = false;
      return;
    }
    if (buf.charCodeAt(start) === 58) return; // ':' comment
    if (isField(buf, start, end, 'data')) {
      this.hasData = true;
      if (this.keepData(this.eventName || 'message')) this.data.push(valueOf(buf, start + 4, end));
    } else if (isField(buf, start, end, 'event')) {
      this.eventName = valueOf(buf, start + 5, end);
    }
  }
}

/** Whether the line buf[start, end) is the field `name` (followed by ':' or the line's end). */
function isField(buf: string, start: number, end: number, name: string): boolean {
  const after = start + name.length;
  return after <= end && buf.startsWith(name, start) && (after === end || buf.charCodeAt(after) === 58);
}

/** A field's value: what follows the ':' (and one space after it), or '' for a bare field name. */
function valueOf(buf: string, afterName: number, end: number): string {
  if (afterName >= end) return '';
  let from = afterName + 1;
  if (buf.charCodeAt(from) === 32) from++;
  return buf.slice(from, end);
}

/** Formats one SSE event the way Anthropic writes them. */
export function formatSseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
