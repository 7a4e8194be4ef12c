import { describe, expect, it } from 'vitest';
import { BatchedLogStream } from './batched-log-stream';

function sink() {
  const writes: string[] = [];
  let flushed = 0;
  return {
    writes,
    flushes: () => flushed,
    dest: {
      write(s: string) {
        writes.push(s);
        return true;
      },
      flushSync() {
        flushed++;
      },
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('BatchedLogStream', () => {
  it('hands the lines of one event-loop turn on as one write, in order', async () => {
    const { writes, dest } = sink();
    const stream = new BatchedLogStream(dest);
    stream.write('a\n');
    stream.write('b\n');
    stream.write('c\n');
    expect(writes).toEqual([]);
    await turn();
    expect(writes).toEqual(['a\nb\nc\n']);
    stream.write('d\n');
    await turn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('does not hold more than 256 lines waiting for the end of the turn', () => {
    const { writes, dest } = sink();
    const stream = new BatchedLogStream(dest);
    for (let i = 0; i < 600; i++) stream.write(`${i}\n`);
    expect(writes).toHaveLength(2);
    expect(writes.join('').split('\n')).toHaveLength(513);
  });

  it('flushSync hands on what it holds and flushes the destination (for exit)', () => {
    const { writes, dest, flushes } = sink();
    const stream = new BatchedLogStream(dest);
    stream.write('last words\n');
    stream.flushSync();
    expect(writes).toEqual(['last words\n']);
    expect(flushes()).toBe(1);
  });
});
