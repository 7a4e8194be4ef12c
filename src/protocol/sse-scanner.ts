/** One server-sent event as the relay sees it: its name and raw data (multi-line data joined with "\n"). */
export interface SseEvent {
  event: string;
  data: string;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const DATA = Buffer.from('data');
const EVENT = Buffer.from('event');
/**
 * The longest line the scanner holds while waiting for its end. Anthropic's longest lines are one event's data
 * (a few KiB); a longer one is relayed as usual but not read, so a stream without line ends cannot grow memory.
 */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * The bytes of a line not yet ended, held between chunks in pieces (copied: the chunks they came from belong to the
 * stream), up to MAX_LINE_BYTES: a longer line is dropped (`overlong`) and ignored when it ends. Shared by the
 * scanners of this file and of the stream relay.
 */
export class HeldLine {
  private parts: Buffer[] = [];
  /** How many bytes are held. */
  bytes = 0;
  /** The line being read outgrew MAX_LINE_BYTES: its bytes are dropped and the line is ignored when it ends. */
  overlong = false;

  /** The held bytes followed by `tail`, as one buffer; nothing is held afterwards. */
  take(tail: Buffer): Buffer {
    const joined = Buffer.concat([...this.parts, tail]);
    this.parts = [];
    this.bytes = 0;
    return joined;
  }

  /** Keeps a copy of bytes of an unfinished line, unless the line has outgrown the bound. */
  hold(bytes: Buffer): void {
    if (this.overlong) return;
    if (this.bytes + bytes.length > MAX_LINE_BYTES) {
      this.parts = [];
      this.bytes = 0;
      this.overlong = true;
      return;
    }
    this.parts.push(Buffer.from(bytes));
    this.bytes += bytes.length;
  }
}

/**
 * The line grammar of an SSE stream, shared by the scanners: a byte-order mark once at the start, lines ended by
 * CRLF, LF or CR (a CR at a chunk's end may be the first half of a CRLF), lines cut between chunks held as bytes.
 * Per chunk: begin(), then find() for each line; the scanner reads buf[pos, end) and goes on at `next`.
 */
export class SseLines {
  /** The bytes of a line not yet ended. */
  readonly held = new HeldLine();
  /** The chunk being read (with held bytes of a split BOM in front) and where its lines start. */
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  /** Bytes of earlier chunks at the front of `buf` (a split BOM), so an event end is told in the chunk's bytes. */
  carried = 0;
  /** The line found by find(): it ends at `end` (exclusive, its line end not included); the next starts at `next`. */
  end = 0;
  next = 0;
  private started = false;
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to that line end. */
  private pendingCr = false;
  /** Where the next CR is (-1: none left in the chunk), so LF line ends cost one search per line. */
  private nextCr = -1;

  /** Starts a chunk; false when it is all held (the first bytes of a stream that may still be a BOM). */
  begin(chunk: Buffer): boolean {
    let buf = chunk;
    let pos = 0;
    this.carried = 0;
    if (!this.started) {
      // The BOM may itself arrive split: hold the first bytes until they can be told apart from it.
      if (this.held.bytes > 0) {
        this.carried = this.held.bytes;
        buf = this.held.take(buf);
      }
      const n = Math.min(buf.length, BOM.length);
      if (buf.subarray(0, n).equals(BOM.subarray(0, n))) {
        if (n < BOM.length) {
          this.held.hold(buf);
          return false;
        }
        pos = BOM.length;
      }
      this.started = true;
    }
    if (this.pendingCr) {
      this.pendingCr = false;
      if (buf[pos] === LF) pos++;
    }
    this.buf = buf;
    this.pos = pos;
    this.nextCr = buf.indexOf(CR, pos);
    return true;
  }

  /** Finds the end of the line that starts at `pos`; false when the chunk holds none (the rest is a cut line). */
  find(pos: number): boolean {
    const buf = this.buf;
    // A blank line (every event's last) is told by its first byte, without a search.
    let end = buf[pos] === LF ? pos : buf.indexOf(LF, pos);
    const cr = this.nextCr;
    if (cr !== -1 && (end === -1 || cr < end)) end = cr;
    if (end === -1) return false;
    let next = end + 1;
    if (end === cr) {
      if (next < buf.length) {
        if (buf[next] === LF) next++;
      } else {
        this.pendingCr = true;
      }
      this.nextCr = buf.indexOf(CR, next);
    }
    this.end = end;
    this.next = next;
    return true;
  }

