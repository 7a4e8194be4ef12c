import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchedLogStream, type LogBatchOptions } from './batched-log-stream';

function sink(pending = 0) {
  const writes: string[] = [];
  return {
    writes,
    sink: {
      write(s: string) {
        writes.push(s);
        return true;
      },
      writableLength: pending,
    },
  };
}

const options: LogBatchOptions = { maxBytes: 20, maxDelayMs: 100, maxPendingBytes: 1000 };

describe('BatchedLogStream', () => {
  afterEach(() => vi.useRealTimers());

  it('holds lines until a batch is full, then writes them as one chunk, in order', () => {
    const { writes, sink: s } = sink();
    const stream = new BatchedLogStream(s, options);
    stream.write('line one\n');
    stream.write('line two\n');
    expect(writes).toEqual([]);
    stream.write('line three\n');
    expect(writes).toEqual(['line one\nline two\nline three\n']);
  });

  it('writes a partial batch once its first line has waited maxDelayMs', () => {
    vi.useFakeTimers();
    const { writes, sink: s } = sink();
    const stream = new BatchedLogStream(s, options);
    stream.write('a\n');
    vi.advanceTimersByTime(60);
    stream.write('b\n');
    vi.advanceTimersByTime(39);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(writes).toEqual(['a\nb\n']);
    stream.write('c\n');
    vi.advanceTimersByTime(100);
    expect(writes).toEqual(['a\nb\n', 'c\n']);
  });

  it('flushSync writes what it holds at once (for exit)', () => {
    const { writes, sink: s } = sink();
    const stream = new BatchedLogStream(s, options);
    stream.write('last words\n');
    stream.flushSync();
    expect(writes).toEqual(['last words\n']);
    stream.flushSync();
    expect(writes).toHaveLength(1);
  });

  it('drops batches while the sink is not keeping up, and says how many lines were lost once it is', () => {
    const state = sink(5000);
    const stream = new BatchedLogStream(state.sink, options);
    stream.write('lost one\n');
    stream.write('lost two\n');
    stream.write('lost three\n');
    expect(state.writes).toEqual([]);
    expect(stream.dropped).toBe(3);
    state.sink.writableLength = 0;
    stream.write('kept\n');
    stream.flushSync();
    expect(state.writes).toHaveLength(1);
    const [notice, kept] = state.writes[0]!.split('\n');
    expect(JSON.parse(notice!)).toMatchObject({
      level: 40,
      msg: '3 log lines dropped: the log output was not keeping up',
    });
    expect(kept).toBe('kept');
    expect(stream.dropped).toBe(3);
  });
});
