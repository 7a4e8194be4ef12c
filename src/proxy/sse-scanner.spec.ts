import { describe, expect, it } from 'vitest';
import { formatSseEvent, SseScanner } from './sse-scanner';

describe('SseScanner', () => {
  it('parses events split anywhere across chunks, with \\n, \\r\\n or \\r line ends and a BOM', () => {
    const text =
      '\uFEFFevent: a\r\ndata: {"x":1}\r\n\r\n: comment\nevent: b\rdata: 1\rdata: 2\r\revent: c\ndata: é\n\n';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = new SseScanner();
      const events = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      expect(events).toEqual([
        { event: 'a', data: '{"x":1}' },
        { event: 'b', data: '1\n2' },
        { event: 'c', data: 'é' },
      ]);
    }
  });

  it('holds an event until its blank line arrives', () => {
    const s = new SseScanner();
    expect(s.push(Buffer.from('event: ping\ndata: {}\n'))).toEqual([]);
    expect(s.push(Buffer.from('\n'))).toEqual([{ event: 'ping', data: '{}' }]);
  });

  it('formats events the way Anthropic writes them', () => {
    expect(formatSseEvent('error', { type: 'error' })).toBe('event: error\ndata: {"type":"error"}\n\n');
  });
});

describe('SseScanner with keepData', () => {
  it('reports skipped events by name only and keeps the data of the others, across any split', () => {
    const text =
      'event: message_start\ndata: {"usage":{"input_tokens":3}}\n\n' +
      'event: content_block_delta\ndata: {"delta":{"text":"hi"}}\n\n' +
      'data: bare\n\n' +
      'event: message_delta\ndata: {"usage":{"output_tokens":1}}\n\n';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = new SseScanner((name) => name !== 'content_block_delta');
      const events = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      expect(events).toEqual([
        { event: 'message_start', data: '{"usage":{"input_tokens":3}}' },
        { event: 'content_block_delta', data: '' },
        { event: 'message', data: 'bare' },
        { event: 'message_delta', data: '{"usage":{"output_tokens":1}}' },
      ]);
    }
  });

  it('does not take a field whose name only starts like one', () => {
    const s = new SseScanner();
    expect(s.push(Buffer.from('datum: x\nevents: y\ndata\nevent\n\n'))).toEqual([
      { event: 'message', data: '' },
    ]);
  });
});
