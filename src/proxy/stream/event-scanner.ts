import { SseLines } from '../../protocol/sse-scanner';

/**
 * What an EventScanner reports its events to. Names are those of the scanner's EventNames; any other event is
 * reported with the name undefined (its name is never decoded).
 */
export interface EventSink {
  /** Whether the data of events named `name` is read; the others' data lines are never decoded. */
  keepsDataOf(name: string | undefined): boolean;
  /** One complete event (data '' when not kept); false stops the scan of this chunk (the stream ends there). */
  onEvent(name: string | undefined, data: string): boolean;
}

/**
 * The event names a sink tells apart, matched in the bytes and reported as these constants: no string is decoded
 * per event. A stream is mostly content_block_delta events, which a relay need not tell apart from each other:
 * left out of the names, they are told from the names of the same length by their last byte. Names are ASCII,
 * as all of the Messages API's are.
 */
export class EventNames {
  private readonly byLength: Array<string[] | undefined> = [];

  constructor(readonly names: readonly string[]) {
    for (const name of names) (this.byLength[name.length] ??= []).push(name);
  }

  /** The constant for the name buf[from, end), '' for an empty one, undefined when it is none of the names. */
  match(buf: Buffer, from: number, end: number): string | undefined {
    if (from === end) return '';
    const candidates = this.byLength[end - from];
    if (candidates === undefined) return undefined;
    for (let c = 0; c < candidates.length; c++) {
      const name = candidates[c]!;
      // From the end: names of one length differ in their last word (message_start / message_delta).
      let i = name.length - 1;
      while (i >= 0 && buf[from + i] === name.charCodeAt(i)) i--;
      if (i < 0) return name;
    }
    return undefined;
  }
}

const COLON = 0x3a;
const SPACE = 0x20;
const DATA = Buffer.from('data');
const EVENT = Buffer.from('event');

/**
 * The relay's incremental SSE scanner: the grammar of SseScanner (\n, \r\n or \r line ends, a leading BOM, `:`
 * comments, `event` and `data` fields, a blank line dispatches, a line over MAX_LINE_BYTES is not read), shaped
 * for the per-event path of a relayed stream: only the event names the sink tells apart are matched, in the
 * bytes (decoding each name was a third of the scan's cost), only kept events' data is decoded, and events go to
 * a sink instead of an object each. (Reading each chunk as one latin1 string to search it with
 * String#indexOf was tried: the copy cost more than the search saved.) Splitting on bytes is safe for UTF-8, whose multi-byte sequences never contain CR, LF
 * or ':'.
 */
export class EventScanner {
  /** The stream's lines. */
  private readonly lines = new SseLines();
  /** The event's name: '' before its `event` field, then one of the names, or undefined for any other. */
  private eventName: string | undefined = '';
  private keep: boolean;
  private data: string | undefined;
  private hasData = false;
  private stopped = false;

  private readonly unnamed: string | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly names: EventNames,
  ) {
    // An event without an `event` field is a `message` (reported by that name only if it is one of the names).
    this.unnamed = names.names.includes('message') ? 'message' : undefined;
    this.keep = sink.keepsDataOf(this.unnamed);
  }

  /**
   * Feeds raw bytes; the events they complete go to the sink. Returns how many bytes of the chunk run up to the
   * end of the last blank line in it (its line end included), or -1 when it holds none: there the client's parser
   * holds no half-read event, so the relay may cut the stream and append an event of its own.
   */
  scan(chunk: Buffer): number {
    let eventEnd = -1;
    this.stopped = false;
    const lines = this.lines;
    if (!lines.begin(chunk)) return -1;
    const { buf, carried, held } = lines;
    let pos = lines.pos;
    while (pos < buf.length && !this.stopped && lines.find(pos)) {
      const { end, next } = lines;
      if (held.overlong) {
        held.overlong = false;
      } else if (held.bytes > 0) {
        const line = held.take(buf.subarray(pos, end));
        this.line(line, 0, line.length);
      } else if (end === pos) {
        this.dispatch();
        eventEnd = next - carried;
      } else {
        this.line(buf, pos, end);
      }
      pos = next;
    }
    if (!this.stopped) lines.holdRest(pos);
    return eventEnd;
  }

  private dispatch(): void {
    const name = this.eventName;
    if (this.hasData || name !== '') {
      if (!this.sink.onEvent(name === '' ? this.unnamed : name, this.data ?? '')) this.stopped = true;
    }
    if (name !== '') this.keep = this.sink.keepsDataOf(this.unnamed);
    this.eventName = '';
    this.data = undefined;
    this.hasData = false;
  }

  /** One non-blank line, buf[start, end), without its line end. */
  private line(buf: Buffer, start: number, end: number): void {
    const first = buf[start];
    if (first === COLON) return; // a comment
    if (first === DATA[0] && isField(buf, start, end, DATA)) {
      this.hasData = true;
      if (this.keep) {
        const from = valueStart(buf, start + DATA.length, end);
        const value = from < end ? buf.toString('utf8', from, end) : '';
        this.data = this.data === undefined ? value : `${this.data}\n${value}`;
      }
    } else if (first === EVENT[0] && isField(buf, start, end, EVENT)) {
      const from = valueStart(buf, start + EVENT.length, end);
      const name = this.names.match(buf, from, end);
      this.eventName = name;
      this.keep = this.sink.keepsDataOf(name === '' ? this.unnamed : name);
    }
  }
}

/** Whether the line buf[start, end) is the field `name` (followed by ':' or the line's end). */
function isField(buf: Buffer, start: number, end: number, name: Buffer): boolean {
  const after = start + name.length;
  if (after > end || (after < end && buf[after] !== COLON)) return false;
  for (let i = 1; i < name.length; i++) if (buf[start + i] !== name[i]) return false;
  return true;
}

/** Where a field's value starts: after the ':' and one space after it (`end` for a bare field name). */
function valueStart(buf: Buffer, afterName: number, end: number): number {
  if (afterName >= end) return end;
  const from = afterName + 1;
  return from < end && buf[from] === SPACE ? from + 1 : from;
}