  /** Whether the lines read so far ended where a line starts: none cut, no CR that a LF may complete. */
  atLineStart(): boolean {
    return this.started && !this.pendingCr && this.held.bytes === 0 && !this.held.overlong;
  }

  /** Whether the chunk being read has no CR after the line find() found last. */
  noCrAhead(): boolean {
    return this.nextCr === -1;
  }

  /** The chunk's bytes from `pos` on (a line not yet ended) are held for the next one. */
  holdRest(pos: number): void {
    if (pos < this.buf.length) this.held.hold(this.buf.subarray(pos));
    this.buf = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Incremental SSE parser for watching an upstream stream while its bytes are relayed unchanged. Follows the
 * grammar the SDK accepts (protocol doc §2.1): \n, \r\n or \r line ends, a leading BOM, `:` comments, only the
 * `event` and `data` fields, a blank line dispatches. It never re-serialises: the caller forwards the original
 * chunks and uses the events only to decide (commit point, usage, message_stop, errors).
 *
 * It works on the bytes: line ends are found with Buffer#indexOf (memchr), and only event names and the data the
 * caller keeps become strings. Decoding every chunk to a string first, then scanning it character by character,
 * was the largest cost of relaying a stream. Splitting on bytes is safe for UTF-8, whose multi-byte sequences
 * never contain CR, LF or ':'; a line cut between chunks is carried over as bytes and decoded once whole.
 */
export class SseScanner {
  /** The stream's lines. */
  private readonly lines = new SseLines();
  private eventName = '';
  private data: string[] = [];
  private hasData = false;
  /**
   * After push(): how many bytes of that chunk run up to the end of the last blank line in it (its line end
   * included), or -1 when it holds none. The client's parser holds no half-read event there, so a relay may cut
   * the stream at that point and append an event of its own.
   */
  lastEventEnd = -1;

  /**
   * @param keepData which events' data the caller reads; the others are reported with empty data and their data
   *   lines are never decoded (the token deltas that make up most of a stream).
   */
  constructor(private readonly keepData: (event: string) => boolean = () => true) {}

  /** Feeds raw bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    const events: SseEvent[] = [];
    this.lastEventEnd = -1;
    const lines = this.lines;
    if (
      !lines.begin(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      )
    )
      return events;
    const { buf, carried, held } = lines;
    let pos = lines.pos;
    while (pos < buf.length && lines.find(pos)) {
      const { end, next } = lines;
      if (held.overlong) {
        held.overlong = false;
      } else if (end === pos && held.bytes === 0) {
        this.line(buf, pos, end, events);
        this.lastEventEnd = next - carried;
      } else if (held.bytes > 0) {
        const line = held.take(buf.subarray(pos, end));
        this.line(line, 0, line.length, events);
      } else {
        this.line(buf, pos, end, events);
      }
      pos = next;
    }
    lines.holdRest(pos);
    return events;
  }

  /** One line, buf[start, end), without its line end. */
  private line(buf: Buffer, start: number, end: number, out: SseEvent[]): void {
    if (start === end) {
      if (this.hasData || this.eventName) {
        out.push({ event: this.eventName || 'message', data: this.data.join('\n') });
      }
      this.eventName = '';
      this.data = [];
      this.hasData = false;
      return;
    }
    if (buf[start] === COLON) return; // a comment
    if (isField(buf, start, end, DATA)) {
      this.hasData = true;
      if (this.keepData(this.eventName || 'message')) this.data.push(valueOf(buf, start + DATA.length, end));
    } else if (isField(buf, start, end, EVENT)) {
      this.eventName = valueOf(buf, start + EVENT.length, end);
    }
  }
}

/** Whether the line buf[start, end) is the field `name` (followed by ':' or the line's end). */
function isField(buf: Buffer, start: number, end: number, name: Buffer): boolean {
  const after = start + name.length;
  if (after > end || (after < end && buf[after] !== COLON)) return false;
  for (let i = 0; i < name.length; i++) if (buf[start + i] !== name[i]) return false;
  return true;
}

/** A field's value: what follows the ':' (and one space after it), or '' for a bare field name. */
function valueOf(buf: Buffer, afterName: number, end: number): string {
  if (afterName >= end) return '';
  let from = afterName + 1;
  if (buf[from] === SPACE) from++;
  return buf.toString('utf8', from, end);
}

/** Formats one SSE event the way Anthropic writes them. */
export function formatSseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
