import type { ServerResponse } from 'node:http';
import { errorEvent } from '../../protocol/error-writer';
import { MAX_LINE_BYTES } from '../../protocol/sse-scanner';

/**
 * Writes a relayed stream to the client in the upstream's chunks, cut only where an event ends. The bytes after a
 * chunk's last complete event are held until their event completes: a failure can then drop them and append its
 * `event: error` where the client's parser expects a new event. Written after a half-sent line, the error event
 * would merge into it, and the SDK would throw a SyntaxError instead of an APIError. Upstream chunks nearly always
 * end on an event, so the held tail is nearly always empty, and a chunk is written as it came.
 */
export class EventWriter {
  /** Bytes written to the client so far (the log line of a failed stream says how far it got). */
  sentBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  // Set while the answer's last bytes (message_stop seen) wait corked for the upstream's end: the final write and
  // the chunked terminator then leave in one syscall instead of two (a loopback write costs tens of µs).
  private lastFlush: NodeJS.Immediate | undefined;

  constructor(private readonly res: ServerResponse) {}

  /** Writes `chunk` as it is; returns what res.write returned. */
  write(chunk: Buffer): boolean {
    this.sentBytes += chunk.length;
    return this.res.write(chunk);
  }

  /**
   * Writes `chunk` up to `eventEnd` (its last complete event's end, -1 for none), after any held tail, and holds
   * the rest; `edit` (a secret masker) rewrites the bytes written. Returns what res.write returned (true when
   * nothing was written).
   */
  forward(chunk: Buffer, eventEnd: number, edit?: (bytes: Buffer) => Buffer): boolean {
    if (this.tailBytes === 0 && eventEnd === chunk.length) return this.write(edit ? edit(chunk) : chunk);
    if (eventEnd < 0) {
      if (this.tailBytes + chunk.length <= MAX_LINE_BYTES) {
        this.tail.push(chunk);
        this.tailBytes += chunk.length;
        return true;
      }
      // An event this long is relayed without the guarantee, as the scanner leaves such a line unread.
      eventEnd = chunk.length;
    }
    const head = eventEnd === chunk.length ? chunk : chunk.subarray(0, eventEnd);
    const joined = this.tailBytes === 0 ? head : Buffer.concat([...this.tail, head]);
    this.tail = eventEnd === chunk.length ? [] : [chunk.subarray(eventEnd)];
    this.tailBytes = chunk.length - eventEnd;
    const out = edit ? edit(joined) : joined;
    return out.length === 0 || this.write(out);
  }

  /**
   * The commit: the chunks held until the first content event, written in one corked batch. The commit comes
   * with an event completed in the last chunk: the earlier ones are whole events, or parts of events that end in
   * it, so an event the last chunk completes after the first content one lies in it (`edit` rewrites its part).
   * `holdLast`: the answer's end is among them (see holdLast()).
   */
  writeHeld(
    held: Buffer[],
    eventEnd: number,
    edit: ((bytes: Buffer) => Buffer) | undefined,
    holdLast: boolean,
    onTurn: () => void,
  ): void {
    this.res.cork();
    const last = held.length - 1;
    for (let i = 0; i < last; i++) this.write(held[i]!);
    this.forward(held[last]!, eventEnd, edit);
    if (holdLast) this.holdLast(onTurn);
    this.res.uncork();
  }

  /** Whether the answer's last bytes are held corked (holdLast() was called and not yet flushed). */
  get holdingLast(): boolean {
    return this.lastFlush !== undefined;
  }

  /**
   * After message_stop the upstream's end follows at once: the last bytes are corked until it comes, so they and
   * the chunked terminator leave together; should it not come, they leave on the next turn of the event loop,
   * which then calls `onTurn`.
   */
  holdLast(onTurn: () => void): void {
    this.res.cork();
    this.lastFlush = setImmediate(flushOnTurn, this, onTurn);
  }

  /** Writes what holdLast() corked, now. */
  flushLast(): void {
    if (!this.lastFlush) return;
    clearImmediate(this.lastFlush);
    this.lastFlush = undefined;
    this.res.uncork();
  }

  /**
   * The upstream's clean end: what follows the last event (trailing blank lines, a comment, or an event never
   * completed, rewritten by `edit`) and the end.
   */
  endWithTail(edit?: (bytes: Buffer) => Buffer): void {
    if (this.tailBytes > 0) {
      const rest = Buffer.concat(this.tail);
      this.res.end(edit ? edit(rest) : rest);
    } else {
      this.res.end();
    }
    this.flushLast();
  }

  /** Ends the stream after its last whole event with an SSE `error` event (the held tail is dropped). */
  endWithError(type: string, message: string, requestId: string): void {
    this.tail = [];
    this.tailBytes = 0;
    if (!this.res.writableEnded && !this.res.destroyed) {
      this.res.end(errorEvent(type, message, requestId));
    }
  }

  /** Ends the stream as it is (the answer was whole). */
  endCleanly(): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.end();
  }
}

function flushOnTurn(writer: EventWriter, onTurn: () => void): void {
  writer.flushLast();
  onTurn();
}
