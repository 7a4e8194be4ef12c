import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AccessLog, type AccessEntry } from './access-log';

function captured(options: pino.LoggerOptions = {}): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  // A fixed clock, so pino's own line and ours can be compared byte for byte.
  return { logger: pino({ timestamp: () => ',"time":1700000000000', ...options }, stream), lines };
}

const entry: AccessEntry = {
  requestId: 'req-1',
  method: 'POST',
  route: '/v1/messages',
  status: 200,
  ms: 12.345,
  aborted: false,
};

describe('AccessLog', () => {
  it('writes byte for byte the line pino writes for the same fields', async () => {
    const ours = captured();
    new AccessLog(ours.logger).write(entry);
    const theirs = captured();
    theirs.logger.info(
      { request_id: 'req-1', method: 'POST', route: '/v1/messages', status: 200, ms: 12.3, aborted: false },
      'request',
    );
    await new Promise((r) => setImmediate(r));
    expect(ours.lines).toHaveLength(1);
    expect(ours.lines[0]).toBe(theirs.lines[0]);
    expect(JSON.parse(ours.lines[0]!)).toMatchObject({
      level: 30,
      pid: process.pid,
      msg: 'request',
      ms: 12.3,
    });
  });

  it('adds the path of an unmatched request, as pino would', async () => {
    const ours = captured();
    new AccessLog(ours.logger).write({ ...entry, route: 'unmatched', path: '/v1/v1/messages', status: 404 });
    const theirs = captured();
    theirs.logger.info(
      {
        request_id: 'req-1',
        method: 'POST',
        route: 'unmatched',
        path: '/v1/v1/messages',
        status: 404,
        ms: 12.3,
        aborted: false,
      },
      'request',
    );
    await new Promise((r) => setImmediate(r));
    expect(ours.lines[0]).toBe(theirs.lines[0]);
  });

  it('escapes what it interpolates, so the line stays valid JSON', async () => {
    const { logger, lines } = captured();
    new AccessLog(logger).write({ ...entry, requestId: 'a"b\\c\n', route: 'unmatched', aborted: true });
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(lines[0]!)).toMatchObject({
      request_id: 'a"b\\c\n',
      route: 'unmatched',
      aborted: true,
    });
  });

  it('writes nothing when info is not enabled', async () => {
    const { logger, lines } = captured({ level: 'warn' });
    new AccessLog(logger).write(entry);
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]);
  });

  it('goes through pino itself when the logger has a mixin (whose fields must appear)', async () => {
    const { logger, lines } = captured({ mixin: () => ({ zone: 'eu-1' }) });
    new AccessLog(logger).write(entry);
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(lines[0]!)).toMatchObject({ zone: 'eu-1', request_id: 'req-1', msg: 'request' });
  });

  it('says how a cut stream ended, as pino would, and calls it aborted', async () => {
    const streamEnd = {
      stream_end: 'upstream_error' as const,
      reason: 'the upstream closed the "connection"',
    };
    const ours = captured();
    new AccessLog(ours.logger).write({ ...entry, streamEnd });
    const theirs = captured();
    theirs.logger.info(
      {
        request_id: 'req-1',
        method: 'POST',
        route: '/v1/messages',
        status: 200,
        ms: 12.3,
        aborted: true,
        stream_end: 'upstream_error',
        reason: 'the upstream closed the "connection"',
      },
      'request',
    );
    await new Promise((r) => setImmediate(r));
    expect(ours.lines[0]).toBe(theirs.lines[0]);
    const viaPino = captured({ mixin: () => ({}) });
    new AccessLog(viaPino.logger).write({ ...entry, streamEnd });
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(viaPino.lines[0]!)).toMatchObject({ aborted: true, ...streamEnd });
  });

  it('uses the message key the logger was built with', async () => {
    const { logger, lines } = captured({ messageKey: 'message' });
    new AccessLog(logger).write(entry);
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(lines[0]!)).toMatchObject({ message: 'request' });
  });
});
