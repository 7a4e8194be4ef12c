/**
 * A small SSE parser for tests that reads a stream the way the official TypeScript SDK does (protocol §2.1):
 * `\n`, `\r\n` and `\r` line endings, a leading BOM stripped, `:` comment lines ignored, only `event` and `data`
 * read, several `data:` lines joined with `\n`, a blank line dispatches. An unterminated last event is not
 * dispatched, exactly as the SDK drops it.
 */

/** One dispatched SSE message. */
export interface SseEvent {
  /** The `event:` name, undefined when the message had no `event:` line (SDK 1.x drops such messages). */
  event: string | undefined;
  /** The data parsed as JSON, or the raw text when it is not JSON. */
  data: unknown;
  /** The raw data text. */
  text: string;
}

/** Incremental parser: push bytes or text as they arrive, get the events completed so far. */
export class SseParser {
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private first = true;
  private event: string | undefined;
  private data: string[] = [];

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string | Uint8Array): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.first && text.length > 0) {
      this.first = false;
      // TextDecoder already strips a BOM from bytes; strings keep theirs.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return this.lines(text, false);
  }

  /** Ends the input: a pending line is processed, an event still missing its blank line is dropped. */
  end(): SseEvent[] {
    return this.lines(this.decoder.decode(), true);
  }

  private lines(text: string, final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    const buf = this.buffer + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A trailing \r may be the first half of \r\n split across chunks: wait for the next chunk.
      if (c === 13 && i === buf.length - 1 && !final) break;
      this.line(buf.slice(start, i), out);
      if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = buf.slice(start);
    if (final) {
      if (this.buffer.length > 0) this.line(this.buffer, out);
      this.buffer = '';
    }
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.event === undefined && this.data.length === 0) return;
      const text = this.data.join('\n');
      out.push({ event: this.event, data: parseData(text), text });
      this.event = undefined;
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Parses a whole SSE body. */
export function parseSse(input: string | Uint8Array): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(input), ...parser.end()];
}
