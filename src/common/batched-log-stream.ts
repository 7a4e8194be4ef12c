/** The part of a pino destination (sonic-boom) the batch writes to. */
export interface LogDestination {
  write(data: string): boolean;
  flushSync?(): void;
}

/** Lines held at most before they are handed on without waiting for the end of the event-loop turn. */
const MAX_LINES = 256;

/**
 * Collects the log lines of one event-loop turn and hands them to the destination as one string. sonic-boom (pino's
 * destination) appends each write to its pending text and re-measures that text's byte length on every call, which
 * flattens it: per line, a copy of up to a few KiB of garbage and ~1–3 µs. A busy relay ends many requests per turn,
 * so one write per turn instead of one per line removes most of that. Order is kept: every line goes through here.
 */
export class BatchedLogStream {
  private lines: string[] = [];
  private scheduled = false;

  constructor(private readonly dest: LogDestination) {}

  write(line: string): boolean {
    this.lines.push(line);
    if (this.lines.length >= MAX_LINES) this.handOn();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endOfTurn);
    }
    return true;
  }

  /** Hands on what is held and writes everything out synchronously (before the process exits). */
  flushSync(): void {
    this.handOn();
    this.dest.flushSync?.();
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.handOn();
  };

  private handOn(): void {
    const lines = this.lines;
    if (lines.length === 0) return;
    this.lines = [];
    this.dest.write(lines.length === 1 ? lines[0]! : lines.join(''));
  }
}
