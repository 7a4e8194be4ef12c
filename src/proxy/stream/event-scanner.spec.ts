import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, SseScanner, type SseEvent } from '../sse-scanner';
import { EventScanner } from './event-scanner';

/** Scans `pieces` with an EventScanner; returns the events and each piece's event end. */
function scanAll(pieces: Buffer[], keep: (name: string) => boolean = () => true) {
  const events: SseEvent[] = [];
  const scanner = new EventScanner({
    keepsDataOf: keep,
    onEvent: (event, data) => {
      events.push({ event, data });
      return true;
    },
  });
  const ends = pieces.map((p) => scanner.scan(p));
  return { events, ends };
}

/** The same through the general SseScanner, the grammar's reference. */
function reference(pieces: Buffer[], keep: (name: string) => boolean = () => true) {
  const scanner = new SseScanner(keep);
  const events: SseEvent[] = [];
  const ends = pieces.map((p) => {
    events.push(...scanner.push(p));
    return scanner.lastEventEnd;
  });
  return { events, ends };
}

const TRICKY =
  '\uFEFFevent: message_start\r\ndata: {"x":1}\r\n\r\n: comment\nevent: b\rdata: 1\rdata: 2\r\r' +
  'event: content_block_delta\ndata: é\n\n' +
  'data: bare\n\n' +
  'datum: x\nevents: y\ndata\nevent\n\n' +
  'data: before the name\nevent: message_delta\ndata: {"usage":{"output_tokens":1}}\n\n' +
  'event: événement\ndata: z\n\n\n\n' +
  'event:error\ndata:{"e":1}\n\n';

describe('EventScanner', () => {
  it('reads what SseScanner reads, split anywhere in two or three pieces, with any data kept or skipped', () => {
    const bytes = Buffer.from(TRICKY);
    const keeps = [() => true, (n: string) => n === 'message_delta' || n === 'error'];
    for (const keep of keeps) {
      for (let a = 1; a < bytes.length; a++) {
        const two = [bytes.subarray(0, a), bytes.subarray(a)];
        expect(scanAll(two, keep)).toEqual(reference(two, keep));
        const b = Math.min(bytes.length - 1, a + 7);
        const three = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
        expect(scanAll(three, keep)).toEqual(reference(three, keep));
      }
    }
  });

  it('skips the data of events the sink does not read, and names the others', () => {
    const { events } = scanAll(
      [
        Buffer.from(
          'event: content_block_delta\ndata: {"text":"hi"}\n\nevent: message_delta\ndata: {"u":1}\n\n',
        ),
      ],
      (name) => name === 'message_delta',
    );
    expect(events).toEqual([
      { event: 'content_block_delta', data: '' },
      { event: 'message_delta', data: '{"u":1}' },
    ]);
  });

  it('tells where the last whole event of a chunk ends, or -1', () => {
    const { ends } = scanAll([
      Buffer.from('event: ping\ndata: {}\n\nevent: ping\nda'),
      Buffer.from('ta: {}\n'),
      Buffer.from('\n'),
    ]);
    expect(ends).toEqual([22, -1, 1]);
  });

  it('stops at the event the sink refuses: later events of the chunk are not reported', () => {
    const seen: string[] = [];
    const scanner = new EventScanner({
      keepsDataOf: () => false,
      onEvent: (name) => {
        seen.push(name);
        return name !== 'error';
      },
    });
    scanner.scan(Buffer.from('event: ping\ndata: {}\n\nevent: error\ndata: {}\n\nevent: ping\ndata: {}\n\n'));
    expect(seen).toEqual(['ping', 'error']);
  });

  it('does not hold a line longer than MAX_LINE_BYTES, and reads on after it', () => {
    const long = Buffer.alloc(MAX_LINE_BYTES + 10, 0x61);
    const { events } = scanAll([
      Buffer.from('data: '),
      long,
      long,
      Buffer.from('\nevent: message_stop\ndata: {}\n\n'),
    ]);
    expect(events).toEqual([{ event: 'message_stop', data: '{}' }]);
  });
});
