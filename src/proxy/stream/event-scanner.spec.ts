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

  describe('skimming (skimFromNow)', () => {
    const NEEDLES = [Buffer.from('ge_'), Buffer.from('rror')];
    /** The events skimming must report: those among the names read after the commit. */
    const READ = new Set(['message_start', 'message_delta', 'message_stop', 'error']);
    const frame = (name: string, data: string) => `event: ${name}\ndata: ${data}\n\n`;
    const delta = (text: string) =>
      frame('content_block_delta', JSON.stringify({ type: 'content_block_delta', delta: { text } }));
    const deltas = (n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => delta(`token ${from + i} of a long answer `)).join('');
    // Over SKIM_MIN_BYTES in most cuts; needles in the text (an error, a message_ name); a comment, a ping,
    // extra blank lines, an event without a name, a CRLF part (line by line again) and each event read.
    const STREAM =
      deltas(12) +
      delta('handle the error in message_delta here') +
      ': comment\n\n' +
      frame('ping', '{}') +
      '\n\n' +
      frame('message_start', '{"model":"late"}') +
      deltas(12, 20) +
      'data: unnamed\n\n' +
      frame('error', '{"type":"error","error":{"type":"overloaded_error"}}') +
      deltas(3, 40).replace(/\n/g, '\r\n') +
      deltas(12, 50) +
      frame('message_delta', '{"usage":{"output_tokens":9}}') +
      frame('message_stop', '{}');

    function run(pieces: Buffer[], skim: 'never' | 'first' | 'at-fifth-event') {
      const events: Array<{ event: string | undefined; data: string }> = [];
      let seen = 0;
      const scanner: EventScanner = new EventScanner(
        {
          keepsDataOf: (name) => name !== undefined && READ.has(name),
          onEvent: (event, data) => {
            if (++seen === 5 && skim === 'at-fifth-event') scanner.skimFromNow(NEEDLES);
            if (event !== undefined && READ.has(event)) events.push({ event, data });
            return true;
          },
        },
        new EventNames([...READ, 'ping']),
      );
      if (skim === 'first') scanner.skimFromNow(NEEDLES);
      const ends = pieces.map((p) => scanner.scan(p));
      return { events, ends };
    }

    it('reports the events read after the commit and the same event ends as the line scan, cut anywhere', () => {
      const bytes = Buffer.from(STREAM);
      expect(bytes.length).toBeGreaterThan(3 * 1024);
      const whole = run([bytes], 'never');
      expect(whole.events.map((e) => e.event)).toEqual([
        'message_start',
        'error',
        'message_delta',
        'message_stop',
      ]);
      for (const skim of ['first', 'at-fifth-event'] as const) {
        expect(run([bytes], skim)).toEqual(whole);
        for (let a = 1; a < bytes.length; a += 7) {
          const two = [bytes.subarray(0, a), bytes.subarray(a)];
          expect(run(two, skim)).toEqual(run(two, 'never'));
          const b = Math.min(bytes.length - 1, a + 1500);
          const three = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
          expect(run(three, skim)).toEqual(run(three, 'never'));
        }
      }
    });

    it('never reads an event whose bytes hold no needle', () => {
      const names: Array<string | undefined> = [];
      const scanner = new EventScanner(
        {
          keepsDataOf: () => true,
          onEvent: (event) => {
            names.push(event);
            return true;
          },
        },
        new EventNames([...READ, 'ping']),
      );
      scanner.skimFromNow(NEEDLES);
      // The stream's first bytes are read line by line (a byte order mark may lead them).
      scanner.scan(Buffer.from(frame('ping', '{}')));
      scanner.scan(
        Buffer.from(deltas(20) + frame('ping', '{}') + delta('an error') + frame('message_stop', '{}')),
      );
      // The delta holding "error" is read (and reported unnamed); the other deltas and the ping are not.
      expect(names).toEqual(['ping', undefined, 'message_stop']);
    });

    it('refuses a needle that could hold or cross a line end', () => {
      const scanner = new EventScanner({ keepsDataOf: () => false, onEvent: () => true }, NAMES);
      expect(() => scanner.skimFromNow([Buffer.from('a\n')])).toThrow(/needle/);
      expect(() => scanner.skimFromNow([Buffer.alloc(0)])).toThrow(/needle/);
    });
  });
});
