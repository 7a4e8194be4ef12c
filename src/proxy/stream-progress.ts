import type { Usage } from '../protocol/answer';
import type { SseEvent } from '../protocol/sse-scanner';

/**
 * Events that carry no token: they never commit a stream to the client. content_block_start opens a block with
 * empty text (or a tool's name) before the first token, so a model that is slow to produce it must still trip the
 * TTFT deadline and fail over; a block that arrives whole is committed by its content_block_stop right after.
 */
const NON_CONTENT = new Set(['ping', 'message_start', 'content_block_start']);

/**
 * Follows an upstream stream's events: whether content has started (the commit point), whether the answer
 * completed (`message_stop`), an `error` event, the final usage, and the answered model. Usage follows the
 * protocol: message_start's usage, then message_delta's cumulative counts overwrite — never summed.
 */
export class StreamProgress {
  committed = false;
  completed = false;
  model: string | undefined;
  stopReason: string | undefined;
  errorType: string | undefined;
  errorMessage: string | undefined;
  readonly usage: Usage = { input_tokens: 0, output_tokens: 0 };

  /**
   * The event names this class tells apart: any other event is content to it (an EventScanner may report such an
   * event without its name).
   */
  static readonly namesRead: readonly string[] = [
    'message_start',
    'message_delta',
    'message_stop',
    'error',
    ...NON_CONTENT,
  ];

  /**
   * What is read after the commit point: message_delta (usage, stop reason), message_stop and error, and
   * message_start when the commit came before any event (routing.commit: headers); every other event is content.
   * The relay's EventScanner finds them by these substrings of their names (EventScanner.skimFromNow()): 'ge_'
   * (message_*) and 'rror'. Both start with a byte that the framing of a text_delta event never holds, so the search
   * skips it at memchr speed and stops only in the answer's text (or a tool's or thinking block's framing).
   */
  static readonly needlesAfterCommit: readonly Buffer[] = [Buffer.from('ge_'), Buffer.from('rror')];

  /** The events whose data this class reads (an SseScanner need not copy out the others' data). */
  static readsDataOf(this: void, event: string | undefined): boolean {
    return event === 'message_start' || event === 'message_delta' || event === 'error';
  }

  /** Records one event; returns true when this event is the first content event (the commit point). */
  observe(ev: SseEvent): boolean {
    return this.observeEvent(ev.event, ev.data);
  }

  /**
   * observe() of an event given by its name and data (`data` is read only for the events readsDataOf names); the
   * name may be undefined for an event not among namesRead.
   */
  observeEvent(event: string | undefined, data: string): boolean {
    switch (event) {
      case 'message_start':
        this.readMessageStart(data);
        break;
      case 'message_delta':
        this.readMessageDelta(data);
        break;
      case 'message_stop':
        this.completed = true;
        break;
      case 'error':
        this.readError(data);
        return false;
    }
    if (!this.committed && (event === undefined || !NON_CONTENT.has(event))) {
      this.committed = true;
      return true;
    }
    return false;
  }

  // message_start and message_delta carry no model-generated text (content is [] at message_start, deltas of
  // text come in content_block_delta), so their few fields are read with anchored regexes instead of JSON.parse:
  // a measurable share of the relay's CPU per stream otherwise.
  private readMessageStart(data: string): void {
    const model = MODEL.exec(data);
    if (model) this.model = model[1];
    this.mergeUsage(data);
  }

  private readMessageDelta(data: string): void {
    const stop = STOP_REASON.exec(data);
    if (stop) this.stopReason = stop[1];
    this.mergeUsage(data);
  }

  private readError(data: string): void {
    const parsed = safeParse(data) as { error?: { type?: string; message?: string } } | undefined;
    this.errorType = parsed?.error?.type ?? 'api_error';
    this.errorMessage = parsed?.error?.message ?? 'upstream stream error';
  }

  private mergeUsage(data: string): void {
    const input = INPUT_TOKENS.exec(data);
    if (input) this.usage.input_tokens = Number(input[1]);
    const output = OUTPUT_TOKENS.exec(data);
    if (output) this.usage.output_tokens = Number(output[1]);
  }
}

const MODEL = /"model"\s*:\s*"([^"\\]*)"/;
const STOP_REASON = /"stop_reason"\s*:\s*"([^"\\]+)"/;
const INPUT_TOKENS = /"input_tokens"\s*:\s*(\d+)/;
const OUTPUT_TOKENS = /"output_tokens"\s*:\s*(\d+)/;

function safeParse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/**
 * Token usage of a JSON answer without parsing the whole body (it can be large and is forwarded as bytes): the
 * Messages API puts `usage` last, so its counts are read after the last `"usage"`; count_tokens answers are a
 * bare `{"input_tokens": N}`. Only the key pool and metrics read these numbers.
 */
export function usageOfJsonAnswer(body: Buffer): Usage {
  // Searched in the bytes: only the tail after "usage" becomes a string, not the whole (possibly large) answer.
  const at = body.lastIndexOf('"usage"');
  const tail = (at === -1 ? body : body.subarray(at)).toString('latin1');
  const input = INPUT_TOKENS.exec(tail);
  const output = at === -1 ? null : OUTPUT_TOKENS.exec(tail);
  return { input_tokens: input ? Number(input[1]) : 0, output_tokens: output ? Number(output[1]) : 0 };
}
