import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, SseScanner, type SseEvent } from '../../protocol/sse-scanner';
import { EventNames, EventScanner } from './event-scanner';

const NAMES = new EventNames(['message_start', 'message_delta', 'message_stop', 'error', 'b', 'message']);
const named = (name: string) => (NAMES.names.includes(name) ? name : undefined);

/** Scans `pieces` with an EventScanner; returns the events and each piece's event end. */
function scanAll(pieces: Buffer[], keep: (name: string | undefined) => boolean = () => true, names = NAMES) {
  const events: Array<{ event: string | undefined; data: string }> = [];
  const scanner = new EventScanner(
    {
      keepsDataOf: keep,
      onEvent: (event, data) => {
        events.push({ event, data });
        return true;
      },
    },
    names,
  );
  const ends = pieces.map((p) => scanner.scan(p));
  return { events, ends };
}

/** The same through the general SseScanner, the grammar's reference (names not among NAMES: undefined). */
function reference(pieces: Buffer[], keep: (name: string | undefined) => boolean = () => true) {
  const scanner = new SseScanner((name) => keep(named(name)));
  const events: SseEvent[] = [];
  const ends = pieces.map((p) => {
    events.push(...scanner.push(p));
    return scanner.lastEventEnd;
  });
  return { events: events.map((e) => ({ event: named(e.event), data: e.data })), ends };
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
    const keeps = [() => true, (n: string | undefined) => n === 'message_delta' || n === 'error'];
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

  it('skips the data of events the sink does not read, and names only the events among its names', () => {
    const { events } = scanAll(
      [
        Buffer.from(
          'event: content_block_delta\ndata: {"text":"hi"}\n\nevent: message_delta\ndata: {"u":1}\n\n' +
            'event: message_deltb\ndata: {}\n\nevent: message_star\ndata: {}\n\n',
        ),
      ],
      (name) => name === 'message_delta',
    );
    expect(events).toEqual([
      { event: undefined, data: '' },
      { event: 'message_delta', data: '{"u":1}' },
      { event: undefined, data: '' },
      { event: undefined, data: '' },
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
    const scanner = new EventScanner(
      {
        keepsDataOf: () => false,
        onEvent: (name) => {
          seen.push(String(name));
          return name !== 'error';
        },
      },
      new EventNames(['ping', 'error']),
    );
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

  it('reports an event without an event field as `message` only when that is one of the names', () => {
    const chunk = [Buffer.from('data: x\n\n')];
    expect(scanAll(chunk).events).toEqual([{ event: 'message', data: 'x' }]);
    expect(scanAll(chunk, () => true, new EventNames(['error'])).events).toEqual([
      { event: undefined, data: 'x' },
    ]);
  });
});
