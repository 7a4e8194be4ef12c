import { formatSseEvent, SseScanner } from '../protocol/sse-scanner';

/** A Messages API answer as JSON (the fields the relay reads; everything else is carried as is). */
export interface MessageJson {
  id?: string;
  type?: string;
  role?: string;
  model?: string;
  content: Array<Record<string, unknown>>;
  stop_reason?: string | null;
  stop_sequence?: string | null;
  usage?: Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * Rebuilds the final Message from a complete SSE stream, the way the SDK's MessageStream accumulates it:
 * message_start gives the message, content blocks are built from their start event plus deltas (text, thinking
 * and signature appended or replaced, a compaction's value assigned, tool input JSON concatenated and parsed at
 * the block's stop), and
 * message_delta's cumulative stop fields and non-null usage counters overwrite. Returns undefined for a stream
 * without message_stop.
 */
export function messageFromSse(raw: Buffer | string): MessageJson | undefined {
  const scanner = new SseScanner();
  const events = scanner.push(typeof raw === 'string' ? Buffer.from(raw) : raw);
  let message: MessageJson | undefined;
  const partialJson = new Map<number, string>();
  let stopped = false;
  for (const ev of events) {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(ev.data) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    switch (ev.event) {
      case 'message_start':
        message = { ...(data.message as MessageJson), content: [] };
        break;
      case 'content_block_start': {
        if (!message) return undefined;
        const block = { ...(data.content_block as Record<string, unknown>) };
        message.content[data.index as number] = block;
        // A server-side model fallback (beta): the content after it comes from `to.model`, and the API's JSON
        // answer (and the SDK's BetaMessageStream) names that model.
        if (block.type === 'fallback') {
          const to = block.to as { model?: unknown } | null | undefined;
          if (typeof to?.model === 'string') message.model = to.model;
        }
        break;
      }
      case 'content_block_delta': {
        const block = message?.content[data.index as number];
        if (!block) return undefined;
        applyDelta(block, data.delta as Record<string, unknown>, data.index as number, partialJson);
        break;
      }
      case 'content_block_stop': {
        const idx = data.index as number;
        const block = message?.content[idx];
        const json = partialJson.get(idx);
        if (block && json !== undefined) {
          try {
            block.input = json.length > 0 ? JSON.parse(json) : {};
          } catch {
            return undefined;
          }
        }
        break;
      }
      case 'message_delta': {
        if (!message) return undefined;
        const delta = (data.delta ?? {}) as Record<string, unknown>;
        // As the SDK: a null container means "none new", not "none" (the one message_start named stays).
        for (const [k, v] of Object.entries(delta)) if (k !== 'container' || v !== null) message[k] = v;
        if (data.usage) {
          // Cumulative counters, omitted or null when they do not apply: a null never erases a message_start count.
          const usage = { ...(message.usage ?? {}) };
          for (const [k, v] of Object.entries(data.usage as Record<string, unknown>))
            if (v !== null) usage[k] = v;
          message.usage = usage;
        }
        // Fields beside delta and usage (beta: context_management, input_transformations) belong to the message.
        for (const [k, v] of Object.entries(data))
          if (k !== 'type' && k !== 'delta' && k !== 'usage' && v !== null && v !== undefined) message[k] = v;
        break;
      }
      case 'message_stop':
        stopped = true;
        break;
      case 'error':
        return undefined;
    }
  }
  return stopped ? message : undefined;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function applyDelta(
  block: Record<string, unknown>,
  delta: Record<string, unknown>,
  index: number,
  partialJson: Map<number, string>,
): void {
  switch (delta.type) {
    case 'text_delta':
      block.text = str(block.text) + str(delta.text);
      break;
    case 'input_json_delta':
      partialJson.set(index, (partialJson.get(index) ?? '') + str(delta.partial_json));
      break;
    case 'thinking_delta':
      block.thinking = str(block.thinking) + str(delta.thinking);
      break;
    case 'signature_delta':
      block.signature = delta.signature;
      break;
    case 'citations_delta': {
      const list = Array.isArray(block.citations) ? (block.citations as unknown[]) : [];
      block.citations = [...list, delta.citation];
      break;
    }
    case 'compaction_delta':
      // A compaction block (beta) gets its final value in one delta: assigned, not appended.
      block.content = delta.content;
      if ('encrypted_content' in delta) block.encrypted_content = delta.encrypted_content;
      break;
  }
}

/**
 * Synthesises a valid SSE stream (protocol doc §2.2 grammar) from a final Message: message_start with empty
 * content, per block a start, one delta carrying the whole block, a stop, then message_delta and message_stop.
 */
export function sseFromMessage(message: MessageJson): string {
  const { content, stop_reason, stop_sequence, stop_details, usage, ...rest } = message;
  // The SDK takes stop_details from message_delta only (it overwrites the message's with the delta's, even when
  // the delta has none), as the API sends it; a field the message lacks (older API versions) stays absent.
  const stopDetails = stop_details === undefined ? {} : { stop_details };
  const parts: string[] = [];
  parts.push(
    formatSseEvent('message_start', {
      type: 'message_start',
      message: {
        ...rest,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...(stop_details === undefined ? {} : { stop_details: null }),
        usage: { ...(usage ?? {}), output_tokens: 0 },
      },
    }),
  );
  content.forEach((block, index) => {
    const { start, deltas } = splitBlock(block);
    parts.push(
      formatSseEvent('content_block_start', { type: 'content_block_start', index, content_block: start }),
    );
    for (const delta of deltas) {
      parts.push(formatSseEvent('content_block_delta', { type: 'content_block_delta', index, delta }));
    }
    parts.push(formatSseEvent('content_block_stop', { type: 'content_block_stop', index }));
  });
  parts.push(
    formatSseEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop_reason ?? null, stop_sequence: stop_sequence ?? null, ...stopDetails },
      usage: usage ?? {},
    }),
  );
  parts.push(formatSseEvent('message_stop', { type: 'message_stop' }));
  return parts.join('');
}

function splitBlock(block: Record<string, unknown>): {
  start: Record<string, unknown>;
  deltas: Array<Record<string, unknown>>;
} {
  switch (block.type) {
    case 'text': {
      const { text, citations, ...start } = block;
      const deltas: Array<Record<string, unknown>> = [{ type: 'text_delta', text: text ?? '' }];
      if (Array.isArray(citations))
        for (const citation of citations) deltas.push({ type: 'citations_delta', citation });
      // The SDK only creates `citations` from a citations_delta: a `null` or `[]` the answer carries must come in
      // the start event, or the replayed block lacks a field the SDK's types say is always there.
      if (citations !== undefined) start.citations = Array.isArray(citations) ? [] : citations;
      return { start: { ...start, text: '' }, deltas };
    }
    case 'tool_use':
    case 'server_tool_use': {
      const { input, ...start } = block;
      return {
        start: { ...start, input: {} },
        deltas: [{ type: 'input_json_delta', partial_json: JSON.stringify(input ?? {}) }],
      };
    }
    case 'thinking': {
      const { thinking, signature, ...start } = block;
      const deltas: Array<Record<string, unknown>> = [{ type: 'thinking_delta', thinking: thinking ?? '' }];
      if (signature !== undefined) deltas.push({ type: 'signature_delta', signature });
      return { start: { ...start, thinking: '', signature: '' }, deltas };
    }
    default:
      // redacted_thinking and server-tool result blocks arrive whole in their start event.
      return { start: block, deltas: [] };
  }
}
