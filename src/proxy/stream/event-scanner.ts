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

const CR = 0x0d;
const LF_BYTE = 0x0a;
const COLON = 0x3a;
const SPACE = 0x20;
/** A line end followed by a blank line: where an event of a stream without CR ends. */
const BLANK = Buffer.from('\n\n');
/**
 * The smallest chunk that is skimmed (skimFromNow()): a skim costs four searches whatever the chunk's length, the
 * line scan about two per event, so chunks of a few events (as a model's tokens arrive, one event a chunk) are read
 * line by line (bench/stream-scan.ts).
 */
const SKIM_MIN_BYTES = 1024;
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
  /** Set by skimFromNow(): the substrings by which the events the sink still reads are found. */
  private needles: readonly Buffer[] | undefined;
  /** Per needle, where it occurs next in the chunk being skimmed (-1: nowhere). */
  private readonly hits: number[] = [];

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
    this.stopped = false;
    if (chunk.length < SKIM_MIN_BYTES) return this.scanLines(chunk, false);
    if (this.needles !== undefined && this.atEventStart() && chunk.indexOf(CR) === -1) {
      return this.skim(chunk, 0, -1);
    }
    return this.scanLines(chunk, true);
  }

  /**
   * From now on the sink reads only events whose bytes contain one of `needles` (the relay after its commit
   * point: message_delta, message_stop, error). Wherever the scan stands at an event's start with no CR ahead in
   * the chunk, the rest of the chunk is no longer read line by line: its last blank line is found with one search,
   * the needles with one search each, and only the events that hold a needle are scanned. The other events are
   * never looked at (a Claude Code answer is nearly all content_block_delta events). A needle may also occur in
   * an event's text: that event is then scanned, and reported as usual. The needles must be substrings of every
   * name the sink reads from now on; Buffer#indexOf runs memchr on a needle's first byte, so needles that start
   * with a byte rare in the stream's framing cost little more than one pass over the bytes.
   */
  skimFromNow(needles: readonly Buffer[]): void {
    if (needles.some((n) => n.length === 0 || n.includes(LF_BYTE) || n.includes(CR))) {
      throw new Error('every needle must be non-empty and hold no CR or LF');
    }
    this.needles = needles;
  }

  /** Whether the bytes scanned so far end where an event may start: no field read, no line cut, no CR pending. */
  private atEventStart(): boolean {
    return this.eventName === '' && !this.hasData && this.lines.atLineStart();
  }

  /**
   * scan() line by line; `mayskim`: once an event ends with no CR ahead after skimFromNow(), the rest of the chunk
   * is skimmed.
   */
  private scanLines(chunk: Buffer, mayskim: boolean): number {
    let eventEnd = -1;
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
        if (mayskim && this.needles !== undefined && !this.stopped && lines.noCrAhead()) {
          lines.holdRest(buf.length);
          return this.skim(buf, next, eventEnd + carried) - carried;
        }
      } else {
        this.line(buf, pos, end);
      }
      pos = next;
    }
    if (!this.stopped) lines.holdRest(pos);
    return eventEnd;
  }

  /**
   * Skims buf from `from`, an event's start with no CR after it (see skimFromNow()); returns the end of the last
   * blank line in buf, or `eventEnd` (the end already found before `from`) when there is none after `from`.
   */
  private skim(buf: Buffer, from: number, eventEnd: number): number {
    const last = buf.lastIndexOf(BLANK);
    // No event ends in the rest (or it begins with the blank line of a cut line end): read it line by line.
    if (last < from) {
      const end = this.scanLines(buf.subarray(from), false);
      return end === -1 ? eventEnd : from + end;
    }
    const end = last + 2;
    const needles = this.needles!;
    const hits = this.hits;
    for (let n = 0; n < needles.length; n++) hits[n] = buf.indexOf(needles[n]!, from);
    let pos = from;
    for (;;) {
      let hit = -1;
      for (let n = 0; n < needles.length; n++) {
        let at = hits[n]!;
        if (at !== -1 && at < pos) at = hits[n] = buf.indexOf(needles[n]!, pos);
        if (at !== -1 && at < end && (hit === -1 || at < hit)) hit = at;
      }
      if (hit === -1) break;
      // The event around the needle: from the blank line before it (or pos) to the blank line after it.
      const before = hit >= pos + 2 ? buf.lastIndexOf(BLANK, hit - 2) : -1;
      const start = before === -1 || before + 2 < pos ? pos : before + 2;
      const stop = buf.indexOf(BLANK, hit) + 2;
      const read = this.scanLines(buf.subarray(start, stop), false);
      if (this.stopped) return read === -1 ? eventEnd : start + read;
      pos = stop;
    }
    // A cut event after the last blank line is held line by line, as scan() would.
    if (end < buf.length) this.scanLines(buf.subarray(end), false);
    return end;
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
