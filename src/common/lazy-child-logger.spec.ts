import pino from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { LazyChildLogger } from './lazy-child-logger';

function capture(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const root = pino({ level }, stream);
  return { root, lines };
}

describe('LazyChildLogger', () => {
  it('makes no child until something is logged', () => {
    const { root } = capture();
    const spy = vi.spyOn(root, 'child');
    const log = new LazyChildLogger(root, { request_id: 'r-1' }, {});
    expect(log.level).toBe('info');
    expect(spy).not.toHaveBeenCalled();
  });

  it('writes the same line the eager child would, request id included', async () => {
    const { root, lines } = capture();
    new LazyChildLogger(root, { request_id: 'r-2' }, {}).warn({ provider: 'a' }, 'upstream attempt failed');
    root.child({ request_id: 'r-2' }).warn({ provider: 'a' }, 'upstream attempt failed');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(2);
    const [lazy, eager] = lines.map(({ time: _t, ...rest }) => rest);
    expect(lazy).toEqual(eager);
    expect(lazy).toMatchObject({ request_id: 'r-2', provider: 'a', msg: 'upstream attempt failed' });
  });

  it('drops lines below the level without building the child', async () => {
    const { root, lines } = capture('warn');
    const spy = vi.spyOn(root, 'child');
    const log = new LazyChildLogger(root, { request_id: 'r-3' }, {});
    log.info('not written');
    log.debug({ a: 1 }, 'not written');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(0);
    expect(spy).not.toHaveBeenCalled();
  });

  it('keeps the request id on grandchildren and honours a level set on it', async () => {
    const { root, lines } = capture();
    const log = new LazyChildLogger(root, { request_id: 'r-4' }, {});
    log.level = 'debug';
    log.debug('now written');
    log.child({ phase: 'stream' }).info('nested');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.request_id, l.msg])).toEqual([
      ['r-4', 'now written'],
      ['r-4', 'nested'],
    ]);
    expect(lines[1]).toMatchObject({ phase: 'stream' });
  });
});
