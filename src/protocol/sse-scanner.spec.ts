import { describe, expect, it } from 'vitest';
import { parseSse } from '../../test/fakes/sse-parse';
import { formatSseEvent, MAX_LINE_BYTES, SseScanner } from './sse-scanner';

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

describe('SseScanner fed in pieces', () => {
  const text =
    '\uFEFFevent: a\r\ndata: {"x":"日本"}\r\n\r\n: comment\nevent: b\rdata: 1\rdata: 2\r\revent: c\ndata: é\n\n';
  const expected = [
    { event: 'a', data: '{"x":"日本"}' },
    { event: 'b', data: '1\n2' },
    { event: 'c', data: 'é' },
  ];

  it('gives the same events fed one byte at a time (multi-byte characters and the BOM cut too)', () => {
    const s = new SseScanner();
    const bytes = Buffer.from(text);
    const events = [];
    for (let i = 0; i < bytes.length; i++) events.push(...s.push(bytes.subarray(i, i + 1)));
    expect(events).toEqual(expected);
  });

  it('gives the same events for every cut into three pieces', () => {
    const bytes = Buffer.from(text);
    for (let a = 1; a < bytes.length; a += 3) {
      for (let b = a + 1; b < bytes.length; b += 2) {
        const s = new SseScanner();
        const events = [
          ...s.push(bytes.subarray(0, a)),
          ...s.push(bytes.subarray(a, b)),
          ...s.push(bytes.subarray(b)),
        ];
        expect(events).toEqual(expected);
      }
    }
  });

  it('does not keep a reference to the chunks it was given (the caller may reuse them)', () => {
    const s = new SseScanner();
    const chunk = Buffer.from('event: a\ndata: 12');
    expect(s.push(chunk)).toEqual([]);
    chunk.fill(0x78); // "xxxx…": the held partial line must be a copy
    expect(s.push(Buffer.from('3\n\n'))).toEqual([{ event: 'a', data: '123' }]);
  });

  it('takes a stream that starts with bytes like a BOM but is not one', () => {
    const s = new SseScanner();
    expect(s.push(Buffer.from([0xef]))).toEqual([]); // could still be a BOM
    expect(s.push(Buffer.from('\ndata: y\n\n'))).toEqual([{ event: 'message', data: 'y' }]);
  });
});

describe('SseScanner memory bound', () => {
  it('drops a line longer than MAX_LINE_BYTES and reads the events after it', () => {
    const s = new SseScanner();
    expect(s.push(Buffer.from('event: a\ndata: '))).toEqual([]);
    const piece = Buffer.alloc(1024 * 1024, 0x78);
    for (let i = 0; i < 5; i++) expect(s.push(piece)).toEqual([]);
    // The over-long data line is ignored; the event still ends at its blank line, without that data.
    expect(s.push(Buffer.from('\n\nevent: b\ndata: ok\n\n'))).toEqual([
      { event: 'a', data: '' },
      { event: 'b', data: 'ok' },
    ]);
    expect(MAX_LINE_BYTES).toBeLessThan(5 * 1024 * 1024);
  });
});

describe('SseScanner lastEventEnd', () => {
  it('is the end of the last blank line in the chunk, for \\n, \\r\\n and \\r line ends', () => {
    const s = new SseScanner();
    const lf = 'event: a\ndata: 1\n\n';
    s.push(Buffer.from(lf));
    expect(s.lastEventEnd).toBe(lf.length);
    const crlf = 'event: b\r\ndata: 2\r\n\r\n';
    s.push(Buffer.from(`${crlf}event: c\r\ndata`));
    expect(s.lastEventEnd).toBe(crlf.length);
    const cr = ': 3\r\r';
    s.push(Buffer.from(`${cr}event: d\rda`));
    expect(s.lastEventEnd).toBe(cr.length);
  });

  it('is -1 for a chunk that ends no event, and counts comment-only blocks as ends', () => {
    const s = new SseScanner();
    s.push(Buffer.from('event: a\ndata: {"half'));
    expect(s.lastEventEnd).toBe(-1);
    s.push(Buffer.from('": 1}\n'));
    expect(s.lastEventEnd).toBe(-1);
    const comment = '\n: keep-alive\n\n';
    s.push(Buffer.from(comment));
    expect(s.lastEventEnd).toBe(comment.length);
  });

  it('counts in the chunk it was given when a BOM arrived split before it', () => {
    const s = new SseScanner();
    s.push(Buffer.from([0xef, 0xbb]));
    expect(s.lastEventEnd).toBe(-1);
    s.push(Buffer.concat([Buffer.from([0xbf]), Buffer.from('data: x\n\n')]));
    expect(s.lastEventEnd).toBe(10);
  });

  it('always cuts where an appended event reads whole to an SDK-like parser: every split, every line end', () => {
    const text =
      '\uFEFFevent: a\r\ndata: {"x":"日本"}\r\n\r\n: comment\nevent: b\rdata: 1\rdata: 2\r\revent: c\ndata: é\n\n';
    const bytes = Buffer.from(text);
    const error = Buffer.from('event: error\ndata: {"type":"error"}\n\n');
    for (let a = 1; a < bytes.length; a++) {
      for (const b of [a + 1, a + 7, bytes.length]) {
        if (b > bytes.length) continue;
        const s = new SseScanner();
        let seen = 0;
        let safe = 0;
        for (const [from, to] of [
          [0, a],
          [a, b],
          [b, bytes.length],
        ] as const) {
          if (from === to) continue;
          seen += s.push(bytes.subarray(from, to)).length;
          if (s.lastEventEnd >= 0) safe = from + s.lastEventEnd;
          // What a relay would have sent if the stream broke here, then its own error event: every event seen
          // so far, intact, and the error event.
          const client = parseSse(Buffer.concat([bytes.subarray(0, safe), error]));
          expect(client.map((e) => e.event)).toEqual([...['a', 'b', 'c'].slice(0, seen), 'error']);
          expect(client.at(-1)?.data).toEqual({ type: 'error' });
        }
      }
    }
  });
});
