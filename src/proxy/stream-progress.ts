import type { SseEvent } from './sse-scanner';

/** Token usage of one answer, as the key pool and metrics need it. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

/** Events that carry no content: they never commit a stream to the client. */
const NON_CONTENT = new Set(['ping', 'message_start']);

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
  events = 0;

  /** Records one event; returns true when this event is the first content event (the commit point). */
  observe(ev: SseEvent): boolean {
    this.events++;
    switch (ev.event) {
      case 'message_start':
        this.readMessageStart(ev.data);
        break;
      case 'message_delta':
        this.readMessageDelta(ev.data);
        break;
      case 'message_stop':
        this.completed = true;
        break;
      case 'error':
        this.readError(ev.data);
        return false;
    }
    if (!this.committed && !NON_CONTENT.has(ev.event)) {
      this.committed = true;
      return true;
    }
    return false;
  }

  private readMessageStart(data: string): void {
    const parsed = safeParse(data) as { message?: { model?: string; usage?: Partial<Usage> } } | undefined;
    const msg = parsed?.message;
    if (!msg) return;
    this.model = msg.model;
    this.mergeUsage(msg.usage);
  }

  private readMessageDelta(data: string): void {
    const parsed = safeParse(data) as
      { delta?: { stop_reason?: string | null }; usage?: Partial<Usage> } | undefined;
    if (!parsed) return;
    if (parsed.delta?.stop_reason) this.stopReason = parsed.delta.stop_reason;
    this.mergeUsage(parsed.usage);
  }

  private readError(data: string): void {
    const parsed = safeParse(data) as { error?: { type?: string; message?: string } } | undefined;
    this.errorType = parsed?.error?.type ?? 'api_error';
    this.errorMessage = parsed?.error?.message ?? 'upstream stream error';
  }

  private mergeUsage(u: Partial<Usage> | undefined): void {
    if (!u) return;
    if (typeof u.input_tokens === 'number') this.usage.input_tokens = u.input_tokens;
    if (typeof u.output_tokens === 'number') this.usage.output_tokens = u.output_tokens;
  }
}

function safeParse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
